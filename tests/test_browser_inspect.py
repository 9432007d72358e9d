"""In a real browser: open Inspect from a finished run's panel, switch the feature-map
layer, and see the Grad-CAM overlay drawn over the image."""

from __future__ import annotations

import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.training import JobManager
from tests.browser import (
    browser_page,
    chromium_path,
    open_tab,
    screenshot,
    served_app,
    settle,
    wait_until_stable,
)

pytestmark = pytest.mark.browser

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1, batch_size=32)


def _chart(key: str) -> str:
    """JavaScript: the types of the traces Plotly drew in the chart with widget key `key`."""
    return f"""() => {{ const p = document.querySelector('[class*="st-key-{key}"] .js-plotly-plot');
      return p && p._fullData ? p._fullData.map(t => t.type) : null; }}"""


def _title(key: str) -> str:
    return f"""() => {{ const p = document.querySelector('[class*="st-key-{key}"] .js-plotly-plot');
      return p && p._fullLayout ? p._fullLayout.title.text : null; }}"""


def test_inspect_opens_from_a_finished_run_and_draws_grad_cam(tmp_path):
    chromium_path()
    home = tmp_path / "runs"
    store = RunStore(home)
    manager = JobManager(store, max_concurrent=1)
    run_id = manager.submit(TINY)
    record = manager.wait(run_id, timeout=300)
    manager.shutdown(timeout=60)
    store.close()
    assert record.status == "completed", record.error

    with served_app(home) as url, browser_page(width=1024, height=768) as page:
        page.goto(f"{url}/Train?run={run_id}")
        page.get_by_role("button", name="Inspect").click()
        page.wait_for_url(lambda address: "/Inspect?" in address and f"run={run_id}" in address)
        page.locator('[class*="st-key-inspect_top5"] .js-plotly-plot').wait_for()
        settle(page)

        maps = wait_until_stable(page, _title("inspect_maps"))
        assert maps.startswith("block1_conv1")
        box = page.locator('[class*="st-key-inspect_map_layer"]').get_by_role("combobox")
        box.click()
        box.fill("block2_pool")  # the list is long: filter it, as a user would type
        page.get_by_role("option", name="block2_pool", exact=True).click()
        settle(page)
        assert wait_until_stable(page, _title("inspect_maps")).startswith("block2_pool: 64 channels")

        open_tab(page, "Grad-CAM")
        settle(page)
        overlay = page.locator('[class*="st-key-inspect_cam"] .js-plotly-plot')
        overlay.scroll_into_view_if_needed()
        assert wait_until_stable(page, _chart("inspect_cam")) == ["image", "heatmap"]
        assert "Grad-CAM for" in wait_until_stable(page, _title("inspect_cam"))
        screenshot(page, "inspect-grad-cam")
