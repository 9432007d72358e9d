"""In a real browser at 1280x720: pick "Vanishing gradients", start it, and see its runs
train side by side, each with its own gradient heatmap, through the app's job manager."""

from __future__ import annotations

import pytest

from cnnlab.lessons import get_lesson
from tests.browser import browser_page, chromium_path, screenshot, served_app, settle

pytestmark = pytest.mark.browser

HEATMAPS = '[class*="st-key-lessons_heatmap_"] .js-plotly-plot'
# Per heatmap drawn, how many recorded steps it shows (0 before the run's first step).
STEPS_SHOWN = f"""() => [...document.querySelectorAll('{HEATMAPS}')].map(plot =>
  plot._fullData && plot._fullData.length ? plot._fullData[0]._length || (plot._fullData[0].x || []).length : 0)"""


def test_start_a_lesson_and_watch_its_runs_side_by_side(tmp_path):
    chromium_path()
    home = tmp_path / "runs"
    home.mkdir()
    lesson = get_lesson("vanishing_gradients")
    with served_app(home) as url, browser_page(width=1280, height=720) as page:
        page.goto(f"{url}/Lessons?lesson={lesson.name}")
        page.get_by_text(lesson.claim).wait_for()
        start = page.get_by_role("button", name=f"Start the {len(lesson.runs)} runs")
        start.wait_for()
        settle(page, quiet_s=1.0)
        screenshot(page, "lessons-before-start")
        start.click()
        page.get_by_text("What to look for").wait_for()
        # Two runs train at once (the lab's default); each heatmap fills as its run records
        # gradients, while the third run waits in the queue beside them.
        page.wait_for_function(f"(() => ({STEPS_SHOWN})().filter(n => n > 0).length >= 2)()",
                               timeout=300_000)
        for run in lesson.runs:
            page.get_by_text(run.label).first.wait_for(state="attached")
        settle(page, quiet_s=1.0)
        screenshot(page, "lessons-vanishing-training")
        # The whole page (Streamlit scrolls inside its main block): the heatmaps side by side.
        tall = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": 1280, "height": min(tall, 6000)})
        settle(page, quiet_s=1.0)
        screenshot(page, "lessons-vanishing-full")
        page.set_viewport_size({"width": 1280, "height": 720})
        # The lesson's figure per run, under the heatmaps, follows them.
        page.locator('[class*="st-key-lessons_figure"] .js-plotly-plot').wait_for()
        page.get_by_role("button", name="Open on Compare").click()
        page.get_by_text(f"{len(lesson.runs)} of {len(lesson.runs)} runs selected").wait_for()
        settle(page, quiet_s=1.0)
        screenshot(page, "lessons-on-compare")
