"""The job manager: runs complete, stop, fail, diverge and queue, all recorded in the store."""

from __future__ import annotations

import math
import time

import pytest

from cnnlab.training import JobManager


def _names(store, run_id):
    return {row.name for row in store.metrics(run_id)}


def test_a_run_completes_and_records_its_curves(manager, store, tiny_config):
    run_id = manager.submit(tiny_config)
    # submit returns before the run trains (it takes seconds): the run is still waiting
    # or training. A correctness check, not a clock: a loaded machine must not fail it.
    assert store.get_run(run_id).status in ("queued", "running"), "submit must not wait for the run"
    record = manager.wait(run_id, timeout=300)
    assert record.status == "completed", record.error
    assert record.device and record.started_at and record.finished_at
    assert record.config == tiny_config.to_dict()
    names = _names(store, run_id)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time_s",
            "images_per_s", "batch/loss", "batch/running_loss", "batch/learning_rate"} <= names
    epochs = [row for row in store.metrics(run_id, names=["val_accuracy"])]
    assert [row.epoch for row in epochs] == [0, 1, 2]  # 0: the untrained model
    first = store.metrics(run_id)[:4]
    assert [(row.epoch, row.step, row.name) for row in first] == [
        (0, 0, "loss"), (0, 0, "accuracy"), (0, 0, "val_loss"), (0, 0, "val_accuracy")]
    batches = store.metrics(run_id, names=["batch/loss"])
    assert len(batches) == 2 * math.ceil(256 / 32)
    assert all(row.value > 0 for row in batches)
    lr = store.metrics(run_id, names=["batch/learning_rate"])
    assert all(row.value == pytest.approx(tiny_config.learning_rate) for row in lr)
    assert 0 <= record.final_metrics["test_accuracy"] <= 1
    assert record.progress["fraction"] == pytest.approx(1.0)
    assert (store.run_dir(run_id) / "model.keras").is_file()


def test_the_batch_loss_is_each_batch_own_loss(manager, store, tiny_config):
    """Keras logs running means; the stored batch loss must undo that, batch by batch."""
    run_id = manager.submit(tiny_config)
    assert manager.wait(run_id, timeout=300).status == "completed"
    rows = store.metrics(run_id, names=["batch/loss", "batch/running_loss"])
    by_step: dict = {}
    for row in rows:
        by_step.setdefault((row.epoch, row.step), {})[row.name] = row.value
    first_epoch = [by_step[key] for key in sorted(by_step) if key[0] == 1]
    # The running mean after k equal batches is the mean of the first k batch losses.
    for k in range(1, len(first_epoch) - 1):  # the last batch may be smaller
        mean = sum(step["batch/loss"] for step in first_epoch[: k + 1]) / (k + 1)
        assert first_epoch[k]["batch/running_loss"] == pytest.approx(mean, rel=1e-4)
    assert len({round(step["batch/loss"], 6) for step in first_epoch}) > 1


def test_stop_ends_the_run_within_a_batch(manager, store, tiny_config):
    config = tiny_config.with_overrides({"epochs": 200})
    run_id = manager.submit(config)
    deadline = time.monotonic() + 300
    while not store.metrics(run_id, names=["batch/loss"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert manager.stop(run_id)
    record = manager.wait(run_id, timeout=300)
    assert record.status == "stopped"
    # Within a batch or so of the stop: far from the 200 epochs it was set for.
    assert record.progress["fraction"] < 0.5
    assert record.error is None


def test_a_queued_run_can_be_stopped_before_it_starts(store, tiny_config):
    manager = JobManager(store, max_concurrent=1)
    try:
        first = manager.submit(tiny_config.with_overrides({"epochs": 200}))
        second = manager.submit(tiny_config)
        assert store.get_run(second).status == "queued"
        assert manager.queued_ids() == [second]
        assert manager.stop(second)
        assert store.get_run(second).status == "stopped"
        manager.stop(first)
        assert manager.wait(first, timeout=300).status == "stopped"
        assert not store.metrics(second)
    finally:
        manager.shutdown(timeout=60)


def test_queued_runs_record_their_place_in_the_queue(store, tiny_config):
    """Every reader of the store sees where a waiting run stands (cnnlab.training.status)."""
    manager = JobManager(store, max_concurrent=1)
    try:
        first = manager.submit(tiny_config.with_overrides({"epochs": 200}))
        waiting = [manager.submit(tiny_config.with_overrides({"seed": seed})) for seed in (1, 2, 3)]
        places = [store.get_run(run_id).progress for run_id in waiting]
        assert places == [{"stage": "queued", "position": n, "queued": 3, "slots": 1} for n in (1, 2, 3)]
        assert manager.stop(waiting[0])  # a stop in the queue moves the others up, at once
        assert store.get_run(waiting[0]).status == "stopped"
        assert [store.get_run(run_id).progress["position"] for run_id in waiting[1:]] == [1, 2]
        for run_id in (*waiting[1:], first):
            manager.stop(run_id)
        assert [manager.wait(run_id, timeout=300).status for run_id in (first, *waiting)] == \
            ["stopped"] * 4
    finally:
        manager.shutdown(timeout=60)


def test_runs_past_the_limit_queue_and_then_run(store, tiny_config):
    manager = JobManager(store, max_concurrent=1)
    try:
        ids = [manager.submit(tiny_config.with_overrides({"seed": seed, "epochs": 1})) for seed in range(3)]
        assert [store.get_run(i).status for i in ids[1:]] == ["queued", "queued"]
        records = [manager.wait(i, timeout=300) for i in ids]
        assert [r.status for r in records] == ["completed"] * 3
        # One at a time: each started after the one before it had finished.
        for before, after in zip(records, records[1:]):
            assert after.started_at >= before.finished_at - 0.01
    finally:
        manager.shutdown(timeout=60)


def test_a_failing_run_is_marked_failed_and_leaves_the_others_training(manager, store, tiny_config, monkeypatch):
    import cnnlab.training.transfer as transfer

    real = transfer.build_model

    def build_or_fail(architecture, input_shape, num_classes, *, tricks):
        if tricks.dropout_rate == 0.3:  # the one run we break
            raise RuntimeError("simulated failure while building the model")
        return real(architecture, input_shape, num_classes, tricks=tricks)

    monkeypatch.setattr(transfer, "build_model", build_or_fail)
    good = manager.submit(tiny_config)
    bad = manager.submit(tiny_config.with_overrides({"tricks.dropout_rate": 0.3}))
    failed = manager.wait(bad, timeout=300)
    assert failed.status == "failed"
    assert "RuntimeError: simulated failure while building the model" in failed.error
    assert manager.wait(good, timeout=300).status == "completed"


def test_a_huge_learning_rate_diverges_and_keeps_the_metrics_so_far(manager, store, tiny_config):
    config = tiny_config.with_overrides({"learning_rate": 1e3, "optimizer": "sgd", "epochs": 20})
    run_id = manager.submit(config)
    record = manager.wait(run_id, timeout=300)
    assert record.status == "diverged"
    assert "too high" in record.error and "1000" in record.error
    losses = [row.value for row in store.metrics(run_id, names=["batch/loss"])]
    assert losses and not math.isfinite(losses[-1])
    assert record.progress["fraction"] < 1.0


def test_an_infeasible_config_is_refused_before_anything_is_written(manager, store, tiny_config):
    with pytest.raises(ValueError, match="larger than the training set"):
        manager.submit(tiny_config.with_overrides({"batch_size": 257}))
    assert store.list_runs() == []
