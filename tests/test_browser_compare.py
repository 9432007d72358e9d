"""In a real browser: tick three runs, compare them, start an ablation grid from one and
watch the four variants train live beside their baseline.

The three runs are tiny digits experiments trained before the app starts; the ablation's
four runs train in the app, through its job manager, while the page watches.
"""

from __future__ import annotations

import pytest

from cnnlab.analysis.ablation import toggle_trick
from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from tests.browser import (
    SCREENSHOTS,
    browser_page,
    chromium_path,
    screenshot,
    served_app,
    settle,
    wait_until_stable,
)

pytestmark = pytest.mark.browser

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=200, epochs=3, batch_size=32)
# Per run, the points of its five lines (train and validation loss and accuracy, the
# learning rate), from epoch 0 (the untrained model, where the rate is a gap) to 3.
RUN_POINTS_DONE = 5 * (TINY.epochs + 1)
CURVES = '[class*="st-key-compare_curves"] .js-plotly-plot'
# Per run drawn in the curves chart (by legend group), the points of its traces.
RUN_POINTS = f"""() => {{
  const plot = document.querySelector('{CURVES}');
  if (!plot || !plot._fullData) return null;
  const points = {{}};
  for (const trace of plot._fullData) {{
    if (!trace._length || trace.legendgroup.startsWith('style')) continue;
    points[trace.legendgroup] = (points[trace.legendgroup] || 0) + trace._length;
  }}
  return points;
}}"""
ROW_HEIGHT = 35  # st.dataframe's default row height (the header is as tall)


def _train_runs(home) -> dict[str, str]:
    """Three tiny runs, really trained: a baseline, one with dropout, one with a higher rate."""
    from cnnlab.training import JobManager

    store = RunStore(home)
    manager = JobManager(store, max_concurrent=2)
    configs = {"baseline": TINY, "dropout": toggle_trick(TINY, "dropout").config,
               "fast": TINY.with_overrides({"learning_rate": 0.01})}
    try:
        ids = {key: manager.submit(config) for key, config in configs.items()}
        for run_id in ids.values():
            assert manager.wait(run_id, timeout=300).status == "completed"
    finally:
        manager.shutdown(timeout=60)
        store.close()
    return ids


def _tick_rows(page, rows) -> None:
    """Tick rows of the runs table by their position (0 = the newest run, at the top)."""
    grid = page.locator('[class*="st-key-compare_table"]').bounding_box()
    for row in rows:
        page.mouse.click(grid["x"] + 18, grid["y"] + ROW_HEIGHT * (row + 1.5))
        settle(page)


def test_compare_three_runs_then_watch_an_ablation_train_beside_its_baseline(tmp_path):
    chromium_path()
    home = tmp_path / "runs"
    home.mkdir()
    ids = _train_runs(home)
    with served_app(home) as url, browser_page(height=2400) as page:
        page.goto(f"{url}/Compare")
        page.wait_for_selector('[class*="st-key-compare_table"] canvas')
        settle(page)
        _tick_rows(page, [2, 1, 0])
        page.wait_for_selector(CURVES)
        page.get_by_text("3 of 3 runs selected").wait_for()
        points = wait_until_stable(page, RUN_POINTS)
        assert points == {run_id: RUN_POINTS_DONE for run_id in ids.values()}
        page.get_by_text("What differs").wait_for()
        diff = page.locator('[class*="st-key-compare_diff"]')
        diff.wait_for()
        settle(page, quiet_s=1.0)  # Plotly's and the grid's last redraw
        screenshot(page, "compare-three-runs")

        # The baseline (the oldest run ticked) with each of the four tricks toggled.
        shown = page.evaluate("""() => { const box = document.querySelector('[class*="st-key-compare_baseline"]');
            return [box.textContent, ...[...box.querySelectorAll('input')].map(i => i.value)].join(' '); }""")
        assert ids["baseline"] in shown, shown
        page.get_by_role("button", name="Ablation grid (all four)").click()
        page.get_by_text("Started 4 runs").wait_for()
        page.get_by_text("Live").first.wait_for()
        # The comparison is now the baseline and its four variants, drawn as they train.
        page.get_by_text("5 of 7 runs selected").wait_for()
        # Until the page's next rerun the chart still shows the three runs ticked before;
        # the variants' lines appear once their workers have trained an epoch.
        page.wait_for_function(
            f"""(() => {{ const p = ({RUN_POINTS})();
                 return p && Object.keys(p).length >= 2 && !("{ids['dropout']}" in p)
                   && !("{ids['fast']}" in p); }})()""",
            timeout=180_000)
        first = page.evaluate(RUN_POINTS)
        assert ids["baseline"] in first and ids["dropout"] not in first
        wait_until_stable(page, RUN_POINTS)
        screenshot(page, "compare-ablation-training")
        # Live: without a reload the variants' lines grow until all four have three epochs.
        page.wait_for_function(
            f"""(() => {{ const p = ({RUN_POINTS})();
                 return p && Object.keys(p).length == 5
                   && Object.values(p).every(n => n == {RUN_POINTS_DONE}); }})()""",
            timeout=600_000)
        final = page.evaluate(RUN_POINTS)
        assert sum(final.values()) > sum(first.values())
        page.get_by_text("0 running").wait_for()  # the table followed
        settle(page, quiet_s=1.0)
        screenshot(page, "compare-ablation-completed")
        for tab, chart, name in (("Gradients", "compare_gradients", "compare-ablation-gradients"),
                                 ("Hyperparameters", "compare_parcoords", "compare-ablation-parcoords")):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_selector(f'[class*="st-key-{chart}"] .js-plotly-plot')
            settle(page, quiet_s=1.0)
            page.locator('[data-testid="stTabs"]').screenshot(path=str(SCREENSHOTS / f"{name}.png"))
