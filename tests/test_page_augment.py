"""The Augment page, run headless with Streamlit's AppTest: real widgets, the real pipeline."""

from __future__ import annotations

import re

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnlab.config import AugmentationConfig
from tests.apptest import ROOT, fresh_resources, open_page, plain  # noqa: F401  (fixture)
from tests.images import png

pytestmark = pytest.mark.usefixtures("fresh_resources")


def augment_page() -> AppTest:
    return open_page("pages/2_Augment.py")


def grid_urls(app) -> list[str]:
    """The media URLs of the preview grid (the images after the original); they hash the pixels."""
    return [url for image in app.image[1:10] for url in image.value]


def test_switching_a_transform_on_redraws_nine_different_versions():
    app = augment_page()
    assert not app.exception and not app.error
    assert app.segmented_control(key="augment_count").value == 9
    assert any("Augmentation is off" in m.value for m in app.markdown)
    before = grid_urls(app)
    assert len(before) == 9 and len(set(before)) == 1, "with nothing on, all nine are the original"

    app.toggle(key="augment_rotation_range_on").set_value(True).run()
    assert not app.exception
    after = grid_urls(app)
    assert len(after) == 9 and len(set(after)) == 9 and before[0] not in after
    assert any("What the network sees" in m.value for m in app.markdown)
    code = app.code[0].value
    assert not re.search(r"^\s*(import|from) cnnlab", code, re.MULTILINE)  # Keras alone
    assert "class RandomAffine(keras.layers.Layer):" in code
    assert "RandomAffine(rotation_range=20.0, fill_mode='nearest', seed=" in code

    app.button(key="augment_use").click().run()
    assert not app.exception
    assert app.title[0].value == "Train", "the button opens the Train page"
    assert "train_augmentation" not in app.session_state, "the Train page took the pipeline over"


def test_use_in_train_form_hands_over_the_pipeline(monkeypatch):
    opened = []
    # Stop at the hand-over: what the Train page then does with the key is its own test's business.
    monkeypatch.setattr(st, "switch_page", lambda page: opened.append(str(page)))
    app = augment_page()
    app.toggle(key="augment_shear_range_on").set_value(True).run()  # enables its slider
    app.slider(key="augment_shear_range").set_value(30.0)
    app.selectbox(key="augment_fill_mode").set_value("constant").run()
    app.button(key="augment_use").click().run()
    assert opened == ["pages/1_Train.py"]
    assert app.session_state["train_augmentation"] == AugmentationConfig(shear_range=30.0,
                                                                         fill_mode="constant")


def test_mixing_shows_blended_labels_and_the_seed_reproduces_the_grid():
    app = augment_page()
    app.toggle(key="augment_horizontal_flip").set_value(True)
    app.toggle(key="augment_mixup_alpha_on").set_value(True).run()
    assert not app.exception
    captions = [plain(caption) for image in app.image for caption in image.captions if " \\+ " in caption]
    assert captions, "MixUp captions name two classes with their weights"
    weights = [float(part.split()[0]) for part in captions[0].split(" + ")]
    assert sum(weights) == pytest.approx(1.0, abs=0.011)
    first = grid_urls(app)
    draw = next(b for b in app.button if b.label == "Draw again")
    draw.click().run()
    assert app.number_input(key="augment_seed").value == 1 and grid_urls(app) != first
    app.number_input(key="augment_seed").set_value(0).run()
    assert grid_urls(app) == first


def test_uploads_decode_or_show_the_error():
    app = augment_page()
    app.segmented_control(key="augment_source").set_value("Your photo").run()
    assert any("Choose an image" in info.value for info in app.info)
    app.file_uploader(key="augment_upload").upload("notes.png", b"not a picture at all", "image/png").run()
    assert not app.exception
    assert "Could not read the uploaded file as an image" in app.error[0].value

    photo = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    app.file_uploader(key="augment_upload").set_value(("photo.png", png(photo), "image/png")).run()
    assert not app.exception and not app.error
    # Previewed at 128 px at least (not the training size's blocks); trained at 32.
    # The Train form's data set by default: the digits, grey.
    assert "photo.png, previewed at 128×128; training fits it to 32×32×1" in plain(app.image[0].captions[0])
    assert len(grid_urls(app)) == 9

    app.segmented_control(key="augment_source").set_value("Sample photo").run()
    assert not app.exception
    # The sample photos are 427×640: previewed at the largest preview side.
    assert "previewed at 256×256; training fits it to 32×32×1" in plain(app.image[0].captions[0])


def test_the_preview_sides_are_the_engines():
    """The page copies them to draw its controls before TensorFlow loads; they must agree."""
    import importlib.util

    from cnnlab.augment import preview

    spec = importlib.util.spec_from_file_location("augment_page", ROOT / "pages" / "2_Augment.py")
    source = spec.loader.get_source("augment_page")
    assert f"PREVIEW_MIN_SIDE, PREVIEW_MAX_SIDE = {preview.PREVIEW_MIN_SIDE}, {preview.PREVIEW_MAX_SIDE}" in source


def test_it_starts_from_the_train_forms_choices_and_carries_its_own_back():
    """The Train form's data set and augmentation open the Augment page; "Use in Train form"
    brings the page's pipeline back into the form. The two pages' controls share one table."""
    app = open_page("pages/1_Train.py")
    app.selectbox(key="train_dataset").select("shapes").run()
    app.toggle(key="train_augmentation_rotation_range_on").set_value(True).run()
    app.slider(key="train_augmentation_rotation_range").set_value(35.0)
    app.toggle(key="train_augmentation_horizontal_flip").set_value(True).run()
    assert not app.exception
    app.switch_page("pages/2_Augment.py").run()
    assert not app.exception
    assert app.selectbox(key="augment_dataset").value == "shapes"  # not the default experiment's
    assert app.toggle(key="augment_rotation_range_on").value
    assert app.slider(key="augment_rotation_range").value == 35.0
    assert app.toggle(key="augment_horizontal_flip").value
    assert not app.toggle(key="augment_zoom_range_on").value
    # The same labels on both pages: the controls come from one table.
    assert app.toggle(key="augment_rotation_range_on").label == "Rotation (degrees)"

    app.toggle(key="augment_rotation_range_on").set_value(False)
    app.toggle(key="augment_zoom_range_on").set_value(True).run()
    app.button(key="augment_use").click().run()
    app.switch_page("pages/1_Train.py").run()  # AppTest stays on the page it last switched to
    assert not app.exception
    assert not app.toggle(key="train_augmentation_rotation_range_on").value
    assert app.toggle(key="train_augmentation_zoom_range_on").value
    assert app.slider(key="train_augmentation_zoom_range").value == 0.2  # the strength switched on
    assert app.toggle(key="train_augmentation_horizontal_flip").value
    assert app.toggle(key="train_augmentation_zoom_range_on").label == "Zoom in or out (fraction)"
    assert app.session_state["train_draft"].augmentation == AugmentationConfig(
        zoom_range=0.2, horizontal_flip=True)
