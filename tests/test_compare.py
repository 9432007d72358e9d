"""Comparisons: paired variants, seed repeats, the runs table, diffs, deltas and bands."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from cnnlab.analysis import compare
from cnnlab.analysis.ablation import (
    ABLATION_GRID,
    ablation_grid,
    over_seeds,
    toggle_trick,
    with_changes,
)
from cnnlab.config import ExperimentConfig


def test_each_ablation_variant_differs_from_the_baseline_in_its_trick_only():
    baseline = ExperimentConfig(seed=7, train_size=300)
    variants = ablation_grid(baseline)
    assert variants[0].config == baseline
    assert len(variants) == 1 + len(ABLATION_GRID)
    changed = {}
    for variant in variants[1:]:
        diff = compare.config_diff({"base": baseline.to_dict(), "variant": variant.config.to_dict()})
        changed[variant.name.split(" · ")[-1]] = set(diff.index)
        assert variant.config.seed == 7 and variant.config.train_size == 300
    assert changed == {
        "with dropout": {"tricks.dropout_rate"},
        "with augmentation": {"augmentation.rotation_range", "augmentation.width_shift_range",
                              "augmentation.height_shift_range", "augmentation.zoom_range"},
        "with batch norm": {"tricks.batch_norm"},
        "with l2": {"tricks.l2"},
    }


def test_a_trick_already_on_is_switched_off_and_no_change_is_refused():
    baseline = ExperimentConfig(tricks={"dropout_rate": 0.3, "batch_norm": True})
    assert toggle_trick(baseline, "dropout").config.tricks.dropout_rate == 0
    assert toggle_trick(baseline, "batch_norm").name.endswith("without batch norm")
    augmented = toggle_trick(ExperimentConfig(), "augmentation").config
    assert toggle_trick(augmented, "augmentation").config == ExperimentConfig()
    with pytest.raises(ValueError, match="leave the experiment as it was"):
        with_changes(baseline, {"tricks.dropout_rate": 0.3})
    with pytest.raises(ValueError, match="Unknown trick"):
        toggle_trick(baseline, "magic")
    with pytest.raises(ValueError, match="Unknown config field"):
        with_changes(baseline, {"tricks.dropuot_rate": 0.1})


def test_a_custom_change_is_named_as_the_comparison_writes_its_values():
    """One formatting everywhere: "batch_norm=on" in the run's name, the legend and "What
    differs", where the name once said True and the table on."""
    from cnnlab.analysis.compare import config_diff, format_value
    from cnnlab.charts import compare as compare_charts

    baseline = ExperimentConfig()
    variant = with_changes(baseline, {"tricks.batch_norm": True, "learning_rate": 0.0001})
    assert variant.name.endswith(" · batch_norm=on, learning_rate=0.0001")
    configs = {"base": baseline.to_dict(), "bn": variant.config.to_dict()}
    label = compare_charts.run_labels(configs, "base")["bn"]
    assert set(label.split(", ")) == {"learning_rate=0.0001", "batch_norm=on"}
    table = compare_charts.diff_styler(config_diff(configs), {"base": "baseline", "bn": "bn"}, baseline="base").data
    assert list(table["tricks.batch_norm"]) == ["off", "on"]
    # Only the switch differs: pandas then holds numpy bools, which once read "False"/"True".
    only_bn = {"base": baseline.to_dict(), "bn": toggle_trick(baseline, "batch_norm").config.to_dict()}
    table = compare_charts.diff_styler(config_diff(only_bn), {"base": "baseline", "bn": "bn"}, baseline="base").data
    assert list(table["tricks.batch_norm"]) == ["off", "on"]
    import numpy as np

    assert [format_value(v) for v in (True, False, None, 1e-4, 0.5, 3, "adam", [32, 64], np.bool_(True),
                                      np.float64(1e-4), np.int64(3))] == \
        ["on", "off", "—", "0.0001", "0.5", "3", "adam", "[32, 64]", "on", "0.0001", "3"]


def test_repeats_over_seeds():
    runs = over_seeds(ExperimentConfig(seed=3), 4)
    assert [variant.config.seed for variant in runs] == [3, 4, 5, 6]
    assert all(variant.name.endswith(f"seed {3 + i}") for i, variant in enumerate(runs))
    for count in (1, 11, "3", True):
        with pytest.raises(ValueError, match="number of seeds"):
            over_seeds(ExperimentConfig(), count)


def _stored_run(store, config, val_accuracy, status="completed"):
    run_id = store.create_run(config.to_dict(), config.summary())
    rows = []
    for epoch, accuracy in enumerate(val_accuracy, start=1):
        rows += [(epoch, 10, "val_accuracy", accuracy), (epoch, 10, "val_loss", 1 - accuracy),
                 (epoch, 10, "loss", 1.0 / epoch), (epoch, 3, "batch/loss", 9.0)]
        rows += [(epoch, 10, f"grad_norm/{layer}", epoch * scale)
                 for layer, scale in (("conv1", 0.01), ("fc1", 0.1), ("predictions", 1.0))]
    store.add_metrics(run_id, rows)
    store.mark_running(run_id, device="cpu")
    if status != "running":
        store.finish_run(run_id, status)
    return run_id


