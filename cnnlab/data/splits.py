"""Stratified, seeded splits of a labelled pool: validation split and training subset.

Why a module of its own: the sizes must be computable without loading the images (a form
checks the batch size against the training set before anything is written), so the
counting rules and the drawing live side by side and cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np


def validation_count(pool_size: int, validation_fraction: float) -> int:
    """How many pool images go to validation: the fraction of the pool, rounded half up.

    Why not Python's `round`: it rounds halves to even, which surprises people checking
    the numbers by hand.
    """
    return int(math.floor(validation_fraction * pool_size + 0.5))


def stratified_sample(
    labels: np.ndarray, indices: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw `count` of `indices` so that each class keeps its share, in shuffled order.

    Why largest remainders: every class gets the floor of its exact share, and the few
    images left over go to the classes whose shares were cut the most, so the total is
    exactly `count` and no class is off by more than one image.

    Args:
        labels: the class of every image in the pool.
        indices: the pool positions to draw from.
        count: how many to draw, at most `len(indices)`.
        rng: the generator that makes the draw reproducible.
    """
    assert 0 <= count <= len(indices), (count, len(indices))
    indices = np.asarray(indices, dtype=np.int64)
    classes, class_counts = np.unique(labels[indices], return_counts=True)
    exact = count * class_counts / max(len(indices), 1)
    quotas = np.floor(exact).astype(np.int64)
    # A stable sort breaks ties by class order, so the draw depends on the seed alone.
    leftover = count - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:leftover]] += 1
    chosen = [
        rng.permutation(indices[labels[indices] == label])[:quota]
        for label, quota in zip(classes, quotas, strict=True)
    ]
    picked = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    return rng.permutation(picked)


def split_pool(
    labels: np.ndarray, *, validation_fraction: float, train_size: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the validation split and of the training subset drawn from a pool.

    Validation is drawn first, so for one seed and fraction it stays the same whatever
    `train_size` is: runs that differ only in the training-set size are compared on the
    same validation images.

    Args:
        labels: the class of every image in the pool.
        validation_fraction: the share of the pool held out for validation.
        train_size: how many of the remaining images to train on; None takes them all.
        seed: seeds both draws.

    Returns:
        `(validation_indices, train_indices)`, each in shuffled order.
    """
    rng = np.random.default_rng(seed)
    everything = np.arange(len(labels))
    validation = stratified_sample(
        labels, everything, validation_count(len(labels), validation_fraction), rng
    )
    rest = np.setdiff1d(everything, validation, assume_unique=True)
    train = stratified_sample(labels, rest, len(rest) if train_size is None else train_size, rng)
    return validation, train
