"""load_dataset on the embedded data sets: layout, splits, determinism, subsets."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cnnlab.data import Dataset, get_info, load_dataset, planned_train_count
from cnnlab.data.cache import DATA_CACHE
from cnnlab.data.resize import resize_images
from cnnlab.data.shapes import SHAPE_NAMES

CASES = [
    # name, image_size, expected image shape, class names
    ("digits", None, (32, 32, 1), tuple("0123456789")),
    ("digits", 16, (16, 16, 1), tuple("0123456789")),
    ("shapes", None, (32, 32, 3), SHAPE_NAMES),
    ("shapes", 20, (20, 20, 3), SHAPE_NAMES),
]


@pytest.mark.parametrize("name, image_size, shape, class_names", CASES)
def test_layout(name, image_size, shape, class_names):
    data = load_dataset(name, image_size=image_size)
    info = get_info(name)
    assert isinstance(data, Dataset) and data.name == name
    assert data.input_shape == shape
    assert data.class_names == class_names and data.num_classes == info.num_classes
    held_out = round(0.2 * info.pool_size)
    sizes = (len(data.x_train), len(data.x_val), len(data.x_test))
    assert sizes == (info.pool_size - held_out, held_out, info.test_size)
    for x, y in [
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    ]:
        assert x.dtype == np.float32 and x.shape[1:] == shape
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
        assert y.dtype == np.int32 and y.ndim == 1
        assert set(np.unique(y)) == set(range(info.num_classes))
        assert not x.flags.writeable and not y.flags.writeable
    assert data.nbytes == sum(
        a.nbytes
        for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    )


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_splits_are_stratified(name):
    data = load_dataset(name, validation_fraction=0.3, seed=4)
    pool_counts = np.bincount(np.concatenate([data.y_train, data.y_val]))
    # Each class keeps its share of the pool in validation, to within one image.
    val_counts = np.bincount(data.y_val, minlength=data.num_classes)
    assert np.all(np.abs(val_counts - 0.3 * pool_counts) <= 1)


def test_subset_is_stratified():
    data = load_dataset("shapes", train_size=400, seed=1)
    assert np.array_equal(np.bincount(data.y_train), [50] * 8)


def test_digits_are_sklearns_digits_scaled_to_unit_range():
    """At the native 8×8 the pool plus the test split is exactly scikit-learn's set, /16."""
    data = load_dataset("digits", image_size=8, validation_fraction=0.0)
    ours = np.concatenate([data.x_train, data.x_test])[..., 0].reshape(-1, 64)
    reference = load_digits().images.reshape(-1, 64) / 16
    assert len(ours) == len(reference) == 1797

    def rows_sorted(a):
        return a[np.lexsort(a.T[::-1])]

    np.testing.assert_allclose(rows_sorted(ours), rows_sorted(reference), atol=1e-7)


def test_digits_upscaling_is_bilinear():
    small = load_dataset("digits", image_size=8, validation_fraction=0.0, seed=0)
    large = load_dataset("digits", image_size=32, validation_fraction=0.0, seed=0)
    np.testing.assert_allclose(large.x_test, resize_images(np.array(small.x_test), 32), atol=1e-6)
    # Bilinear weights are convex: no value leaves the range of its neighbours, and the
    # mean brightness barely moves.
    np.testing.assert_allclose(large.x_test.mean(), small.x_test.mean(), atol=0.02)


def test_resize_of_uint8_matches_float_within_rounding():
    images = np.random.default_rng(0).integers(0, 256, (5, 10, 10, 3), dtype=np.uint8)
    as_uint8 = resize_images(images, 23).astype(np.float32) / 255
    as_float = resize_images(images.astype(np.float32) / 255, 23)
    assert as_uint8.shape == as_float.shape == (5, 23, 23, 3)
    np.testing.assert_allclose(as_uint8, as_float, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_determinism(name):
    first = load_dataset(name, seed=3, train_size=300)
    DATA_CACHE.clear()
    again = load_dataset(name, seed=3, train_size=300)
    other_seed = load_dataset(name, seed=4, train_size=300)
    assert first is not again  # Rebuilt after the cache was cleared, yet identical:
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.y_val, other_seed.y_val)
    assert not np.array_equal(first.x_train, other_seed.x_train)
    # The test split never depends on the experiment's seed.
    np.testing.assert_array_equal(first.x_test, other_seed.x_test)
    np.testing.assert_array_equal(first.y_test, other_seed.y_test)


