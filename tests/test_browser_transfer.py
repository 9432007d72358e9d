"""In a real browser: a pretrained backbone's transfer controls, a short two-phase run, and
what the page says when the ImageNet weights are not in Keras' cache.

The app runs with a Keras home of the test's own. For the run, the test writes a stand-in
for MobileNetV2's ImageNet weights file there, under Keras' exact cache name, so Keras'
real `weights="imagenet"` path loads it and nothing is downloaded. The digits are 32 px
here, which the backbone takes as they are, and MobileNetV2 loads its 224 file for every
size without weights of its own.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser import (
    browser_page,
    chromium_path,
    open_tab,
    screenshot,
    served_app,
    settle,
    wait_until_stable,
)
from tests.keras_home import write_mobilenet_v2_weights

pytestmark = pytest.mark.browser

BACKBONE = "MobileNetV2 (pretrained on ImageNet)"
WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
# A proxy that refuses every connection: the app is offline whatever network the machine
# has, and a download fails at once (the lab skips its own probe behind a proxy, so Keras'
# download itself is what fails).
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost"}

# The training-curves chart: its traces' lengths and its annotations' texts.
CURVES = '[class*="st-key-train_curves"] .js-plotly-plot'
TRACE_LENGTHS = f"""() => {{ const p = document.querySelector('{CURVES}');
  return p && p._fullData ? p._fullData.map(t => t._length || 0) : null; }}"""
ANNOTATIONS = f"""() => {{ const p = document.querySelector('{CURVES}');
  return p && p._fullLayout ? p._fullLayout.annotations.map(a => a.text) : []; }}"""


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    settle(page)


def tab(page, name: str) -> None:
    open_tab(page, name)
    settle(page)


def choose_backbone(page) -> None:
    """Model tab: pick MobileNetV2 (the transfer expander opens for a backbone)."""
    tab(page, "Model")
    box = page.get_by_role("combobox", name="Architecture")
    box.click()
    box.fill("MobileNetV2")  # the list is long: filter it, as a user would type
    page.get_by_role("option", name=BACKBONE).click()
    page.get_by_text("Backbone weights").wait_for()
    settle(page)


def transfer_text(page) -> str:
    """The visible text of the Transfer learning expander."""
    return page.locator('[data-testid="stExpander"]').filter(
        has_text="Transfer learning").first.inner_text()


def trained_parameters(text: str) -> list[str]:
    """The '<n> of <total> parameters train' figures of the layer view, phase by phase."""
    return re.findall(r"· (\S+ ?\S*) of 2.27 M parameters train", text)


def choose_mode(page, label: str) -> None:
    page.locator(".st-key-train_transfer_mode").get_by_text(label).click()
    settle(page)


def open_backbone_form(page, url, *, epochs):
    """The Train form with 64 training images, `epochs` epochs and the MobileNetV2 backbone."""
    page.goto(f"{url}/Train")
    tab(page, "Data")
    set_number(page, "Training images (0 = all)", 64)
    tab(page, "Optimize")
    set_number(page, "Epochs", epochs)
    choose_backbone(page)


def test_backbone_transfer_controls_and_a_two_phase_run(tmp_path):
    chromium_path()
    keras_home = tmp_path / "keras_home"
    write_mobilenet_v2_weights(keras_home, 224)
    env = {"KERAS_HOME": str(keras_home), **OFFLINE}
    with served_app(tmp_path / "runs", env=env) as url, browser_page(height=1800) as page:
        open_backbone_form(page, url, epochs=2)

        # ImageNet is the backbone's default weights, and the form finds the file.
        assert page.get_by_role("radio", name="ImageNet (pretrained)").is_checked()
        text = transfer_text(page)
        assert f"ImageNet weights in Keras' cache: {WEIGHTS_FILE} in {keras_home / 'models'}" in text
        # The summary measures the backbone, not the small convnet it replaced.
        summary = page.locator('[data-testid="stMetric"]').filter(has_text="Parameters").first
        assert "2.27 M" in summary.inner_text()

        # Feature extraction: only the new head (1280 x 10 + 10 weights) trains.
        page.locator(".st-key-train_transfer_show_layers label").click()
        page.get_by_text("1 layer trains: predictions").wait_for()
        settle(page)
        text = transfer_text(page)
        assert "Phase 1, epochs 1-2: the base is frozen; the new head trains" in text
        assert trained_parameters(text) == ["12.8 k"]
        screenshot(page, "transfer-feature-extraction")

        # Fine-tuning starts at the top layer (0 would be refused), the view still shown.
        choose_mode(page, "Fine-tune the top layers")
        page.get_by_text("2 layers train: base/Conv_1, predictions").wait_for()
        assert page.get_by_role("spinbutton", name="Top layers to fine-tune").input_value() == "1"
        # The top 3 layers: their names, BatchNormalization not counted.
        set_number(page, "Top layers to fine-tune", 3)
        page.get_by_text("4 layers train: base/block_16_depthwise, base/block_16_project, "
                         "base/Conv_1, predictions").wait_for()
        text = transfer_text(page)
        assert "the head and the base's top 3 layers train, at 0.1 x the learning rate" in text
        # 3x3x960 depthwise + 960x320 + 320x1280 kernels (no biases) + the head: 738,250.
        top3 = trained_parameters(text)
        assert top3 == ["738 k"]
        screenshot(page, "transfer-fine-tune-3")

        # Two more layers: the view follows the number.
        set_number(page, "Top layers to fine-tune", 5)
        page.get_by_text(re.compile(r"^6 layers train: ")).wait_for()
        text = transfer_text(page)
        top5 = trained_parameters(text)  # + block_15_project and block_16_expand, 160x960 each
        assert "top 5 layers train" in text and top5 == ["1.05 M"]

        # Two phases: the head alone for one epoch, then the top 5 layers.
        choose_mode(page, "Two phases: head, then fine-tune")
        set_number(page, "Head-only epochs", 1)
        page.get_by_text("Phase 2, epochs 2-2").wait_for()
        text = transfer_text(page)
        assert "Phase 1, epochs 1-1: the base is frozen; the new head trains" in text
        assert "Phase 2, epochs 2-2: the head and the base's top 5 layers train, at 0.1 x " \
               "the learning rate" in text
        assert trained_parameters(text) == ["12.8 k", *top5]
        assert "1 layer trains: predictions" in text and "6 layers train: " in text
        screenshot(page, "transfer-two-phase")

        # A short two-phase run of the backbone with the (stand-in) ImageNet weights. The
        # page is left while it trains, as the caption says one may, and the run is found
        # again on coming back: the live panel redraws its charts every second in the
        # server process, which slows a backbone run several times over while watched.
        started = time.monotonic()
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(re.compile(r"status (queued|running)")).first.wait_for()
        run_id = re.search(r"run=([\w-]+)", page.url).group(1)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_role("link", name="Home").click()
        record = wait_for_run(tmp_path / "runs", run_id, timeout=240)
        assert record.status == "completed", record.error
        trained = time.monotonic() - started

        sidebar.get_by_role("link", name="Train").click()
        page.get_by_text(re.compile(r"status completed")).first.wait_for()
        page.wait_for_selector(CURVES)
        page.get_by_text("Validation accuracy").first.wait_for()
        page.wait_for_function(f"({ANNOTATIONS})().includes('fine-tuning starts')")
        settle(page, quiet_s=1.0)  # Plotly's last redraw before the screenshot
        print(f"two-phase run trained in {trained:.0f} s; shown after "
              f"{time.monotonic() - started:.0f} s")
        assert f"run={run_id}" in page.url
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert run_id in main and "Test accuracy" in main
        # The form came back with the backbone and its two phases.
        assert page.locator(".st-key-train_architecture input").input_value() == BACKBONE
        # Two epochs: train and validation curves of three points each (epoch 0, the
        # untrained model, then 1 and 2), and the batch curves.
        lengths = wait_until_stable(page, TRACE_LENGTHS)
        assert lengths and lengths.count(3) >= 4, lengths
        page.locator(CURVES).scroll_into_view_if_needed()
        screenshot(page, "transfer-run-completed")


def wait_for_run(home, run_id: str, timeout: float):
    """The run's record once it has ended, read from the app's store."""
    from cnnlab.store import RunStore

    store = RunStore(home)
    try:
        deadline = time.monotonic() + timeout
        while True:
            record = store.get_run(run_id)
            if record is not None and not record.is_active:
                return record
            assert time.monotonic() < deadline, f"run {run_id} still {record and record.status}"
            time.sleep(1)
    finally:
        store.close()


def test_missing_imagenet_weights_are_named_in_the_form_and_by_the_failed_run(tmp_path):
    chromium_path()
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()  # an empty, writable Keras home: no weights in it
    folder = keras_home / "models"
    env = {"KERAS_HOME": str(keras_home), **OFFLINE}
    with served_app(tmp_path / "runs", env=env) as url, browser_page(height=1800) as page:
        open_backbone_form(page, url, epochs=1)

        # Before training, the form names the missing file and the folder it belongs in.
        notice = page.locator('[data-testid="stAlert"]').filter(has_text=WEIGHTS_FILE)
        notice.wait_for()
        assert f"The ImageNet weights file {WEIGHTS_FILE} is not in Keras' cache folder " \
               f"{folder} yet" in notice.inner_text()
        screenshot(page, "transfer-weights-missing")

        # Random weights need no file: the notice goes.
        page.locator(".st-key-train_transfer_weights").get_by_text("Random (no transfer)").click()
        settle(page)
        assert page.get_by_text(WEIGHTS_FILE).count() == 0
        assert "No transfer: every layer starts from random weights" in transfer_text(page)
        page.locator(".st-key-train_transfer_weights").get_by_text("ImageNet (pretrained)").click()
        notice.wait_for()

        # Training anyway: the run fails with the engine's message, file and folder named.
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(re.compile(r"status failed")).first.wait_for(timeout=180_000)
        error = page.locator('[data-testid="stAlert"]').filter(
            has_text="Could not load the ImageNet weights").first
        error.wait_for()
        message = error.inner_text()
        assert f"the file '{WEIGHTS_FILE}' is not in Keras' cache folder '{folder}'" in message
        assert f"save it as '{folder / WEIGHTS_FILE}'" in message
        error.scroll_into_view_if_needed()
        screenshot(page, "transfer-weights-missing-run-failed")
