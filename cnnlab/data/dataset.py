"""What a data set is: `DatasetInfo`, known before loading; `Dataset`, the arrays a run trains on.

Why together: the registry (built-in sets) and the image store (imported ones) both describe
their data sets with `DatasetInfo`, and the loader turns either into a `Dataset`; neither
side imports the other for the type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DatasetInfo:
    """What the lab knows about a data set without loading it.

    Why: forms must show titles, reject a batch size larger than the training set, and
    warn that a download is needed, all before anything heavy happens.

    Args:
        name: the registry key, as stored in an experiment config.
        title: a short display name.
        description: one or two sentences for the UI.
        native_size: the side length in pixels of the images as published.
        default_size: the side used when the caller gives `image_size=None`.
        channels: 1 (grayscale) or 3 (RGB).
        num_classes: the number of classes.
        pool_size: images in the official training split, from which the validation split
            and the training subset are drawn.
        test_size: images in the test split.
        needs_download: whether the first load downloads files into Keras' cache.
        version: what identifies the stored content of an imported data set (empty for the
            built-in ones); caches key on it, so a data set imported again under the same
            name is never served from a stale copy.
    """

    name: str
    title: str
    description: str
    native_size: int
    default_size: int
    channels: int
    num_classes: int
    pool_size: int
    test_size: int
    needs_download: bool
    version: str = ""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one experiment, split three ways and ready for `model.fit`.

    Why: every consumer (training, the augmentation previewer, analysis) wants the same
    three splits in the same layout, so the layout is fixed here once: images are float32
    NHWC in [0, 1], labels are int32 class indices in a 1-D array. `eq=False` keeps
    identity semantics (and hashing), since comparing arrays element-wise is neither
    cheap nor what "the same data set" means to the cache.

    Args:
        name: the registry name of the data set, e.g. `"digits"`.
        x_train, y_train: the training subset.
        x_val, y_val: the validation split; may be empty (shape `(0, H, W, C)`).
        x_test, y_test: the test split.
        class_names: one display name per class index.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self):
        splits = {
            "train": (self.x_train, self.y_train),
            "val": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }
        shape = self.x_train.shape[1:]
        for split, (x, y) in splits.items():
            if x.ndim != 4 or x.shape[1:] != shape or y.ndim != 1 or len(x) != len(y):
                raise ValueError(
                    f"Invalid `{split}` split of data set '{self.name}'. Expected images of "
                    f"shape (N, H, W, C) matching the training images {shape} and N labels "
                    f"in a 1-D array. Received: x_{split}.shape={x.shape}, "
                    f"y_{split}.shape={y.shape}."
                )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one image, `(height, width, channels)`: what a model's Input takes."""
        height, width, channels = self.x_train.shape[1:]
        return int(height), int(width), int(channels)

    @property
    def num_classes(self) -> int:
        """How many classes the labels index into (those absent from a small subset included)."""
        return len(self.class_names)

    @property
    def nbytes(self) -> int:
        """Memory held by the six arrays, which is what the data cache budgets by."""
        arrays = (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)
        return sum(int(a.nbytes) for a in arrays)
