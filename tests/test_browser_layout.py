"""In a real browser, at a projector's 1024x768 and 1280x720: every page reads.

Each page (home, Train with a finished run and its three tabs and its form, Augment with a
transform on, Compare with a comparison drawn, Data with an imported data set) is drawn at
both sizes, photographed (test-artifacts/screenshots/layout-*), and measured: no metric
label or value, button, tab, widget label or select box is cut (an element that clips its
content with its content wider than itself: "Validation ac…", "9…"), no tab list scrolls,
and no chart text is under 14 px or outside its chart.
"""

from __future__ import annotations

import time

import pytest

from tests.browser import SCREENSHOTS, browser_page, chromium_path, served_app

pytestmark = pytest.mark.browser

SIZES = ((1024, 768), (1280, 720))
SCRIPT_DONE = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState
  == 'notRunning' && !document.querySelector('[data-testid="stStatusWidget"]')"""
# What must never be cut, by CSS selector; everything inside each is measured too.
TEXT_HOLDERS = {
    "metric": '[data-testid="stMetric"]',
    "button": "button",
    "link": '[data-testid="stPageLink"]',
    "tab": '[role="tab"]',
    "label": '[data-testid="stWidgetLabel"]',
    "select box": '[data-testid="stSelectbox"]',
    "segmented control": '[data-testid="stButtonGroup"]',
    "expander": "summary",
    "heading": "h1, h2, h3",
}
CUT_TEXT = """(holders) => {
  const cut = [];
  for (const [what, selector] of Object.entries(holders)) {
    for (const root of document.querySelectorAll(selector)) {
      for (const element of [root, ...root.querySelectorAll('*')]) {
        if (!element.clientWidth) continue;  // not drawn: a closed tab or expander
        const style = getComputedStyle(element);
        const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
        if (clips && element.scrollWidth > element.clientWidth + 1) {
          cut.push(`${what} "${root.innerText.trim().replace(/\\s+/g, ' ').slice(0, 50)}": `
                   + `${element.scrollWidth} px of text in ${element.clientWidth} px`);
          break;
        }
      }
    }
  }
  for (const list of document.querySelectorAll('[role="tablist"]')) {
    if (list.clientWidth && list.scrollWidth > list.clientWidth + 1) {
      cut.push(`tab list "${list.innerText.replace(/\\s+/g, ' ')}" scrolls: ${list.scrollWidth} > ${list.clientWidth}`);
    }
  }
  return cut;
}"""
SMALL_CHART_TEXT = """(minimum) => {
  const bad = [];
  let texts = 0;
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    if (!box.width) continue;
    for (const text of plot.querySelectorAll('text')) {
      const style = getComputedStyle(text);
      const rect = text.getBoundingClientRect();
      if (!text.textContent.trim() || !rect.width || style.display === 'none'
          || style.visibility === 'hidden' || style.opacity === '0' || style.fillOpacity === '0'
          || style.fill === 'rgba(0, 0, 0, 0)') continue;
      texts += 1;
      const size = parseFloat(style.fontSize);
      if (size < minimum) bad.push(`"${text.textContent.slice(0, 30)}" at ${size} px`);
      if (rect.left < box.left - 2 || rect.right > box.right + 2) {
        bad.push(`"${text.textContent.slice(0, 30)}" outside its chart`);
      }
    }
  }
  return {texts, bad};
}"""


def _settle(page, extra: float = 0.8) -> None:
    time.sleep(0.4)
    page.wait_for_function(SCRIPT_DONE, timeout=90_000)
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=30_000)
    time.sleep(extra)  # Plotly's and the grid's last redraw


def _check(page, name: str, problems: list[str], *, charts: bool = False) -> None:
    """Photograph the page as the projector shows it and whole, and measure its text."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"layout-{name}-{width}x{height}.png"))
    problems += [f"{name} at {width}x{height}: {cut}" for cut in page.evaluate(CUT_TEXT, TEXT_HOLDERS)]
    if charts:
        result = page.evaluate(SMALL_CHART_TEXT, 14)
        assert result["texts"] > 10, f"{name}: no chart text drawn"
        problems += [f"{name} at {width}x{height}: chart text {bad}" for bad in result["bad"]]
    # The whole page, at the same width: Streamlit scrolls inside its main block, so a
    # full-page screenshot needs a window as tall as the content.
    tall = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    if tall > height + 10:
        page.set_viewport_size({"width": width, "height": min(tall, 6000)})
        time.sleep(0.8)
        page.screenshot(path=str(SCREENSHOTS / f"layout-{name}-{width}x{height}-full.png"))
        page.set_viewport_size({"width": width, "height": height})
        time.sleep(0.5)


