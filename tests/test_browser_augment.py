"""In a real browser: switch a transform on and watch the grid change; mix; upload a bad file."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, chromium_path, screenshot, served_app, wait_until_stable
from tests.browser import settle as settle_script

pytestmark = pytest.mark.browser

# The URLs of the main area's images: the original first, then the grid. Streamlit names a
# media file after a hash of its bytes, so a URL changes exactly when the pixels do.
IMAGE_URLS = """() => Array.from(document.querySelectorAll(
  '[data-testid="stMain"] [data-testid="stImage"] img')).map(img => img.src)"""


def grid(page) -> list[str]:
    return page.evaluate(IMAGE_URLS)[1:10]


def settle(page) -> None:
    """Wait until Streamlit has finished the rerun and the images have loaded."""
    settle_script(page)
    page.wait_for_function("""() => Array.from(document.querySelectorAll('img')).every(i => i.complete)""")
    wait_until_stable(page, IMAGE_URLS)


def test_switching_rotation_on_changes_the_grid(tmp_path):
    chromium_path()
    # Tall enough that a screenshot shows the whole page, mixing row and code included.
    with served_app(tmp_path / "runs") as url, browser_page(height=1800) as page:
        page.goto(f"{url}/Augment")
        page.wait_for_function(f"({IMAGE_URLS})().length >= 10", timeout=180_000)
        settle(page)
        off = grid(page)
        assert len(off) == 9 and len(set(off)) == 1, "with nothing on, every version is the original"
        screenshot(page, "augment-off")

        page.locator(".st-key-augment_rotation_range_on label").click()
        page.wait_for_function(
            f"(() => {{ const g = ({IMAGE_URLS})().slice(1, 10); return g.length == 9 && "
            f"new Set(g).size == 9 && !g.includes({off[0]!r}); }})()")
        settle(page)
        page.get_by_text("What the network sees").wait_for()
        screenshot(page, "augment-rotation")

        page.locator(".st-key-augment_cutmix_alpha_on label").click()
        heading = page.get_by_text("MixUp and CutMix: blended images, blended labels")
        heading.wait_for()
        settle(page)
        captions = page.locator('[data-testid="stMain"] [data-testid="stImageCaption"]').all_inner_texts()
        assert any(" + " in caption for caption in captions), captions
        screenshot(page, "augment-cutmix")

        page.locator(".st-key-augment_source").get_by_text("Your photo").click()
        page.locator('input[type="file"]').set_input_files(
            files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"lecture notes, not a photo"}])
        page.get_by_text("Could not read the uploaded file as an image").wait_for()
        settle(page)
        screenshot(page, "augment-upload-error")
