"""Loading a registered data set as a Dataset: pool, splits, resizing and caching.

Imported image folders (`folder:<name>`, see `cnnlab.data.image_store`) load the same way:
their stored pool and test split, already resized at import, are the published form.

Every data set is loaded in two steps. The *pool* (the official training split and the
test split, in their compact published form: uint8 where possible, native size) is
cached per process; a *Dataset* is then cut from it by seed, validation fraction and
training-subset size, resized, and cached too. Only the images a run uses are ever
converted to float32 or resized, so a 500-image subset of CIFAR-10 at 96 px costs
megabytes, not the gigabytes the whole resized pool would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab.data.cache import DATA_CACHE
from cnnlab.data.dataset import Dataset, DatasetInfo
from cnnlab.data.registry import get_info
from cnnlab.data.resize import resize_images
from cnnlab.data.splits import split_pool, validation_count

MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 512
MAX_VALIDATION_FRACTION = 0.9
# The shapes data set is drawn from fixed seeds, separate for pool and test, so it is the
# same data set for every experiment and its test images never overlap its pool.
SHAPES_POOL_SEED = 1
SHAPES_TEST_SEED = 2


@dataclass(frozen=True, eq=False)
class _Pool:
    """A data set as published: its training pool and test split, before any split or resize."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in (self.x_pool, self.y_pool, self.x_test, self.y_test))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_image_size(image_size) -> None:
    if image_size is not None and (
        not _is_int(image_size) or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE
    ):
        raise ValueError(
            f"Invalid `image_size`. Expected None (the data set's default) or an integer "
            f"side length from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels. "
            f"Received: image_size={image_size!r}."
        )


def _check_seed(seed) -> None:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"Invalid `seed`. Expected an integer >= 0. Received: seed={seed!r}.")


def planned_train_count(name: str, *, train_size: int | None, validation_fraction: float) -> int:
    """How many training images `load_dataset` would return, computed without loading.

    Why: a form must reject a batch size larger than the training set, or a training
    subset larger than what is left after validation, before anything is loaded or saved.

    Args:
        name: a registered data set name.
        train_size: the requested training-subset size; None takes all images left after
            the validation split.
        validation_fraction: the share of the pool held out for validation, 0 to 0.9.

    Raises:
        ValueError: for an unknown name, an invalid fraction, or a `train_size` that is
            not a positive integer or exceeds the images available.
    """
    info = get_info(name)
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, (int, float, np.floating, np.integer))
        or not 0 <= validation_fraction <= MAX_VALIDATION_FRACTION
    ):
        raise ValueError(
            "Invalid `validation_fraction`. Expected a number from 0 (no validation split) "
            f"to {MAX_VALIDATION_FRACTION}. Received: validation_fraction={validation_fraction!r}."
        )
    held_out = validation_count(info.pool_size, validation_fraction)
    available = info.pool_size - held_out
    if train_size is None:
        return available
    if not _is_int(train_size) or train_size < 1:
        raise ValueError(
            "Invalid `train_size`. Expected None (all available images) or an integer >= 1. "
            f"Received: train_size={train_size!r}."
        )
    if train_size > available:
        raise ValueError(
            f"`train_size` is larger than the training images available in '{name}'. "
            f"Expected at most {available} ({info.pool_size} images in the training pool "
            f"minus {held_out} held out for validation with "
            f"validation_fraction={validation_fraction}). Received: train_size={train_size}. "
            "Fix: lower `train_size`, lower `validation_fraction`, or leave `train_size` "
            "empty to use all available images."
        )
    return int(train_size)