def _prepare(home) -> str:
    """Two tiny runs really trained (a comparison), and an imported data set; the first run's id."""
    from cnnlab.analysis.ablation import toggle_trick
    from cnnlab.config import ExperimentConfig
    from cnnlab.data.image_folders import import_images
    from cnnlab.store import RunStore
    from cnnlab.training import JobManager
    from tests.hostile_corpus import LIMITS, make_zip

    import_images(make_zip({}), "antsbees", limits=LIMITS, image_size=16, home=home)
    tiny = ExperimentConfig(dataset="digits", image_size=16, train_size=200, epochs=3, batch_size=32)
    store = RunStore(home)
    manager = JobManager(store, max_concurrent=2)
    try:
        ids = [manager.submit(tiny), manager.submit(toggle_trick(tiny, "batch_norm").config)]
        for run_id in ids:
            assert manager.wait(run_id, timeout=300).status == "completed"
    finally:
        manager.shutdown(timeout=60)
        store.close()
    return ids[0]


def _tick_two_rows(page) -> None:
    grid = page.locator('[class*="st-key-compare_table"]').bounding_box()
    for row in (1, 0):  # 35 px rows under a 35 px header; the tick boxes at the left
        page.mouse.click(grid["x"] + 18, grid["y"] + 35 * (row + 1.5))
        _settle(page, 0.3)


def test_every_page_reads_at_projector_sizes(tmp_path, monkeypatch):
    chromium_path()
    home = tmp_path / "runs"
    home.mkdir()
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    run_id = _prepare(home)
    problems: list[str] = []
    with served_app(home) as url:
        for width, height in SIZES:
            with browser_page(width, height) as page:
                page.goto(url)
                page.get_by_text("Recent runs").wait_for(timeout=90_000)
                _settle(page)
                _check(page, "home", problems)

                page.goto(f"{url}/Train?run={run_id}")
                page.wait_for_selector('[class*="st-key-train_curves"] .js-plotly-plot', timeout=90_000)
                page.get_by_text("Validation accuracy").first.wait_for(timeout=60_000)
                _settle(page, 1.5)
                _check(page, "train-curves", problems, charts=True)
                for tab, chart in (("Gradients", "train_layer_heatmap"), ("Confusion", "train_confusion")):
                    page.get_by_role("tab", name=tab).click()
                    page.wait_for_selector(f'[class*="st-key-{chart}"] .js-plotly-plot', timeout=60_000)
                    _settle(page, 1.5)
                    _check(page, f"train-{tab.lower()}", problems, charts=True)
                # The form, folded while the run is shown, opens above it; its tabs fit.
                page.get_by_text("Experiment settings").click()
                page.get_by_role("tab", name="Augment").wait_for(timeout=30_000)
                _settle(page)
                _check(page, "train-form", problems)
                for tab in ("Model", "Optimize", "Augment"):
                    page.get_by_role("tab", name=tab).click()
                    _settle(page, 1.5)
                    _check(page, f"train-form-{tab.lower()}", problems)

                page.goto(f"{url}/Augment")
                page.get_by_text("Augmentation is off").wait_for(timeout=90_000)
                _settle(page)
                page.locator(".st-key-augment_rotation_range_on label").click()
                page.get_by_text("What the network sees").wait_for(timeout=60_000)
                _settle(page, 1.5)
                _check(page, "augment", problems)

                page.goto(f"{url}/Compare")
                page.wait_for_selector('[class*="st-key-compare_table"] canvas', timeout=90_000)
                _settle(page)
                _tick_two_rows(page)
                page.wait_for_selector('[class*="st-key-compare_curves"] .js-plotly-plot', timeout=60_000)
                page.get_by_text("What differs").wait_for(timeout=30_000)
                _settle(page, 1.5)
                _check(page, "compare", problems, charts=True)
                # The table's toolbar, shown on hover above its top right corner, covers no
                # filter (it covered the Search box).
                page.locator('[class*="st-key-compare_table"]').hover()
                toolbar = page.locator('[data-testid="stElementToolbar"]').first
                toolbar.wait_for(timeout=10_000)
                bar, search = toolbar.bounding_box(), page.locator(".st-key-compare_filter_text input").bounding_box()
                assert bar["y"] >= search["y"] + search["height"] or bar["x"] >= search["x"] + search["width"], \
                    f"the table's toolbar {bar} covers the Search box {search}"

                page.goto(f"{url}/Data")
                page.get_by_role("button", name="Train on antsbees").wait_for(timeout=90_000)
                _settle(page)
                _check(page, "data", problems)

                page.goto(f"{url}/Lessons?lesson=vanishing_gradients")
                page.get_by_text("Ask the class first").wait_for(timeout=90_000)
                _settle(page)
                _check(page, "lessons", problems)
    assert not problems, "\n".join(problems)
