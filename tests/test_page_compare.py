"""The Compare page, run headless with AppTest on a store filled directly with runs.

The stored runs are written row by row as training writes them (no training, so the
tests are fast); the buttons that start runs go through the real job manager, and what
they queued is checked in its queue and in the store.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.analysis.ablation import toggle_trick
from cnnlab.analysis.compare import config_diff
from cnnlab.charts import compare as compare_charts
from cnnlab.config import ExperimentConfig
from cnnlab.sessions import new_browser_key, owner_of_key
from tests.apptest import ROOT, fresh_resources, plain, plotly_figure  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fresh_resources")

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=200, epochs=2, batch_size=32)
LAYERS = ("conv1", "conv2", "predictions")
ME = "Ada"  # the display name of the test's browser session
MY_KEY = new_browser_key()  # and its key: what makes runs its own


def _stored(store, config: ExperimentConfig, val_accuracy, *, status="completed", name=None,
            session=ME) -> str:
    """A run written as training writes it: epoch rows, a few batch and per-layer rows.
    A run of ME belongs to this test's browser (MY_KEY); anybody else's to another one."""
    owner = owner_of_key(MY_KEY if session == ME else new_browser_key())
    run_id = store.create_run(config.to_dict(), name or config.summary(), session, owner)
    rows = []
    for epoch, accuracy in enumerate(val_accuracy, start=1):
        rows += [(epoch, 7, "batch/loss", 2.0 - accuracy)]
        rows += [(epoch, 7, f"grad_norm/{layer}", 10.0 ** (depth - 3) * epoch)
                 for depth, layer in enumerate(LAYERS)]
        rows += [(epoch, 7, "loss", 1.1 - accuracy), (epoch, 7, "accuracy", accuracy + 0.05),
                 (epoch, 7, "val_loss", 1.0 - accuracy), (epoch, 7, "val_accuracy", accuracy),
                 (epoch, 7, "learning_rate", config.learning_rate)]
    if rows:
        store.add_metrics(run_id, rows)
    if status != "queued":
        store.mark_running(run_id, device="cpu")
    if status not in ("queued", "running"):
        store.finish_run(run_id, status)
    return run_id


@pytest.fixture
def runs(store):
    """A baseline, two variants of it, and three runs of another config over seeds."""
    ids = {
        "base": _stored(store, TINY, [0.5, 0.6, 0.7]),
        "dropout": _stored(store, toggle_trick(TINY, "dropout").config, [0.45, 0.65, 0.8]),
        "fast": _stored(store, TINY.with_overrides({"learning_rate": 0.01, "tricks.batch_norm": True}),
                        [0.6, 0.7, 0.75]),
    }
    for seed in (1, 2, 3):
        config = TINY.with_overrides({"seed": seed, "tricks.l2": 1e-4})
        ids[f"seed{seed}"] = _stored(store, config, [0.5 + 0.05 * seed, 0.6 + 0.05 * seed],
                                     name=f"{config.summary()} · seed {seed}")
    return ids


def _page():
    """The Compare page, reached from the home page by a session named ME."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["session_name"] = ME
    app.session_state["session_browser_key"] = MY_KEY
    app.run()
    app.switch_page("pages/3_Compare.py").run()
    assert not app.exception, app.exception
    return app


def _table(app):
    return next(frame for frame in app.dataframe if frame.proto.id.endswith("-compare_table")).value