def test_test_split_never_overlaps_the_pool():
    data = load_dataset("digits", image_size=8, validation_fraction=0.0)
    pool = {row.tobytes() for row in np.asarray(data.x_train)}
    # A handful of sklearn's digits are exact duplicates of each other, hence "almost".
    overlap = sum(row.tobytes() in pool for row in np.asarray(data.x_test))
    assert overlap <= 5


def test_shapes_are_drawn_at_the_requested_size_not_resized():
    drawn = load_dataset("shapes", image_size=64, train_size=8)
    resized = resize_images(np.array(load_dataset("shapes", image_size=32).x_test), 64)
    assert drawn.x_test.shape == resized.shape
    assert np.abs(drawn.x_test - resized).mean() > 0.01


@pytest.mark.parametrize(
    "name, train_size, fraction",
    [
        ("digits", None, 0.2),
        ("digits", None, 0.0),
        ("digits", 137, 0.5),
        ("digits", None, 0.9),
        ("shapes", None, 0.25),
        ("shapes", 999, 0.1),
    ],
)
def test_planned_train_count_matches_the_load(name, train_size, fraction):
    data = load_dataset(name, train_size=train_size, validation_fraction=fraction, image_size=8)
    planned = planned_train_count(name, train_size=train_size, validation_fraction=fraction)
    assert len(data.x_train) == planned
    assert len(data.x_train) + len(data.x_val) <= get_info(name).pool_size


def test_zero_validation_fraction_gives_empty_validation_arrays():
    data = load_dataset("digits", validation_fraction=0.0)
    assert data.x_val.shape == (0, 32, 32, 1) and data.x_val.dtype == np.float32
    assert data.y_val.shape == (0,) and data.y_val.dtype == np.int32
    assert len(data.x_train) == get_info("digits").pool_size


def test_train_subset_of_requested_size():
    data = load_dataset("digits", train_size=250, seed=1)
    assert len(data.x_train) == len(data.y_train) == 250


def test_train_size_too_large():
    with pytest.raises(ValueError, match=r"Expected at most 3200 .* Received: train_size=3201"):
        load_dataset("shapes", train_size=3201)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "imagenet"}, "Unknown `dataset`. Expected one of"),
        ({"name": "digits", "image_size": 4}, "Invalid `image_size`"),
        ({"name": "digits", "image_size": 32.0}, "Invalid `image_size`"),
        ({"name": "digits", "seed": -1}, "Invalid `seed`"),
        ({"name": "digits", "seed": 1.5}, "Invalid `seed`"),
        ({"name": "digits", "validation_fraction": 0.91}, "Invalid `validation_fraction`"),
        ({"name": "digits", "train_size": 0}, "Invalid `train_size`"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


def test_arrays_are_read_only():
    data = load_dataset("digits")
    with pytest.raises(ValueError, match="read-only"):
        data.x_train[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        data.y_test[0] = 3


def test_dataset_rejects_mismatched_splits():
    x = np.zeros((4, 8, 8, 1), np.float32)
    y = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="Invalid `val` split"):
        Dataset("toy", x, y, x[:2, :4], y[:2], x, y, ("a", "b"))
    with pytest.raises(ValueError, match="Invalid `test` split"):
        Dataset("toy", x, y, x, y, x, y[:3], ("a", "b"))


def test_dataset_is_frozen_and_compared_by_identity():
    data = load_dataset("digits")
    with pytest.raises(AttributeError):
        data.name = "other"
    assert data != Dataset(*(getattr(data, f) for f in Dataset.__dataclass_fields__))
    assert len({data, data}) == 1
