"""Deck 004's augmentations: an asymmetric brightness scale ([0.2, 1.5]) and Gaussian noise.

References: the formulas themselves (pixels times one factor per image from [low, high];
pixels plus N(0, stddev^2)), measured on images whose pixels are known; inference passes
images through; the exported Keras code draws exactly what the lab's augmenter draws.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.augment.code import to_keras_code
from cnnlab.augment.pipeline import build_augmenter
from cnnlab.augment.preview import preview_grid
from cnnlab.config import AugmentationConfig
from tests.apptest import fresh_resources  # noqa: F401  (fixture)

DECK = AugmentationConfig(brightness_scale_low=0.2, brightness_scale_high=1.5)
NOISE = AugmentationConfig(noise_stddev=0.1)


def test_the_brightness_scale_multiplies_each_image_by_one_factor_from_its_range():
    batch = np.full((64, 6, 6, 1), 0.5, dtype=np.float32)
    augmenter = build_augmenter(DECK, batch.shape[1:], seed=0)
    assert [type(layer).__name__ for layer in augmenter.layers] == ["RandomBrightnessScale"]
    out = np.asarray(augmenter(batch, training=True))
    factors = out.reshape(64, -1) / 0.5
    assert np.allclose(factors, factors[:, :1], atol=1e-6)  # one factor per image
    factors = factors[:, 0]
    # Uniform on [0.2, 1.5], clipped at pixel 1 (factor 2 would be needed to clip 0.5): the
    # range is asymmetric about 1, so most images come out darker.
    assert 0.2 <= factors.min() < 0.4 and 1.3 < factors.max() <= 1.5
    assert (factors < 1).mean() == pytest.approx(0.8 / 1.3, abs=0.15)
    bright = np.asarray(augmenter(np.full((64, 6, 6, 1), 0.9, np.float32), training=True))
    assert bright.max() == 1.0  # 0.9 x factors above 1.11 clip to white
    assert np.array_equal(np.asarray(augmenter(batch, training=False)), batch)


def test_gaussian_noise_adds_zero_mean_noise_of_its_standard_deviation():
    batch = np.full((16, 16, 16, 1), 0.5, dtype=np.float32)
    augmenter = build_augmenter(NOISE, batch.shape[1:], seed=0)
    assert [type(layer).__name__ for layer in augmenter.layers] == ["GaussianNoise"]
    noise = np.asarray(augmenter(batch, training=True)) - 0.5
    assert noise.std() == pytest.approx(0.1, rel=0.05) and abs(noise.mean()) < 0.01
    assert np.array_equal(np.asarray(augmenter(batch, training=False)), batch)
    # The Augment page's preview shows the noisy versions.
    grid = preview_grid(batch[0], NOISE, count=4, seed=1)
    assert grid.shape == (4, 16, 16, 1) and np.abs(grid - 0.5).max() > 0.1


def test_the_range_is_checked_and_round_trips():
    with pytest.raises(ValueError, match="brightness_scale_low"):
        AugmentationConfig(brightness_scale_low=1.5, brightness_scale_high=0.2)
    assert not AugmentationConfig().enabled and DECK.enabled and NOISE.enabled
    from cnnlab.config import ExperimentConfig

    config = ExperimentConfig(augmentation=AugmentationConfig(
        brightness_scale_low=0.2, brightness_scale_high=1.5, noise_stddev=0.05))
    assert ExperimentConfig.from_json(config.to_json()) == config


def test_the_exported_keras_code_draws_what_the_lab_draws(keras_registry):
    both = AugmentationConfig(brightness_scale_low=0.2, brightness_scale_high=1.5, noise_stddev=0.05)
    shape = (8, 8, 3)
    code = to_keras_code(both, shape, seed=4)
    assert "class RandomBrightnessScale" in code and "keras.layers.GaussianNoise(stddev=0.05" in code
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own code
    x = np.random.default_rng(0).random((4, *shape), dtype=np.float32)
    ours = np.asarray(build_augmenter(both, shape, seed=4)(x, training=True))
    np.testing.assert_allclose(np.asarray(namespace["augmentation"](x, training=True)), ours, atol=1e-6)


@pytest.mark.usefixtures("fresh_resources")
def test_the_augment_page_previews_them_and_hands_them_to_the_train_form(monkeypatch):
    import streamlit as st

    from tests.apptest import open_page

    opened = []
    monkeypatch.setattr(st, "switch_page", lambda page: opened.append(str(page)))
    app = open_page("pages/2_Augment.py")
    before = [url for image in app.image[1:10] for url in image.value]
    app.toggle(key="augment_brightness_scale_on").set_value(True).run()
    assert app.slider(key="augment_brightness_scale").value == (0.2, 1.5)  # deck 004's range
    app.toggle(key="augment_noise_stddev_on").set_value(True).run()
    assert not app.exception and not app.error
    after = [url for image in app.image[1:10] for url in image.value]
    assert len(set(after)) == 9 and before[0] not in after
    code = app.code[0].value
    assert "RandomBrightnessScale(lower=0.2, upper=1.5" in code and "GaussianNoise(stddev=0.1" in code
    app.button(key="augment_use").click().run()
    assert app.session_state["train_augmentation"] == AugmentationConfig(
        brightness_scale_low=0.2, brightness_scale_high=1.5, noise_stddev=0.1)
