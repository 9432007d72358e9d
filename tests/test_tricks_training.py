"""Training-side tricks, proven on real runs: schedules, early stopping, clipping, seeds."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from cnnlab.config import OPTIMIZERS, ExperimentConfig
from cnnlab.training.optimizers import make_optimizer


def _run(manager, config):
    run_id = manager.submit(config)
    record = manager.wait(run_id, timeout=180)
    assert record.status == "completed", record.error
    return run_id, record


def _series(store, run_id, name):
    return [row for row in store.metrics(run_id, names=[name])]


@pytest.mark.parametrize("schedule, formula", [
    ({"kind": "exponential", "decay_rate": 0.5, "unit": "epoch"},
     lambda lr, epoch, iteration: lr * math.exp(-0.5 * epoch)),
    ({"kind": "time_based", "decay_rate": 0.2, "unit": "iteration"},
     lambda lr, epoch, iteration: lr / (1 + 0.2 * iteration)),
    ({"kind": "step", "step_size": 1, "drop_factor": 0.5, "unit": "epoch"},
     lambda lr, epoch, iteration: lr * 0.5 ** epoch),
])
def test_the_learning_rate_logged_every_step_follows_the_schedule(manager, store, tiny_config, schedule, formula):
    config = tiny_config.with_overrides({"epochs": 3, "learning_rate": 0.01, **{f"schedule.{k}": v for k, v in schedule.items()}})
    run_id, _ = _run(manager, config)
    rows = _series(store, run_id, "batch/learning_rate")
    steps = math.ceil(256 / 32)
    assert len(rows) == 3 * steps
    for row in rows:
        iteration = (row.epoch - 1) * steps + row.step - 1
        assert row.value == pytest.approx(formula(0.01, row.epoch - 1, iteration), rel=1e-5)


def test_early_stopping_stops_and_restores_the_best_epoch(manager, store, tiny_config):
    # No later epoch can beat the first by 10: patience 1 stops after epoch 2 and the
    # weights go back to epoch 1's.
    config = tiny_config.with_overrides({
        "epochs": 10, "early_stopping.enabled": True, "early_stopping.monitor": "val_loss",
        "early_stopping.min_delta": 10.0, "early_stopping.patience": 1,
    })
    run_id, record = _run(manager, config)
    untrained, *val_losses = _series(store, run_id, "val_loss")
    assert untrained.epoch == 0  # the untrained point, before the first step
    assert [row.epoch for row in val_losses] == [1, 2]
    assert record.final_metrics["early_stopping_epoch"] == 2
    assert record.final_metrics["best_epoch"] == 1
    # The kept model is epoch 1's: its validation loss is epoch 1's, not epoch 2's.
    assert record.final_metrics["val_loss"] == pytest.approx(val_losses[0].value, rel=1e-4)
    assert record.final_metrics["val_loss"] != pytest.approx(val_losses[1].value, rel=1e-4)


def test_the_same_seed_gives_the_same_run_and_another_seed_does_not(manager, store, tiny_config):
    config = tiny_config.with_overrides({"tricks.dropout_rate": 0.3, "epochs": 1})
    losses = []
    for seed in (7, 7, 8):
        run_id, _ = _run(manager, config.with_overrides({"seed": seed}))
        losses.append([row.value for row in _series(store, run_id, "batch/loss")])
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


@pytest.mark.parametrize("batch_size, steps", [(1, 64), (16, 4), (64, 1)])
def test_stochastic_mini_batch_and_full_batch_descent(manager, store, tiny_config, batch_size, steps):
    config = tiny_config.with_overrides({"train_size": 64, "batch_size": batch_size, "epochs": 1})
    run_id, _ = _run(manager, config)
    assert len(_series(store, run_id, "batch/loss")) == steps  # one update per batch


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds_with_its_options_and_trains(name):
    config = ExperimentConfig.from_dict({
        "optimizer": name, "learning_rate": 0.01,
        "optimizer_options": {"momentum": 0.9, "nesterov": True, "rho": 0.8, "beta_1": 0.8,
                              "beta_2": 0.99, "weight_decay": 0.01, "clipnorm": 1.0},
    })
    optimizer = make_optimizer(config)
    assert type(optimizer).__name__.lower() == name
    assert optimizer.clipnorm == 1.0
    expected = {"sgd": {"momentum": 0.9, "nesterov": True}, "rmsprop": {"rho": 0.8},
                "adam": {"beta_1": 0.8, "beta_2": 0.99}, "adamw": {"weight_decay": 0.01},
                "adadelta": {"rho": 0.8}, "nadam": {"beta_1": 0.8}}.get(name, {})
    for key, value in expected.items():
        assert getattr(optimizer, key) == pytest.approx(value)


@pytest.mark.parametrize("option, bound", [("clipnorm", 0.01), ("clipvalue", 0.001)])
def test_gradient_clipping_bounds_each_update(option, bound):
    config = ExperimentConfig.from_dict({"optimizer": "sgd", "learning_rate": 1.0,
                                         "optimizer_options": {option: bound}})
    optimizer = make_optimizer(config)
    weight = keras.Variable(np.zeros((100,), dtype="float32"))
    gradient = keras.ops.convert_to_tensor(np.full((100,), 50.0, dtype="float32"))
    optimizer.apply_gradients([(gradient, weight)])
    update = -keras.ops.convert_to_numpy(weight)  # SGD: lr * clipped gradient
    if option == "clipnorm":
        assert np.linalg.norm(update) == pytest.approx(bound, rel=1e-5)  # the norm is bounded
    else:
        assert np.abs(update).max() == pytest.approx(bound, rel=1e-5)  # every element is


def test_an_augmented_run_completes_and_keeps_its_pipeline_in_the_config(manager, store, tiny_config):
    config = tiny_config.with_overrides({"augmentation.rotation_range": 20.0,
                                         "augmentation.horizontal_flip": True, "epochs": 1})
    run_id, record = _run(manager, config)
    assert record.config["augmentation"]["rotation_range"] == 20.0
    assert "augmented" in record.name
