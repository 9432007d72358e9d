"""The Dataset a run trains on: train, validation and test arrays plus class names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
