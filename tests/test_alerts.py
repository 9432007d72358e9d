"""Health alerts: each fires on the figures the lectures describe, and not on healthy ones.

The vanishing-gradient alert is proven on real runs (a ten-layer sigmoid network with
N(0, 1) weights against ReLU, He and batch norm); the others on stored figures written
to show exactly the pattern each one looks for.
"""

from __future__ import annotations

import math
import threading

import pytest

from cnnlab.alerts import (
    DEAD_FRACTION,
    OVERFITTING_EPOCHS,
    VANISHING_RATIO,
    WINDOW,
    first_to_last_ratio,
    health_alerts,
)
from cnnlab.config import ExperimentConfig
from cnnlab.history import RunHistory
from cnnlab.training.job import execute_run


def _history(store, rows, config=None) -> RunHistory:
    run_id = store.create_run((config or ExperimentConfig()).to_dict())
    store.add_metrics(run_id, rows)
    history = RunHistory(run_id)
    history.update(store)
    return history


def _kinds(alerts):
    return [alert.kind for alert in alerts]


def _trained(store, tricks):
    config = ExperimentConfig(dataset="digits", architecture="deep_plain", train_size=480,
                              epochs=2, tricks=tricks)
    run_id = store.create_run(config.to_dict())
    assert execute_run(store, run_id, config, threading.Event()) == "completed"
    history = RunHistory(run_id)
    history.update(store)
    return history


def test_vanishing_alert_fires_for_deep_sigmoid_with_standard_normal_weights(store):
    history = _trained(store, {"activation": "sigmoid", "initializer": "standard_normal"})
    ratio = first_to_last_ratio(history.layer_table("grad_norm"))
    assert ratio.tail(WINDOW).median() < VANISHING_RATIO
    alerts = health_alerts(history)
    assert "vanishing" in _kinds(alerts)
    vanishing = next(a for a in alerts if a.kind == "vanishing")
    assert "block1_conv1" in vanishing.detail and "He initialization" in vanishing.remedy


def test_no_vanishing_alert_for_relu_he_and_batch_norm(store):
    history = _trained(store, {"activation": "relu", "initializer": "he_normal", "batch_norm": True})
    assert first_to_last_ratio(history.layer_table("grad_norm")).tail(WINDOW).median() > 3 * VANISHING_RATIO
    assert "vanishing" not in _kinds(health_alerts(history))


def _layer_rows(kind, values_by_step, layers=("conv1", "fc1", "predictions")):
    return [(1, step, f"{kind}/{layer}", value)
            for step, values in enumerate(values_by_step, start=1)
            for layer, value in zip(layers, values)]


def test_exploding_alert_for_growing_gradients_and_not_for_steady_ones(store):
    steady = _layer_rows("grad_norm", [(0.5, 0.4, 0.3)] * 30)
    assert health_alerts(_history(store, steady)) == []
    growing = _layer_rows("grad_norm", [(0.5 * 1.5 ** i, 0.4, 0.3) for i in range(30)])
    alerts = health_alerts(_history(store, growing))
    assert _kinds(alerts) == ["exploding"]
    backwards = _layer_rows("grad_norm", [(500.0, 5.0, 1.0)] * 30)  # 500x the last layer's
    assert _kinds(health_alerts(_history(store, backwards))) == ["exploding"]


def test_dead_relu_alert_names_the_worst_layer(store):
    rows = [(1, 10, "dead_fraction/block1_act1", 0.1), (1, 10, "dead_fraction/fc1_act", 0.2),
            (2, 10, "dead_fraction/block1_act1", 0.1), (2, 10, "dead_fraction/fc1_act", 0.75)]
    alerts = health_alerts(_history(store, rows))
    assert _kinds(alerts) == ["dead_relu"]
    assert "75% of the units of fc1_act" in alerts[0].detail
    assert "leaky ReLU" in alerts[0].remedy
    healthy = [(1, 10, "dead_fraction/fc1_act", DEAD_FRACTION - 0.1)]
    assert health_alerts(_history(store, healthy)) == []


def test_divergence_alert_from_a_nan_loss_or_the_status(store):
    rows = [(1, 1, "batch/loss", 2.0), (1, 2, "batch/loss", math.nan)]
    alerts = health_alerts(_history(store, rows))
    assert _kinds(alerts) == ["diverged"] and "epoch 1, step 2" in alerts[0].detail
    assert _kinds(health_alerts(_history(store, [(1, 1, "batch/loss", 2.0)]), status="diverged")) == ["diverged"]


@pytest.mark.parametrize("val_losses, fires", [
    ([1.0, 0.8, 0.7, 0.75, 0.8, 0.9], True),  # three rises in a row while training loss falls
    ([1.0, 0.8, 0.7, 0.75, 0.8, 0.79], False),  # the last epoch fell again
    ([1.0, 0.8, 0.7, 0.65, 0.6, 0.55], False),
])
def test_overfitting_alert_after_k_epochs_of_rising_validation_loss(store, val_losses, fires):
    rows = []
    for epoch, val_loss in enumerate(val_losses, start=1):
        rows += [(epoch, 10, "loss", 1.0 / epoch), (epoch, 10, "val_loss", val_loss)]
    alerts = health_alerts(_history(store, rows))
    assert ("overfitting" in _kinds(alerts)) is fires
    if fires:
        assert f"risen for {OVERFITTING_EPOCHS} epochs" in alerts[0].detail
        assert "lowest at epoch 3" in alerts[0].detail
