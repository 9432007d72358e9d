"""The synthetic shapes data set: layout, balance, determinism, and classes that differ."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cnnlab.data import shapes
from cnnlab.data.shapes import SHAPE_NAMES, draw_shapes, make_shapes


def test_shape_names():
    assert 6 <= len(SHAPE_NAMES) <= 8
    assert len(set(SHAPE_NAMES)) == len(SHAPE_NAMES)
    assert {"circle", "square", "triangle"} <= set(SHAPE_NAMES)


@pytest.mark.parametrize("count, image_size", [(0, 32), (1, 8), (50, 32), (17, 64)])
def test_layout(count, image_size):
    x, y = make_shapes(count, image_size, seed=0)
    assert x.shape == (count, image_size, image_size, 3) and x.dtype == np.float32
    assert y.shape == (count,) and y.dtype == np.int32
    if count:
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert y.min() >= 0 and y.max() < len(SHAPE_NAMES)


@pytest.mark.parametrize("count", [8, 80, 83, 1001])
def test_classes_are_balanced(count):
    _, y = make_shapes(count, 8, seed=1)
    per_class = np.bincount(y, minlength=len(SHAPE_NAMES))
    assert per_class.max() - per_class.min() <= 1


def test_same_seed_same_images_and_other_seed_other_images():
    x1, y1 = make_shapes(40, 16, seed=7)
    x2, y2 = make_shapes(40, 16, seed=7)
    x3, _ = make_shapes(40, 16, seed=8)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_make_shapes_is_draw_shapes_scaled():
    images, labels = draw_shapes(10, 16, seed=3)
    x, y = make_shapes(10, 16, seed=3)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(x, images / 255, atol=1e-7)


def test_edges_are_antialiased(monkeypatch):
    """Without noise, supersampling still leaves many edge colours between the two plain ones."""
    monkeypatch.setattr(shapes, "_NOISE_STD", 0.0)
    x, _ = make_shapes(1, 64, seed=0)
    colours = np.unique(np.rint(x[0] * 255).reshape(-1, 3), axis=0)
    assert len(colours) > 10


def _outline_features(x: np.ndarray) -> np.ndarray:
    """Low-frequency Fourier magnitudes of where each image departs from its background.

    The magnitudes ignore position and the normalisation ignores colour, leaving mostly
    the outline: what the class should depend on.
    """
    gray = x.mean(-1)
    gray = np.abs(gray - np.median(gray.reshape(len(gray), -1), axis=1)[:, None, None])
    gray /= gray.max(axis=(1, 2), keepdims=True) + 1e-6
    spectrum = np.abs(np.fft.fft2(gray))[:, :6, :6]
    return np.log1p(spectrum.reshape(len(spectrum), -1))


def test_classes_are_distinct_enough_to_learn():
    x, y = make_shapes(2000, 32, seed=0)
    x_test, y_test = make_shapes(1000, 32, seed=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(_outline_features(x), y)
    accuracy = model.score(_outline_features(x_test), y_test)
    chance = 1 / len(SHAPE_NAMES)
    assert accuracy > 3 * chance, accuracy


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count": -1}, "Invalid `count`"),
        ({"count": 2.0}, "Invalid `count`"),
        ({"count": 5, "image_size": 4}, "Invalid `image_size`"),
        ({"count": 5, "image_size": 1000}, "Invalid `image_size`"),
        ({"count": 5, "image_size": True}, "Invalid `image_size`"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_shapes(**kwargs)
