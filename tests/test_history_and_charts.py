"""RunHistory's incremental tables and the training-curves figure built from them."""

from __future__ import annotations

import pytest

from cnnlab.analysis.history import RunHistory
from cnnlab.charts import training as charts


def _write_epoch(store, run_id, epoch, steps=4):
    rows = [(epoch, step, "batch/loss", 2.0 / (epoch * step)) for step in range(1, steps + 1)]
    rows += [(epoch, steps, "loss", 1.0 / epoch), (epoch, steps, "val_loss", 1.2 / epoch),
             (epoch, steps, "accuracy", 0.5 + 0.1 * epoch), (epoch, steps, "val_accuracy", 0.4 + 0.1 * epoch)]
    store.add_metrics(run_id, rows)


def test_history_fetches_only_new_rows_and_pivots(store):
    run_id = store.create_run({"epochs": 3})
    history = RunHistory(run_id)
    assert history.update(store) == 0 and history.epochs.empty
    _write_epoch(store, run_id, 1)
    assert history.update(store) == 8
    assert history.update(store) == 0
    _write_epoch(store, run_id, 2)
    assert history.update(store) == 8
    assert list(history.epochs.index) == [1, 2]
    assert history.epochs.loc[2, "val_accuracy"] == pytest.approx(0.6)
    assert len(history.batches) == 8
    assert history.batches.loc[(2, 4), "loss"] == pytest.approx(2.0 / 8)


def test_training_curves_places_batches_at_fractional_epochs(store):
    run_id = store.create_run({})
    history = RunHistory(run_id)
    _write_epoch(store, run_id, 1)
    store.add_metrics(run_id, [(2, 1, "batch/loss", 0.9), (2, 2, "batch/loss", 0.8)])  # epoch 2 half done
    history.update(store)
    figure = charts.training_curves(history.epochs, history.batches, steps_per_epoch=4, total_epochs=5)
    traces = {trace.name: trace for trace in figure.data}
    assert list(traces["batch loss"].x) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert list(traces["train loss"].x) == [1] and list(traces["validation accuracy"].y) == [pytest.approx(0.5)]
    assert figure.layout.xaxis.range == (0, 5.05)


def test_training_curves_of_an_empty_run_is_an_empty_figure():
    import pandas as pd

    figure = charts.training_curves(pd.DataFrame(), pd.DataFrame())
    assert len(figure.data) == 0


def test_a_diverged_loss_stays_in_the_table(store):
    run_id = store.create_run({})
    store.add_metrics(run_id, [(1, 1, "batch/loss", 2.0), (1, 2, "batch/loss", float("nan"))])
    history = RunHistory(run_id)
    history.update(store)
    assert len(history.batches) == 2 and history.batches["loss"].isna().sum() == 1


def test_a_two_phase_run_marks_where_fine_tuning_starts(store):
    run_id = store.create_run({})
    for epoch in (1, 2, 3):
        _write_epoch(store, run_id, epoch)
    store.add_metrics(run_id, [(1, 0, "phase", 1.0), (3, 0, "phase", 2.0)])
    history = RunHistory(run_id)
    history.update(store)
    figure = charts.training_curves(history.epochs, history.batches, steps_per_epoch=4)
    lines = [shape for shape in figure.layout.shapes if shape.type == "line"]
    assert {line.x0 for line in lines} == {2}  # phase 2 begins after epoch 2
    assert any(a.text == "fine-tuning starts" for a in figure.layout.annotations)


def test_layer_columns_follow_the_model_once_the_run_stored_its_layer_order(store):
    """A two-phase transfer run records the base's layers only when fine-tuning unfreezes
    them, after the head's: the stored layer order puts them back, input to output."""
    import json

    from cnnlab.training.figures import LAYER_ORDER

    run_id = store.create_run({})
    store.add_metrics(run_id, [(1, 1, "grad_norm/head", 1.0), (1, 1, "dead_fraction/head_act", 0.1)])
    store.add_metrics(run_id, [(2, 1, "grad_norm/base/conv2", 2.0), (2, 1, "grad_norm/base/conv1", 3.0),
                               (2, 1, "grad_norm/head", 4.0)])
    history = RunHistory(run_id)
    history.update(store)
    assert list(history.layer_table("grad_norm").columns) == ["head", "base/conv2", "base/conv1"]
    store.write_artifact(run_id, LAYER_ORDER, json.dumps(["base/conv1", "base/conv2", "head"]).encode())
    history.update(store)
    table = history.layer_table("grad_norm")
    assert list(table.columns) == ["base/conv1", "base/conv2", "head"]
    assert table.loc[(2, 1)].tolist() == [3.0, 2.0, 4.0]
    # Names the order does not know (activations) keep their own order.
    assert list(history.layer_table("dead_fraction").columns) == ["head_act"]


def test_a_damaged_layer_order_is_ignored(store):
    from cnnlab.training.figures import LAYER_ORDER

    run_id = store.create_run({})
    store.add_metrics(run_id, [(1, 1, "grad_norm/b", 1.0), (1, 1, "grad_norm/a", 1.0)])
    store.write_artifact(run_id, LAYER_ORDER, b"{not json")
    history = RunHistory(run_id)
    history.update(store)
    assert history.layer_order is None
    assert list(history.layer_table("grad_norm").columns) == ["b", "a"]