def _select(app, *run_ids):
    """Tick the rows of `run_ids` in the runs table, as a user does."""
    order = list(_table(app)["run"])
    app.session_state["compare_table"] = {
        "selection": {"rows": [order.index(run) for run in run_ids], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    return app


def _button(app, label):
    return next(button for button in app.button if button.label == label)


def _open_tab(app, tab):
    app.session_state["compare_tab"] = tab
    app.run()
    assert not app.exception, app.exception


def _manager():
    from ui.resources import job_manager

    return job_manager()


def test_the_table_lists_every_run_with_its_results_queued_ones_too(store, runs):
    queued = _stored(store, TINY.with_overrides({"epochs": 3}), [], status="queued")
    running = _stored(store, TINY.with_overrides({"epochs": 4}), [0.3], status="running")
    app = _page()
    table = _table(app).set_index("run")
    assert len(table) == len(runs) + 2
    assert (table.loc[queued, "status"], table.loc[running, "status"]) == ("queued", "running")
    assert table.loc[runs["dropout"], "best val accuracy"] == pytest.approx(0.8)
    assert table.loc[runs["fast"], "final val accuracy"] == pytest.approx(0.75)
    assert table.loc[runs["base"], "best val loss"] == pytest.approx(0.3)
    assert table.loc[runs["dropout"], "tricks"] == "adam 0.001 · dropout 0.5"
    assert table.loc[runs["seed2"], "seed"] == 2 and table.loc[runs["base"], "dataset"] == "digits"
    assert (table.loc[queued, "progress"], table.loc[runs["base"], "progress"]) == (0.0, 1.0)
    counts = app.markdown[0].value
    assert "1 running" in counts and "1 queued" in counts and "6 finished" in counts
    assert "Tick one or more runs" in app.info[0].value


def test_the_filters_narrow_the_table_and_keep_hidden_runs_selected(runs):
    app = _select(_page(), runs["base"], runs["seed1"])
    app.multiselect(key="compare_filter_status").set_value(["completed"]).run()
    app.text_input(key="compare_filter_text").set_value("dropout").run()
    assert list(_table(app)["run"]) == [runs["dropout"]]
    assert app.session_state["compare_selected"] == [runs["base"], runs["seed1"]]
    assert any("2 hidden by the filters" in caption.value for caption in app.caption)
    # Ticking a visible row adds it; the hidden runs stay in the comparison.
    _select(app, runs["dropout"])
    assert app.session_state["compare_selected"] == [runs["base"], runs["dropout"], runs["seed1"]]
    app.text_input(key="compare_filter_text").set_value("no such run").run()
    assert _table(app).empty
    app.text_input(key="compare_filter_text").set_value("").run()
    app.multiselect(key="compare_filter_architecture").set_value(["small_convnet"]).run()
    assert len(_table(app)) == len(runs)


def test_selected_runs_are_overlaid_with_their_diff_delta_gradients_and_parcoords(store, runs):
    app = _select(_page(), runs["fast"], runs["base"], runs["dropout"])
    chosen = [runs["base"], runs["dropout"], runs["fast"]]  # oldest first, whatever the order ticked
    assert app.session_state["compare_selected"] == chosen
    assert app.selectbox(key="compare_baseline").value == runs["base"]

    curves = plotly_figure(app, "compare_curves")
    validation = {trace["legendgroup"]: trace for trace in curves["data"]
                  if trace.get("xaxis") == "x2" and trace["line"]["dash"] == "solid"}
    assert set(validation) == set(chosen)
    assert validation[runs["dropout"]]["y"] == pytest.approx([0.45, 0.65, 0.8])
    assert validation[runs["base"]]["name"] == "baseline"
    assert validation[runs["dropout"]]["name"] == "dropout_rate=0.5"

    (diff,) = [frame.value for frame in app.dataframe if not frame.proto.id.endswith("-compare_table")]
    configs = {run: store.get_run(run).config for run in chosen}
    assert list(diff.columns) == ["run", "status", *config_diff(configs).index]
    assert list(diff.columns)[2:] == ["tricks.dropout_rate", "tricks.batch_norm", "learning_rate"]
    assert diff["run"].tolist() == ["baseline", "dropout_rate=0.5", "batch_norm=on, learning_rate=0.01"]

    delta = plotly_figure(app, "compare_delta")  # the first tab is open
    by_name = {trace["name"]: trace["y"] for trace in delta["data"]}
    assert by_name["dropout_rate=0.5"] == pytest.approx([-0.05, 0.05, 0.1])

    _open_tab(app, "Gradients")
    gradients = plotly_figure(app, "compare_gradients")
    assert len(gradients["data"]) == 3
    assert gradients["data"][0]["x"] == list(LAYERS)
    assert gradients["data"][0]["y"] == pytest.approx([1e-3 * 3, 1e-2 * 3, 1e-1 * 3])  # epoch 3's step

    _open_tab(app, "Hyperparameters")
    (parcoords,) = plotly_figure(app, "compare_parcoords")["data"]
    labels = [dimension["label"] for dimension in parcoords["dimensions"]]
    assert labels == ["dropout_rate", "batch_norm", "learning_rate", "best val accuracy"]
    assert parcoords["dimensions"][-1]["values"] == pytest.approx([0.7, 0.8, 0.75])

    # A new baseline: the labels and the delta follow it.
    app.selectbox(key="compare_baseline").set_value(runs["dropout"]).run()
    _open_tab(app, "Difference from baseline")
    names = {trace["name"] for trace in plotly_figure(app, "compare_delta")["data"]}
    labels = compare_charts.run_labels(configs, runs["dropout"])
    assert names == {"dropout_rate=0", labels[runs["fast"]]}
    assert labels[runs["fast"]].startswith("dropout_rate=0, batch_norm=on")

    # Two runs: no parallel coordinates, a note instead.
    _select(app, runs["base"], runs["dropout"])
    _open_tab(app, "Hyperparameters")
    assert any("three or more runs" in info.value for info in app.info)


def test_variants_still_queued_show_an_empty_state_not_an_empty_difference_chart(store, runs):
    queued = _stored(store, toggle_trick(TINY, "batch_norm").config, [], status="queued")
    app = _select(_page(), runs["base"], queued)
    assert not app.exception
    assert any("appears when another run has finished its first epoch" in info.value for info in app.info)
    assert not [chart for chart in app.get("plotly_chart") if chart.proto.id.endswith("-compare_delta")]
    # One epoch later the chart is there.
    store.add_metrics(queued, [(1, 7, "val_accuracy", 0.55)])
    store.mark_running(queued, device="cpu")
    app.run()
    assert plotly_figure(app, "compare_delta")["data"]


def test_runs_that_differ_only_by_seed_show_a_band(runs):
    app = _select(_page(), runs["seed1"], runs["seed2"], runs["seed3"], runs["base"])
    _open_tab(app, "Seeds")
    figure = plotly_figure(app, "compare_seeds")
    means = [trace for trace in figure["data"] if trace.get("mode") == "lines+markers"]
    accuracy = next(trace for trace in means if trace["xaxis"] == "x2")
    assert accuracy["y"] == pytest.approx([0.6, 0.7])
    assert accuracy["name"].endswith("(3 seeds)")
    _select(app, runs["base"], runs["dropout"])
    _open_tab(app, "Seeds")
    assert any("differ only in their seed" in info.value for info in app.info)


def test_the_ablation_grid_starts_four_variants_beside_the_existing_baseline(store, runs):
    app = _select(_page(), runs["base"], runs["fast"])
    before = {record.run_id for record in store.list_runs()}
    _button(app, "Ablation grid (all four)").click().run()
    assert not app.exception and not app.error

    started = [record for record in store.list_runs() if record.run_id not in before]
    assert len(started) == 4  # the baseline itself is not run again
    new_ids = {record.run_id for record in started}
    manager = _manager()
    assert new_ids == set(manager.queued_ids()) | set(manager.active_ids())
    base = store.get_run(runs["base"]).config
    changed = {record.name.split(" · ")[-1]: set(config_diff({"b": base, "v": record.config}).index)
               for record in started}
    assert changed == {
        "with dropout": {"tricks.dropout_rate"}, "with batch norm": {"tricks.batch_norm"},
        "with l2": {"tricks.l2"},
        "with augmentation": {"augmentation.rotation_range", "augmentation.width_shift_range",
                              "augmentation.height_shift_range", "augmentation.zoom_range"},
    }
    # The new runs are compared with their baseline (and only with it), live.
    assert app.session_state["compare_selected"][0] == runs["base"]
    assert set(app.session_state["compare_selected"][1:]) == new_ids
    assert app.selectbox(key="compare_baseline").value == runs["base"]
    assert any("Started 4 runs" in message.value for message in app.success)
    assert any("Live" in caption.value for caption in app.caption)
    table = _table(app)
    assert set(table["run"][table["status"].isin(["queued", "running"])]) == new_ids
    ticked = app.session_state["compare_table"]["selection"]["rows"]
    assert {table["run"][row] for row in ticked} == {runs["base"], *new_ids}
    manager.shutdown(timeout=60)


@pytest.mark.parametrize("label, expected", [
    ("with dropout", {"tricks.dropout_rate": 0.5}),
    ("with batch norm", {"tricks.batch_norm": True}),
])
def test_a_trick_button_starts_the_baseline_with_that_trick_toggled(store, runs, label, expected):
    app = _select(_page(), runs["base"])
    _button(app, label).click().run()
    (new,) = [run for run in app.session_state["compare_selected"] if run != runs["base"]]
    assert new in _manager().queued_ids() + _manager().active_ids()
    config = ExperimentConfig.from_dict(store.get_run(new).config)
    assert config == TINY.with_overrides(expected)
    _manager().shutdown(timeout=60)


def test_repeat_over_seeds_starts_the_other_seeds(store, runs):
    app = _select(_page(), runs["base"])
    app.number_input(key="compare_seed_count").set_value(4).run()
    _button(app, "Repeat over 4 seeds").click().run()
    selected = app.session_state["compare_selected"]
    assert selected[0] == runs["base"] and len(selected) == 4
    assert sorted(store.get_run(run).config["seed"] for run in selected[1:]) == [1, 2, 3]
    assert all(store.get_run(run).name.endswith(f"seed {store.get_run(run).config['seed']}")
               for run in selected[1:])
    _manager().shutdown(timeout=60)


def test_a_custom_change_starts_one_run_and_a_bad_one_starts_nothing(store, runs):
    app = _select(_page(), runs["base"])
    count = len(store.list_runs())
    for text, message in [
        ("tricks.dropuot_rate=0.1", "Unknown config field `dropuot_rate`"),
        ("epochs=2", "leave the experiment as it was"),
        ("batch_size=500", "`batch_size` is larger than the training set"),
        ("", "No change given"),
    ]:
        app.text_input(key="compare_custom").set_value(text)
        _button(app, "Start").click().run()
        assert message in plain(app.error[0].value), text
        assert len(store.list_runs()) == count and not _manager().queued_ids()
    app.text_input(key="compare_custom").set_value("learning_rate=0.01, tricks.dropout_rate=0.3,epochs=3")
    _button(app, "Start").click().run()
    assert not app.error
    (new,) = [run for run in app.session_state["compare_selected"] if run != runs["base"]]
    config = ExperimentConfig.from_dict(store.get_run(new).config)
    assert config == TINY.with_overrides({"learning_rate": 0.01, "tricks.dropout_rate": 0.3, "epochs": 3})
    _manager().shutdown(timeout=60)


def test_delete_asks_first_refuses_active_runs_and_removes_the_files(store, runs):
    running = _stored(store, TINY.with_overrides({"epochs": 9}), [0.3], status="running")
    theirs = _stored(store, TINY.with_overrides({"epochs": 8}), [0.4], session="Bob")
    store.write_artifact(runs["dropout"], "model.keras", b"weights")
    app = _select(_page(), runs["base"], runs["dropout"], running, theirs)
    assert "Bob" in set(_table(app)["by"])

    _button(app, "Delete 4 selected").click().run()
    warnings = plain(" ".join(warning.value for warning in app.warning))
    assert "stop it first" in warnings and running in warnings
    assert f"Run {theirs} was started by Bob in another browser" in warnings
    _button(app, "Cancel").click().run()
    assert len(store.list_runs()) == len(runs) + 2  # nothing deleted

    _button(app, "Delete 4 selected").click().run()
    _button(app, "Delete 2 runs").click().run()
    assert not app.exception
    assert store.get_run(runs["base"]) is None and store.get_run(runs["dropout"]) is None
    assert not store.run_dir(runs["dropout"]).exists()
    assert store.get_run(running).status == "running"  # refused: it is active
    assert store.get_run(theirs) is not None  # refused: not this session's
    assert app.session_state["compare_selected"] == [running, theirs]
    assert runs["base"] not in list(_table(app)["run"])
    assert any("Deleted 2 runs" in message.value for message in app.success)
    # It trains in no process of this server: Stop says so rather than pretending.
    _button(app, "Stop 1 active").click().run()
    assert "another process" in app.error[0].value


def test_a_teacher_may_delete_anyones_runs(store, runs, monkeypatch):
    monkeypatch.setenv("CNNLAB_TEACHER_PASSWORD", "secret")
    theirs = _stored(store, TINY.with_overrides({"epochs": 8}), [0.4], session="Bob")
    app = _select(_page(), theirs)
    app.session_state["session_teacher"] = True
    _button(app, "Delete 1 selected").click().run()
    _button(app, "Delete 1 runs").click().run()
    assert store.get_run(theirs) is None and not app.exception
