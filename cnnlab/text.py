"""Text stays text: user, upload and store strings shown literally in Markdown and in charts.

Why: the lab runs on one server for a whole class, and names come from strangers (class
folders of an uploaded zip, run names, display names, links, imported configs). Streamlit
renders Markdown (and, in it, images, links and a few HTML-ish forms) in `st.markdown`,
captions, headers, alerts and widget labels; Plotly renders a subset of HTML (`<a href>`,
`<b>`, `<br>`, `<span style>`) in titles, tick labels, legends and hover text. A name that
reaches either unescaped can make every viewer's browser fetch an address or show a link
of the uploader's choosing. Every such string goes through `md` (Markdown) or `plot`
(Plotly) here; a test (tests/test_text_stays_text.py) keeps pages from forgetting.

Names are also checked where they enter (`check_name`): what people write is kept
(accents, spaces, CJK, emoji), but control characters, bidirectional overrides and
zero-width characters are refused, with the character and its place in the message.
"""

from __future__ import annotations

import html
import re
import unicodedata

# The ASCII punctuation that can start Markdown (CommonMark, GitHub's extensions,
# Streamlit's `:material/x:` icons, `:red[...]` colours and `$...$` LaTeX) or an entity
# (`&lt;`). A backslash before any ASCII punctuation renders that character alone.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|<>~:$&])")
# GitHub-flavoured Markdown turns "www.x", "https://x" and "ada@example.org" into links
# without any markup, and it looks for them in the text *after* escapes are resolved
# (mdast-util-gfm-autolink-literal), so a backslash does not stop it. A word joiner
# (U+2060: invisible, no width, no line break) inside each pattern does.
JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(www)(?=\.)|(:)(?=//)|(@)")
# Line breaks would start a new block (a heading, a list, a quote) in Markdown.
_NEWLINES = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")

# Characters a name may not hold: they hide or reorder what a reader sees.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F,
                          0x061C)}
_CONTROL_NAMES = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "CHARACTER TABULATION",
                  "\x00": "NULL", "\x07": "BELL", "\x1b": "ESCAPE", "\x85": "NEXT LINE"}
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"}


def md(value: object) -> str:
    """`value` as Markdown that renders as exactly its text (on one line).

    Backslash-escapes Markdown's punctuation (`<` and `>` included, so no HTML) and breaks
    autolinks (`www.`, `https://`, emails) with an invisible word joiner; line breaks
    become spaces. No image, link, heading, list, HTML or LaTeX comes out of it.
    Streamlit's `:material/...:` icons and `:red[...]` colours need `:` and `[`, both escaped.
    """
    text = _NEWLINES.sub(" ", str(value))
    text = _AUTOLINK.sub(lambda match: match.group(0) + JOINER, text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def plot(value: object) -> str:
    """`value` as Plotly label text that renders as exactly its text.

    Plotly reads titles, tick labels, legend entries and hover text as a subset of HTML
    (`<a href>`, `<b>`, `<br>`, `<span style>`, entities); escaped, `<b>` shows as `<b>`.
    Line breaks become spaces (Plotly ignores them anyway; `<br>` is its line break).
    """
    return html.escape(_NEWLINES.sub(" ", str(value)), quote=True)


def plot_all(values) -> list[str]:
    """`plot` of each of `values` (class names on an axis, run names in a legend)."""
    return [plot(value) for value in values]


def describe_char(char: str) -> str:
    """"U+202E (RIGHT-TO-LEFT OVERRIDE)": a character named, for an error message."""
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "a control character")
    return f"U+{ord(char):04X} ({name})"


def hidden_char(text: str) -> tuple[int, str] | None:
    """(position, character) of the first character `text` may not hold, or None.

    Refused: control characters (Unicode category Cc, tabs and newlines included; other
    format characters of category Cf are allowed, since emoji sequences and some scripts
    need a few), bidirectional embeddings, overrides, isolates and marks, and zero-width
    characters (which also hide inside names that look identical).
    """
    for at, char in enumerate(text):
        if unicodedata.category(char) == "Cc" or char in _BIDI or char in _ZERO_WIDTH:
            # A zero-width joiner between two emoji is how "family" emoji are written.
            if char == "\u200d" and 0 < at < len(text) - 1 and _is_emoji(text[at - 1]) \
                    and _is_emoji(text[at + 1]):
                continue
            return at, char
    return None


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F000 <= ord(char) <= 0x1FAFF


def check_name(text: str, *, what: str = "name", where: str = "") -> str:
    """`text` unchanged if it holds no hidden character; else a ValueError naming it.

    Args:
        text: the name (a class folder, a data set name, a run name).
        what: what it is, for the message ("class name").
        where: where it came from, for the message ("in the archive").
    """
    found = hidden_char(text)
    if found is None:
        return text
    at, char = found
    shown = text.encode("unicode_escape").decode("ascii")
    place = f" {where}" if where else ""
    raise ValueError(
        f"Invalid {what}{place}: {shown!r} holds the invisible character {describe_char(char)} "
        f"at position {at + 1}. Expected letters, digits, spaces, punctuation or emoji; control, "
        "bidirectional-override and zero-width characters hide or reorder what readers see. "
        "Rename it without that character.")


def code(value: object) -> str:
    """`value` as a Markdown code span: shown literally, in monospace, on one line.

    Inside a code span nothing is Markdown; the fence is one backtick longer than the
    longest run of backticks in `value`, so `value` cannot close it.
    """
    text = _NEWLINES.sub(" ", str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
