"""Stratified, seeded splits: exact sizes, class shares kept, reproducible."""

import numpy as np
import pytest

from cnnlab.data.splits import split_pool, stratified_sample, validation_count

# An unbalanced pool: 50, 30, 15 and 5 images in four classes.
LABELS = np.repeat(np.arange(4), [50, 30, 15, 5]).astype(np.int32)


@pytest.mark.parametrize(
    "pool, fraction, expected",
    [(100, 0.2, 20), (1438, 0.2, 288), (10, 0.25, 3), (10, 0.05, 1), (3, 0.5, 2), (7, 0.0, 0)],
)
def test_validation_count_rounds_half_up(pool, fraction, expected):
    assert validation_count(pool, fraction) == expected


@pytest.mark.parametrize("count", [0, 1, 7, 20, 33, 99, 100])
def test_stratified_sample_keeps_class_shares(count):
    picked = stratified_sample(LABELS, np.arange(100), count, np.random.default_rng(0))
    assert len(picked) == count == len(np.unique(picked))
    per_class = np.bincount(LABELS[picked], minlength=4)
    exact = count * np.bincount(LABELS) / len(LABELS)
    assert np.all(np.abs(per_class - exact) < 1)


def test_stratified_sample_draws_only_from_indices():
    indices = np.arange(0, 100, 2)
    picked = stratified_sample(LABELS, indices, 20, np.random.default_rng(3))
    assert set(picked) <= set(indices)


def test_stratified_sample_is_seeded():
    def draw(seed):
        return stratified_sample(LABELS, np.arange(100), 30, np.random.default_rng(seed))

    assert np.array_equal(draw(1), draw(1))
    assert not np.array_equal(draw(1), draw(2))


def test_split_pool_is_disjoint_and_validation_ignores_train_size():
    validation, train_all = split_pool(LABELS, validation_fraction=0.2, train_size=None, seed=5)
    same_validation, train_small = split_pool(
        LABELS, validation_fraction=0.2, train_size=10, seed=5
    )
    assert len(validation) == 20 and len(train_all) == 80 and len(train_small) == 10
    assert not set(validation) & set(train_all)
    assert np.array_equal(validation, same_validation)
    assert set(train_small) <= set(train_all)
