"""Text stays text: the escaping helpers against a real Markdown renderer and Plotly's rules,
the name checks, and a static scan that keeps pages from forgetting them."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from cnnlab.text import JOINER, check_name, code, hidden_char, md, plot
from tests.hostile_names import NAMES, REFUSED, shown_literally, unescaped
from tests.markdown_scan import offenders

RENDERER = MarkdownIt("commonmark").enable("table").enable("strikethrough")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def rendered(markdown: str) -> tuple[list[str], str]:
    """(tags, text) of CommonMark's HTML for `markdown`."""
    parser = _Tags()
    parser.feed(RENDERER.render(markdown))
    return parser.tags, "".join(parser.text).strip().replace(JOINER, "")


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_md_renders_every_hostile_name_as_its_text(name):
    for context in ("{}", "**{}**", "Run {} is done.", "- {}", "P({}) · P({})"):
        tags, text = rendered(context.format(md(name), md(name)))
        assert set(tags) <= {"p", "strong", "ul", "li"}, (name, tags)
        expected = rendered(context.format("NAME", "NAME"))[1].replace("NAME", " ".join(name.split("\n")))
        assert text == expected.replace("\r", " ")


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_md_leaves_nothing_an_autolink_or_a_streamlit_directive_could_use(name):
    escaped = md(name)
    assert not re.search(r"(?<!\\)(:[a-z]+\[|:material/|\$)", escaped)
    # GitHub's autolink literals, looked for once escapes are resolved: none may match.
    resolved = unescaped(escaped)
    assert not re.search(r"(?i)https?://|www\.|[-.\w+]+@[-\w]+\.", resolved), resolved
    assert "\n" not in escaped
    assert shown_literally(name, escaped)


def test_md_of_a_plain_name_is_that_name():
    assert md("Café crème 蜜蜂 🐜") == "Café crème 蜜蜂 🐜"
    assert md("a_b [x](y) :material/home: 1.5") == "a\\_b \\[x\\]\\(y\\) \\:material/home\\: 1\\.5"


@pytest.mark.parametrize("value", ["a`b", "``", "run-1", "` edge `", "x\ny"])
def test_code_spans_cannot_be_closed_from_inside(value):
    tags, text = rendered(code(value))
    assert tags == ["p", "code"]
    assert text == value.replace("\n", " ")


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_plot_labels_carry_no_tag_and_read_back_as_the_name(name):
    label = plot(name)
    assert "<" not in label and ">" not in label and '"' not in label
    assert html.unescape(label) == name.replace("\n", " ").replace("\r", " ")


@pytest.mark.parametrize("name", REFUSED, ids=range(len(REFUSED)))
def test_hidden_characters_are_refused_with_which_and_where(name):
    at, char = hidden_char(name)
    with pytest.raises(ValueError, match=rf"U\+{ord(char):04X} .* at position {at + 1}"):
        check_name(name, what="class name")


def test_what_people_write_is_kept():
    for name in ("Café crème", "蜜蜂", "🐜 ants", "e\u0301cole", "👨\u200d👩\u200d👧 family", "x" * 200,
                 "![x](y)", "<b>bold</b>"):
        assert check_name(name) == name


def test_no_page_passes_a_value_to_markdown_without_the_helper(tmp_path):
    assert offenders() == []
    # The scan itself: each of these must be caught.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import streamlit as st\n"
        "st.subheader(f'{icon} {record.name}')\n"
        "st.error(str(error))\n"
        "st.caption(f'P({true_name})')\n"
        "col.image(x, caption=title)\n"
        "st.tabs([f'Run {name}'])\n"
        "st.progress(0.5, text=f'{label}: {words}')\n"
        "st.button(f'Train on {manifest.name}')\n"
        "(st.warning if diverged else st.error)(record.error)\n")
    assert len(offenders([bad])) == 8
    good = tmp_path / "good.py"
    good.write_text(
        "import streamlit as st\n"
        "st.subheader(f'{icon} {md(record.name)}')\n"
        "st.caption(f'{len(x)} runs, {share:.0%}, {count:d}')\n"
        "st.caption(', '.join(code(name) for name in names))\n"
        "logging.error(f'{name}')\n"
        "st.markdown(f'{x}')  # text: lab-written (a test of the allow-list)\n")
    assert offenders([good]) == []
