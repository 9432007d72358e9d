"""In a real browser: tick three runs on Compare and build their ensemble in its tab.

The runs are written into the store as training writes them (status, metrics, stored
validation and test predictions), so nothing trains here: the ensemble itself never does.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from tests.browser import (
    SCREENSHOTS,
    browser_page,
    chromium_path,
    open_tab,
    screenshot,
    served_app,
    settle,
)
from tests.test_ensemble import _written

pytestmark = pytest.mark.browser

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=200, epochs=1, batch_size=32)
ROW_HEIGHT = 35  # st.dataframe's default row height (the header is as tall)


def test_an_ensemble_of_three_runs_on_compare(tmp_path):
    chromium_path()
    home = tmp_path / "runs"
    home.mkdir()
    store = RunStore(home)
    labels = np.array([0, 1, 1, 0, 1, 0])
    for wrong in (0, 1, 2):  # each member wrong on another image; their mean on none
        probs = np.eye(2)[labels] * 0.6 + 0.2
        probs[wrong] = probs[wrong][::-1]
        _written(store, TINY.with_overrides({"seed": wrong}), labels, probs, session="")
    store.close()
    with served_app(home) as url, browser_page(width=1280, height=720) as page:
        page.goto(f"{url}/Compare")
        page.wait_for_selector('[class*="st-key-compare_table"] canvas')
        settle(page)
        grid = page.locator('[class*="st-key-compare_table"]').bounding_box()
        for row in (2, 1, 0):
            page.mouse.click(grid["x"] + 18, grid["y"] + ROW_HEIGHT * (row + 1.5))
            settle(page)
        page.get_by_text("3 of 3 runs selected").wait_for()
        open_tab(page, "Ensemble")
        page.get_by_role("button", name="Ensemble of the selected runs").click()
        page.wait_for_selector('[class*="st-key-compare_ensemble_curve"] .js-plotly-plot')
        settle(page, quiet_s=1.0)
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Ensemble test accuracy")
        assert "100.0%" in metric.inner_text()
        screenshot(page, "compare-ensemble")
        page.locator('[data-testid="stTabs"]').screenshot(
            path=str(SCREENSHOTS / "compare-ensemble-tab.png"))
