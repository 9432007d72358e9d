"""In a real browser at 1280x720: the convolution explorer in projector mode reads from the
back of a room. Charts one per row at the page's width, chart text 20 px or more, no label
cut, the sidebar folded away; photographed in test-artifacts/screenshots/projector-*."""

from __future__ import annotations

import pytest

from tests.browser import SCREENSHOTS, browser_page, chromium_path, served_app, settle
from tests.test_browser_layout import CUT_TEXT, SMALL_CHART_TEXT, TEXT_HOLDERS

pytestmark = pytest.mark.browser

CHART_BOXES = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => {
  const box = plot.getBoundingClientRect(); return [box.left, box.top, box.width, box.height];
})"""
MAIN_WIDTH = """() => document.querySelector('[data-testid="stMainBlockContainer"]').clientWidth"""
SIDEBAR_OPEN = """() => { const bar = document.querySelector('[data-testid="stSidebar"]');
  return !!bar && bar.getAttribute('aria-expanded') === 'true'; }"""


def test_the_explorer_in_projector_mode_at_1280x720(tmp_path):
    chromium_path()
    home = tmp_path / "runs"
    home.mkdir()
    with served_app(home) as url, browser_page(1280, 720) as page:
        page.goto(f"{url}/Convolutions?present=1")
        page.wait_for_selector('[class*="st-key-convolution_feature"] .js-plotly-plot', timeout=120_000)
        page.wait_for_selector('[class*="st-key-convolution_pooled"] .js-plotly-plot', timeout=60_000)
        settle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "projector-convolutions-1280x720.png"))
        assert not page.evaluate(SIDEBAR_OPEN), "the sidebar should start folded in projector mode"
        boxes = page.evaluate(CHART_BOXES)
        assert len(boxes) == 4, boxes
        tops = [box[1] for box in boxes]
        assert len(set(round(top) for top in tops)) == 4, f"charts share a row: {boxes}"
        main = page.evaluate(MAIN_WIDTH)
        assert all(box[2] >= 0.8 * main - 60 for box in boxes), (boxes, main)
        cut = page.evaluate(CUT_TEXT, TEXT_HOLDERS)
        assert not cut, cut
        text = page.evaluate(SMALL_CHART_TEXT, 20)
        assert text["texts"] >= 4 and not text["bad"], text
        # Scrolled to the numbers: the formula and the counts, in large type.
        page.get_by_text("Parameters and multiply-adds of a conv layer").scroll_into_view_if_needed()
        settle(page)
        page.screenshot(path=str(SCREENSHOTS / "projector-convolutions-numbers-1280x720.png"))
        size = page.evaluate("""() => parseFloat(getComputedStyle(
            document.querySelector('[data-testid="stMarkdownContainer"] li')).fontSize)""")
        assert size >= 21, size
