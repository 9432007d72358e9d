"""In a real browser: press Train with the defaults and watch the curves grow."""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    DEFAULT_TIMEOUT_MS,
    browser_page,
    chromium_path,
    screenshot,
    served_app,
    settle,
    wait_until_stable,
)

pytestmark = pytest.mark.browser

# The number of points in each trace of the training-curves chart.
TRACE_LENGTHS = """() => {
  const plot = document.querySelector('[class*="st-key-train_curves"] .js-plotly-plot');
  return plot && plot._fullData ? plot._fullData.map(t => t._length || 0) : null;
}"""


def test_training_the_default_experiment_shows_growing_curves(tmp_path):
    chromium_path()
    with served_app(tmp_path / "runs") as url, browser_page() as page:
        page.goto(f"{url}/Train")
        # Waits on what the page shows, however long a loaded machine takes (the browser
        # page's default timeout is minutes: tests/browser.py).
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector('[class*="st-key-train_curves"] .js-plotly-plot')
        # The first point is the untrained model's (epoch 0), before any batch is trained.
        page.wait_for_function(f"({TRACE_LENGTHS})()?.some(n => n > 0)")
        page.get_by_text(re.compile(r"Epoch \d+/\d+")).first.wait_for()
        first = page.evaluate(TRACE_LENGTHS)
        screenshot(page, "train-running")
        page.wait_for_function(
            f"(() => {{ const n = ({TRACE_LENGTHS})(); return n && n.reduce((a, b) => a + b, 0) > {sum(first)}; }})()")
        assert "run=" in page.url, "the URL carries the run id so a reload reattaches"
        # Closing the tab mid-run leaves the run training; a new tab (a new session) at
        # the same address reattaches to it and watches it go on.
        address, grown = page.url, page.evaluate(TRACE_LENGTHS)
        browser = page.context.browser
        page.close()  # a page of browser.new_page() closes its context (its session) too
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page.goto(address)
        page.wait_for_selector('[class*="st-key-train_curves"] .js-plotly-plot')
        page.wait_for_function(
            f"(() => {{ const n = ({TRACE_LENGTHS})(); return n && n.reduce((a, b) => a + b, 0) > {sum(grown)}; }})()")
        page.get_by_text(re.compile(r"status completed")).first.wait_for(timeout=300_000)
        page.wait_for_selector("text=Validation accuracy")
        settle(page)
        final = wait_until_stable(page, TRACE_LENGTHS)  # Plotly's last redraw is done
        screenshot(page, "train-completed")
        assert sum(final) > sum(first)
        # Reloading the page reattaches to the same run.
        page.reload()
        page.wait_for_selector("text=Validation accuracy")
        page.wait_for_selector('[class*="st-key-train_curves"] .js-plotly-plot')
        settle(page)
        assert wait_until_stable(page, TRACE_LENGTHS) == final
