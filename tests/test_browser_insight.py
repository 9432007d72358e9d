"""In a real browser: the insight tabs follow a training run, and a click on the confusion
matrix shows that cell's images.

The run has short epochs (320 digits at 16 px: 10 steps) and many of them, so it is still
training while the test watches the gradient heatmap grow and the confusion matrix move
from epoch to epoch; the test then stops it and clicks a cell, which must choose that cell
(Plotly reports no clicks on heatmap cells: the figure's invisible per-cell markers do).
"""

from __future__ import annotations

import re

import pytest

from cnnlab.analysis.insight import prediction_epochs
from cnnlab.store import RunStore
from tests.browser import SCREENSHOTS, browser_page, chromium_path, open_tab, served_app, settle

pytestmark = pytest.mark.browser

HEATMAP = '[class*="st-key-train_layer_heatmap"] .js-plotly-plot'
MATRIX = '[class*="st-key-train_confusion_"] .js-plotly-plot'
# Recorded steps in the heatmap (its x), and the confusion matrix's title and counts.
HEATMAP_STEPS = f"""() => {{ const p = document.querySelector('{HEATMAP}');
  return p && p._fullData && p._fullData[0] ? p._fullData[0].x.length : 0; }}"""
MATRIX_STATE = f"""() => {{ const p = document.querySelector('{MATRIX}');
  if (!p || !p._fullData || !p._fullData[0] || !p._fullLayout) return null;
  return {{title: p._fullLayout.title.text, counts: Array.from(p._fullData[0].text, r => Object.values(r).map(v => Number(v) || 0))}}; }}"""
# The page position of the centre of cell (row, column) of the matrix.
CELL_CENTRE = f"""([row, column]) => {{ const p = document.querySelector('{MATRIX}');
  const box = p.getBoundingClientRect(), xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis;
  return [box.left + xa._offset + xa.l2p(column), box.top + ya._offset + ya.l2p(row)]; }}"""


def panel_screenshot(page, name: str) -> None:
    """The run's panel (under the folded form, with the insight tabs), once Plotly has drawn."""
    settle(page, quiet_s=1.0)
    panel = page.locator(".st-key-train_run_panel")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def epoch_of(state) -> int:
    """The epoch in the matrix's title ("Validation set after epoch 3", maybe in <b> tags)."""
    return int(re.search(r"epoch (\d+)", state["title"]).group(1))


def test_the_insight_tabs_follow_a_training_run(tmp_path):
    chromium_path()
    with served_app(tmp_path / "runs") as url, browser_page(height=1800) as page:
        # Short epochs (10 steps of 16 px digits), many of them: the run is still training
        # while the test watches, however busy the machine. A shared link fills the form.
        page.goto(f"{url}/Train?train_size=320&image_size=16&epochs=200")
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector('[class*="st-key-train_curves"] .js-plotly-plot')

        # Gradients: the heatmap gains recorded steps while the run trains.
        open_tab(page, "Gradients")
        page.wait_for_function(f"({HEATMAP_STEPS})() > 0", timeout=180_000)
        first = page.evaluate(HEATMAP_STEPS)
        page.wait_for_function(f"({HEATMAP_STEPS})() > {first}")
        assert page.evaluate(HEATMAP_STEPS) > first

        # Confusion: the matrix follows the newest epoch, and its counts change.
        open_tab(page, "Confusion")
        page.wait_for_function(f"({MATRIX_STATE})() !== null")
        before = page.evaluate(MATRIX_STATE)
        page.wait_for_function(
            f"(() => {{ const s = ({MATRIX_STATE})(); return s && s.title !== {before['title']!r}; }})()",
            timeout=60_000)
        after = page.evaluate(MATRIX_STATE)
        assert epoch_of(after) > epoch_of(before)
        assert after["counts"] != before["counts"]

        # Stop the run, then click the cell with the most mistakes.
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("status stopped").first.wait_for()
        settle(page)
        state = page.evaluate(MATRIX_STATE)
        run_id = re.search(r"run=([\w-]+)", page.url).group(1)
        newest = prediction_epochs(RunStore(tmp_path / "runs"), run_id)[-1]
        assert epoch_of(state) == newest, "untouched, the matrix shows the newest epoch"
        counts = state["counts"]
        cells = [(r, c) for r in range(len(counts)) for c in range(len(counts))
                 if r != c and counts[r][c] > 0]
        # The page chose the worst cell (the first, row by row); click another with mistakes.
        worst = max(cells, key=lambda cell: counts[cell[0]][cell[1]])
        row, column = max((cell for cell in cells if cell != worst),
                          key=lambda cell: counts[cell[0]][cell[1]], default=worst)
        count = counts[row][column]
        page.locator(MATRIX).scroll_into_view_if_needed()  # a click must land on screen
        x, y = page.evaluate(CELL_CENTRE, [row, column])
        page.mouse.click(x, y)
        summary = f"{count} {'image' if count == 1 else 'images'} of {row} predicted as {column}"
        page.get_by_text(summary).first.wait_for(timeout=180_000)
        settle(page)
        assert page.locator('[data-testid="stImage"]').count() == min(count, 10)
        panel_screenshot(page, "insight-confusion")

        # The other tabs of the stopped run, for the record.
        open_tab(page, "Gradients")
        page.wait_for_selector(HEATMAP)
        panel_screenshot(page, "insight-gradients")
        open_tab(page, "Curves")
        page.wait_for_selector('[class*="st-key-train_gap"] .js-plotly-plot')
        panel_screenshot(page, "insight-curves")