def test_runs_table_curves_delta_and_gradient_profile(store):
    base = _stored_run(store, ExperimentConfig(), [0.5, 0.7, 0.8])
    other = _stored_run(store, ExperimentConfig(tricks={"dropout_rate": 0.5}), [0.4, 0.75, 0.9, 0.85])
    records = [store.get_run(base), store.get_run(other)]
    curves = compare.epoch_curves(store, [base, other])
    assert list(curves[other]["val_accuracy"]) == [0.4, 0.75, 0.9, 0.85]
    assert "batch/loss" not in curves[base]  # per-epoch rows only
    table = compare.runs_table(records, curves).set_index("run")
    assert table.loc[other, "best val accuracy"] == 0.9
    assert table.loc[other, "final val accuracy"] == 0.85
    assert table.loc[base, "best val loss"] == pytest.approx(0.2)
    assert table.loc[other, "tricks"] == "adam 0.001 · dropout 0.5"
    assert table.loc[other, "epochs"] == 4

    delta = compare.delta(curves, "val_accuracy", baseline=base)
    np.testing.assert_allclose(delta[other].to_numpy()[:3], [-0.1, 0.05, 0.1])
    assert np.isnan(delta[other].loc[4])  # the baseline has no epoch 4

    profile = compare.gradient_profile(store, other)
    assert list(profile.index) == ["conv1", "fc1", "predictions"]
    assert list(profile) == pytest.approx([0.04, 0.4, 4.0])  # epoch 4's step


def test_the_untrained_point_is_on_the_curves_but_not_among_the_scores(store):
    """Epoch 0 (the untrained model, cnnlab.training.job) starts a run's curves; the table's
    best and final figures are the training's own."""
    run_id = _stored_run(store, ExperimentConfig(), [0.3, 0.2])
    store.add_metrics(run_id, [(0, 0, "val_accuracy", 0.9), (0, 0, "val_loss", 0.05)])
    curves = compare.epoch_curves(store, [run_id])
    assert list(curves[run_id]["val_accuracy"]) == [0.9, 0.3, 0.2]
    row = compare.runs_table([store.get_run(run_id)], curves).iloc[0]
    assert (row["best val accuracy"], row["best val loss"], row["epochs"]) == (0.3, pytest.approx(0.7), 2)


@pytest.mark.parametrize("filters, kept", [
    ({}, ["plain", "dropout", "lenet"]),
    ({"statuses": ["running"]}, ["lenet"]),
    ({"architectures": ["small_convnet"]}, ["plain", "dropout"]),
    ({"text": "DROPOUT"}, ["dropout"]),  # in the key tricks, case ignored
    ({"text": "adam lenet5"}, ["lenet"]),  # every word must be found
    ({"text": "command line"}, ["plain", "dropout", "lenet"]),  # who started it
    ({"statuses": ["completed"], "text": "lenet5"}, []),
])
def test_filter_runs_keeps_the_rows_that_pass_every_filter(store, filters, kept):
    runs = {"plain": _stored_run(store, ExperimentConfig(), [0.5]),
            "dropout": _stored_run(store, ExperimentConfig(tricks={"dropout_rate": 0.5}), [0.6]),
            "lenet": _stored_run(store, ExperimentConfig(architecture="lenet5"), [0.7], "running")}
    records = [store.get_run(run) for run in runs.values()]
    table = compare.runs_table(records, compare.epoch_curves(store, list(runs.values())))
    assert list(table["by"]) == ["command line"] * 3
    assert list(table["progress"]) == [1.0, 1.0, 0.0]
    names = {run: name for name, run in runs.items()}
    assert [names[run] for run in compare.filter_runs(table, **filters)["run"]] == kept


def test_config_diff_shows_only_differing_fields():
    configs = {
        "a": ExperimentConfig().to_dict(),
        "b": ExperimentConfig(learning_rate=0.01, tricks={"batch_norm": True}).to_dict(),
        "c": ExperimentConfig(learning_rate=0.01).to_dict(),
    }
    diff = compare.config_diff(configs)
    assert list(diff.index) == ["tricks.batch_norm", "learning_rate"]  # config order
    assert diff.loc["learning_rate"].tolist() == [0.001, 0.01, 0.01]
    assert compare.config_diff({"a": configs["a"], "b": configs["a"]}).empty


def test_seed_groups_and_bands(store):
    runs = [_stored_run(store, variant.config, [0.5 + 0.1 * i, 0.6 + 0.1 * i])
            for i, variant in enumerate(over_seeds(ExperimentConfig(), 3))]
    lone = _stored_run(store, ExperimentConfig(learning_rate=0.1), [0.2, 0.3])
    groups = compare.seed_groups([store.get_run(run) for run in [*runs, lone]])
    assert list(groups.values()) == [runs]
    band = compare.seed_band(compare.epoch_curves(store, runs), runs, "val_accuracy")
    assert band["mean"].tolist() == pytest.approx([0.6, 0.7])
    assert band["std"].tolist() == pytest.approx([0.1, 0.1])
    assert band["count"].tolist() == [3, 3]


def test_delete_run_removes_rows_and_files_and_refuses_active_runs(store):
    done = _stored_run(store, ExperimentConfig(), [0.5])
    store.write_artifact(done, "model.keras", b"x")
    running = _stored_run(store, ExperimentConfig(), [0.5], status="running")
    with pytest.raises(ValueError, match="Stop it first"):
        store.delete_run(running)
    store.delete_run(done)
    assert store.get_run(done) is None
    assert store.metrics(done) == []
    assert not store.run_dir(done).exists()
    assert store.get_run(running) is not None and store.metrics(running)
    with pytest.raises(ValueError):
        store.delete_run(done)


def test_a_version_1_store_gains_the_name_index(lab_home):
    from cnnlab.store import DB_NAME, SCHEMA_VERSION, RunStore

    lab_home.mkdir(parents=True)
    conn = sqlite3.connect(lab_home / DB_NAME)
    from cnnlab.store import schema
    for statement in schema.TABLES:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with RunStore(lab_home) as store:
        conn = sqlite3.connect(store.db_path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(metrics)")}
        assert "metrics_by_run_name" in indexes
        plan = " ".join(str(row) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_id = 'x' AND name IN ('loss')"))
        assert "metrics_by_run_name" in plan
        conn.close()
