"""scikit-learn's handwritten digits: real data that ships with the lab, no download needed."""

from __future__ import annotations

import numpy as np

from cnnlab.data.splits import stratified_sample, validation_count

CLASS_NAMES = tuple(str(digit) for digit in range(10))
TEST_FRACTION = 0.2
# Fixed, not the experiment's seed: the test images must be the same for every run, or
# test accuracies of two runs would not be comparable.
TEST_SEED = 20_240_601


def load_digits_pool() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits pool and test split at the native 8×8, float32 in [0, 1].

    scikit-learn publishes the 1,797 images as one set, so a stratified 20% is held out
    once, with a fixed seed, to serve as the test split.

    Returns:
        `(x_pool, y_pool, x_test, y_test)`; images `(N, 8, 8, 1)`, labels int32.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts of set bits in 4×4 blocks of the original 32×32 bitmaps: 0..16.
    images = (bunch.images.astype(np.float32) / 16.0)[..., None]
    labels = bunch.target.astype(np.int32)
    rng = np.random.default_rng(TEST_SEED)
    everything = np.arange(len(labels))
    test = np.sort(
        stratified_sample(labels, everything, validation_count(len(labels), TEST_FRACTION), rng)
    )
    pool = np.setdiff1d(everything, test, assume_unique=True)
    return images[pool], labels[pool], images[test], labels[test]
