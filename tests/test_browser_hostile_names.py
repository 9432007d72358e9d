"""In a real browser: a data set imported with hostile class names and a run with a hostile
name make no element the lab did not write, and the names read literally.

The store is the one tests/test_hostile_names.py builds (a zip of class folders named after
a Markdown image, an HTML tag, a javascript: link and CJK words, imported for real; a run
named after a Markdown image and a <b> tag, with its validation predictions). The Train
page shows the run and its Confusion tab, whose caption under the chosen cell is where the
issue found two <img> elements; then the Data page lists the data set.
"""

from __future__ import annotations

import pytest

from tests.browser import browser_page, chromium_path, open_tab, screenshot, served_app, settle
from tests.test_hostile_names import CLASSES, RUN_NAME, make_lab

pytestmark = pytest.mark.browser

# Every attribute that fetches, links or runs something and points outside the lab (or
# any event handler): none may exist. (Plotly keeps a label's source text in its
# `data-unformatted` attribute: text, not a link, so not listed here.)
FOREIGN = """() => Array.from(document.querySelectorAll('*')).flatMap(el =>
  Array.from(el.attributes).filter(a => /^on/i.test(a.name)
    || (/^(src|href|xlink:href|srcset|action|formaction|poster|background|style)$/i.test(a.name)
        && /example\\.invalid|javascript:|^data:text/i.test(a.value)))
  .map(a => el.tagName + ' ' + a.name + '=' + a.value + ' in '
    + (el.closest('[data-testid]') || el).getAttribute('data-testid')))"""
# Whether the main area reads `name` (the autolink-breaking word joiners are invisible).
SHOWS = """(name) => (document.querySelector('[data-testid="stMain"]')?.innerText || '')
  .replaceAll('\\u2060', '').includes(name)"""
# Images and links in the page's main area, with where they point.
MEDIA = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] img, [data-testid="stMain"] a'))
  .map(el => el.tagName + ' ' + (el.getAttribute('src') || el.getAttribute('href') || ''))"""


def test_hostile_names_are_shown_literally_and_create_no_element(tmp_path, monkeypatch):
    chromium_path()
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "runs"))  # the data set registry reads it
    lab = make_lab(tmp_path / "runs")
    with served_app(lab["home"]) as url, browser_page(width=1280, height=1400) as page:
        page.goto(f"{url}/Train?run={lab['trained']}")
        page.wait_for_function(SHOWS, arg=RUN_NAME)
        open_tab(page, "Confusion")
        page.locator('[class*="st-key-train_confusion_"] .js-plotly-plot').wait_for()
        page.get_by_text("most confident first").first.wait_for()
        settle(page)
        # Read as a person does: the word joiners that break autolinks are invisible.
        body = page.inner_text('[data-testid="stMain"]').replace("\u2060", "")
        assert RUN_NAME in body
        assert any(f"of {name} " in body or f"P({name})" in body for name in CLASSES)
        ticks = page.evaluate("""() => Array.from(document.querySelectorAll(
          '[class*="st-key-train_confusion_"] .xtick text')).map(t => t.textContent)""")
        assert sorted(ticks) == sorted(CLASSES)  # the <img> tag is an axis label, as text
        assert page.evaluate(FOREIGN) == []
        media = page.evaluate(MEDIA)
        # Streamlit's own heading anchors ("#...") and images served from /media/ only.
        assert any(entry.startswith("IMG ") for entry in media), media
        assert all(entry.startswith(("A #", f"IMG {url}/media/", "IMG /media/")) for entry in media), media
        screenshot(page, "hostile_names_train")

        page.goto(f"{url}/Data")
        page.get_by_text("hostile", exact=True).first.wait_for()
        settle(page)
        assert CLASSES[1] in page.inner_text('[data-testid="stMain"]').replace("\u2060", "")
        assert page.evaluate(FOREIGN) == []