def load_dataset(
    name: str,
    *,
    image_size: int | None = None,
    train_size: int | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a registered data set, split into training subset, validation and test.

    The validation split is a stratified `validation_fraction` of the official training
    split (the pool); the training subset is `train_size` images drawn, stratified, from
    the rest. Both depend on `seed`; the test split never does. Results are cached per
    process, so calling again with the same arguments returns the same object, and
    its arrays are read-only so that no caller can corrupt the cached copy.

    Args:
        name: one of `dataset_names()`.
        image_size: the side length to resize (or, for shapes, draw) the images at;
            None for the data set's `default_size`.
        train_size: how many training images; None for all left after validation.
        validation_fraction: the share of the pool held out for validation, 0 to 0.9;
            0 gives an empty validation split.
        seed: seeds the validation split and the training subset.

    Raises:
        ValueError: for invalid arguments.
        DatasetUnavailableError: a downloadable data set is not cached and cannot be
            downloaded.
    """
    info = get_info(name)
    _check_image_size(image_size)
    planned_train_count(name, train_size=train_size, validation_fraction=validation_fraction)
    _check_seed(seed)
    size = info.default_size if image_size is None else int(image_size)
    key = ("dataset", _cache_name(info), size, train_size, float(validation_fraction), int(seed))
    return DATA_CACHE.get_or_load(
        key,
        lambda: _cut(info, size, train_size, float(validation_fraction), int(seed)),
        size=lambda dataset: dataset.nbytes,
    )


def _cut(info: DatasetInfo, size: int, train_size, validation_fraction, seed) -> Dataset:
    pool = _load_pool(info, size)
    assert len(pool.y_pool) == info.pool_size, (info.name, len(pool.y_pool))
    validation, train = split_pool(
        pool.y_pool, validation_fraction=validation_fraction, train_size=train_size, seed=seed
    )
    return Dataset(
        name=info.name,
        x_train=_images(pool.x_pool[train], size),
        y_train=_read_only(pool.y_pool[train]),
        x_val=_images(pool.x_pool[validation], size),
        y_val=_read_only(pool.y_pool[validation]),
        x_test=_images(pool.x_test, size),
        y_test=_read_only(pool.y_test.copy()),
        class_names=pool.class_names,
    )


def _images(raw: np.ndarray, size: int) -> np.ndarray:
    """Resize first, while still compact, then convert to float32 in [0, 1]."""
    images = resize_images(raw, size)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255)
    else:
        images = np.clip(images, 0.0, 1.0, dtype=np.float32)
    return _read_only(images)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _load_pool(info: DatasetInfo, size: int) -> _Pool:
    # Shapes are drawn at the requested size (sharper than resizing); the others are
    # kept at their native size and resized per Dataset.
    pool_size = size if info.name == "shapes" else info.native_size
    return DATA_CACHE.get_or_load(
        ("pool", _cache_name(info), pool_size),
        lambda: _read_pool(info.name, pool_size),
        size=lambda pool: pool.nbytes,
    )


def _cache_name(info: DatasetInfo) -> str:
    """The data set's name in cache keys; an imported one's carries its import id, so a data
    set deleted and imported again under the same name is never served stale."""
    return f"{info.name}@{info.version}" if info.version else info.name


def _read_pool(name: str, size: int) -> _Pool:
    if name.startswith("folder:"):
        from cnnlab.data.image_store import load_stored_pool, name_of

        arrays, class_names = load_stored_pool(name_of(name))
    elif name == "digits":
        from cnnlab.data.digits import CLASS_NAMES, load_digits_pool

        arrays, class_names = load_digits_pool(), CLASS_NAMES
    elif name == "shapes":
        from cnnlab.data.shapes import SHAPE_NAMES, draw_shapes

        info = get_info(name)
        arrays = (
            *draw_shapes(info.pool_size, size, SHAPES_POOL_SEED),
            *draw_shapes(info.test_size, size, SHAPES_TEST_SEED),
        )
        class_names = SHAPE_NAMES
    else:
        from cnnlab.data.keras_datasets import CLASS_NAMES, load_keras_pool

        arrays, class_names = load_keras_pool(name), CLASS_NAMES[name]
    return _Pool(*(_read_only(array) for array in arrays), class_names=tuple(class_names))
