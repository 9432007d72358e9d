"""The pages, run headless with Streamlit's AppTest: real widgets, real training."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.store import RunStore
from tests.apptest import ROOT, fresh_resources, open_page, plain  # noqa: F401  (fixture)

HOME_PAGE = str(ROOT / "app.py")


pytestmark = pytest.mark.usefixtures("fresh_resources")


def train_page() -> AppTest:
    return open_page("pages/1_Train.py")


def _train_button(app):
    return next(button for button in app.button if button.label == "Train")


def _run_until(app, store, predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.run()
        runs = store.list_runs()
        if runs and predicate(runs[0]):
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"timed out; runs: {[(r.run_id, r.status) for r in store.list_runs()]}")


def test_the_train_form_starts_a_run_that_completes(lab_home):
    app = train_page()
    assert not app.exception
    assert "No run yet" in app.info[0].value
    app.selectbox(key="train_dataset").select("digits")
    app.number_input(key="train_train_size").set_value(200)
    app.number_input(key="train_epochs").set_value(2)
    app.slider(key="train_tricks_dropout_rate").set_value(0.25)
    app.toggle(key="train_tricks_batch_norm").set_value(True)
    _train_button(app).click().run()
    assert not app.exception and not app.error

    store = RunStore(lab_home)
    record = _run_until(app, store, lambda r: not r.is_active)
    assert record.status == "completed", record.error
    assert record.config["train_size"] == 200
    tricks = record.config["tricks"]
    assert (tricks["dropout_rate"], tricks["batch_norm"], tricks["l2"]) == (0.25, True, 0.0)
    assert app.query_params["run"] == [record.run_id] or app.query_params["run"] == record.run_id
    # The panel reads a shared view of the run (cnnlab.analysis.live) that may be up to half
    # a poll old: wait for it to show the ending the store already holds.
    deadline = time.monotonic() + 60
    while True:
        app.run()
        assert not app.exception
        shown = " ".join(caption.value for caption in app.caption)
        if "completed" in shown or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "completed" in shown and record.run_id in shown
    assert any(metric.label == "Validation accuracy" for metric in app.metric)
    # Export says what it holds beside it, not in a tooltip: one popped up over the run's
    # title when Export appeared under the pointer where Stop had been.
    [export] = [button for button in app.get("download_button") if button.proto.label == "Export"]
    assert not export.proto.help
    assert any("train.py, which trains the run again with Keras alone" in c.value for c in app.caption)


def test_bad_input_shows_the_error_and_writes_nothing(lab_home):
    app = train_page()
    app.number_input(key="train_train_size").set_value(20).run()
    # Fewer images than the batch: the form lowered the batch size, and says so.
    assert app.number_input(key="train_batch_size").value == 4
    assert "Batch size lowered from 32 to 4" in app.info[0].value
    app.number_input(key="train_batch_size").set_value(64)
    _train_button(app).click().run()
    error = plain(app.error[0].value)
    assert "`batch_size` is larger than the training set" in error
    # Only advice that applies: a subset of 20 can grow, so raising `train_size` is offered.
    assert "lower `batch_size` to 4 (at most 20)" in error and "raise `train_size` (up to" in error
    assert RunStore(lab_home).list_runs() == []


def test_reloading_the_page_reattaches_to_the_run(lab_home):
    app = train_page()
    app.number_input(key="train_epochs").set_value(200)
    _train_button(app).click().run()
    store = RunStore(lab_home)
    run = store.list_runs()[0]
    # A new session (a reload, another tab) with no run in the URL finds the active run;
    # the address keeps the browser's key, so the same browser may stop it. The name alone,
    # which anyone can type, gives no Stop button.
    key = app.session_state["session_browser_key"]
    assert app.query_params["key"] in (key, [key])
    stranger = AppTest.from_file(HOME_PAGE, default_timeout=60)
    stranger.query_params["who"] = app.session_state["session_name"]
    stranger = stranger.run().switch_page("pages/1_Train.py").run()
    assert run.run_id in " ".join(caption.value for caption in stranger.caption)
    assert not any(button.label == "Stop" for button in stranger.button)
    other = AppTest.from_file(HOME_PAGE, default_timeout=60)
    other.query_params["key"] = key
    other = other.run().switch_page("pages/1_Train.py").run()
    captions = " ".join(caption.value for caption in other.caption)
    assert run.run_id in captions
    stop = next(button for button in other.button if button.label == "Stop")
    stop.click().run()
    record = _run_until(other, store, lambda r: not r.is_active)
    assert record.status == "stopped"


def test_home_lists_recent_runs(lab_home, tiny_config):
    from ui.resources import job_manager

    run_id = job_manager().submit(tiny_config)
    job_manager().wait(run_id, timeout=120)
    # A run stopped while queued has no result and no duration.
    store = RunStore(lab_home)
    stopped = store.create_run(tiny_config.to_dict(), name="stopped early")
    store.finish_run(stopped, "stopped")
    app = AppTest.from_file(HOME_PAGE, default_timeout=60).run()
    assert not app.exception
    [frame] = app.dataframe
    table = frame.value.set_index("run")
    assert list(table["status"]) == ["stopped", "completed"]
    assert 0 < table.loc[run_id, "val accuracy"] <= 100  # in percent
    # Missing results are NaN, shown as a dash: not the text "None".
    assert table.loc[stopped, ["val accuracy", "test accuracy", "duration"]].isna().all()
    assert frame.proto.placeholder == "—"


def test_every_trick_chosen_in_the_form_is_saved_with_the_run(lab_home):
    app = train_page()
    app.number_input(key="train_train_size").set_value(64)
    app.number_input(key="train_epochs").set_value(1)
    app.selectbox(key="train_tricks_activation").set_value("elu")
    app.selectbox(key="train_tricks_initializer").set_value("he_normal")
    app.toggle(key="train_tricks_batch_norm").set_value(True).run()
    app.toggle(key="train_tricks_batch_norm_dense").set_value(True).run()
    app.slider(key="train_label_smoothing").set_value(0.1)
    app.radio(key="train_tricks_batch_norm_position").set_value("after_activation")
    app.number_input(key="train_tricks_batch_norm_momentum").set_value(0.8)
    app.slider(key="train_tricks_dropout_rate").set_value(0.3).run()
    app.radio(key="train_tricks_dropout_placement").set_value("spatial")
    app.number_input(key="train_tricks_l1").set_value(0.001)
    app.number_input(key="train_tricks_l2").set_value(0.002)
    app.toggle(key="train_early_stopping_enabled").set_value(True).run()
    app.number_input(key="train_early_stopping_patience").set_value(4)
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    app.number_input(key="train_optimizer_options_momentum").set_value(0.9)
    app.toggle(key="train_optimizer_options_nesterov").set_value(True)
    app.radio(key="train_clipping").set_value("by norm").run()
    app.number_input(key="train_clip_threshold").set_value(0.5)
    app.radio(key="train_variant").set_value("Stochastic (batch size 1)")
    app.selectbox(key="train_schedule_kind").set_value("exponential").run()
    app.radio(key="train_schedule_unit").set_value("iteration")
    app.number_input(key="train_schedule_decay_rate").set_value(0.01)
    app.toggle(key="train_augmentation_rotation_range_on").set_value(True).run()
    app.slider(key="train_augmentation_rotation_range").set_value(15.0)
    app.toggle(key="train_augmentation_horizontal_flip").set_value(True).run()
    assert not app.exception
    assert any("e^(" in caption.value for caption in app.caption), "the schedule's formula is shown"
    assert any("64 updates per epoch" in caption.value for caption in app.caption)
    _train_button(app).click().run()
    assert not app.exception and not app.error
    from ui.resources import job_manager

    record = RunStore(lab_home).list_runs()[0]
    job_manager().stop(record.run_id)
    config = record.config
    assert config["tricks"] == {
        "activation": "elu", "initializer": "he_normal", "batch_norm": True,
        "batch_norm_dense": True, "batch_norm_position": "after_activation", "batch_norm_momentum": 0.8, "dropout_rate": 0.3,
        "dropout_placement": "spatial", "l1": 0.001, "l2": 0.002}
    assert config["label_smoothing"] == 0.1 and config["loss"] == "categorical_crossentropy"
    assert config["early_stopping"]["enabled"] and config["early_stopping"]["patience"] == 4
    assert (config["optimizer"], config["optimizer_options"]["momentum"],
            config["optimizer_options"]["nesterov"], config["optimizer_options"]["clipnorm"],
            config["optimizer_options"]["clipvalue"]) == ("sgd", 0.9, True, 0.5, None)
    assert config["batch_size"] == 1
    assert config["schedule"]["kind"] == "exponential" and config["schedule"]["unit"] == "iteration"
    assert config["schedule"]["decay_rate"] == 0.01
    assert config["augmentation"]["rotation_range"] == 15.0 and config["augmentation"]["horizontal_flip"]


def test_the_form_survives_a_visit_to_another_page_and_takes_a_pipeline_from_augment(lab_home):
    from cnnlab.config import AugmentationConfig

    app = train_page()
    app.slider(key="train_tricks_dropout_rate").set_value(0.4).run()
    app.switch_page("app.py").run()
    # What the Augment page's "Use in Train form" leaves behind.
    app.session_state["train_augmentation"] = AugmentationConfig(rotation_range=20.0, mixup_alpha=4.0)
    app.switch_page("pages/1_Train.py").run()
    assert not app.exception
    assert app.slider(key="train_tricks_dropout_rate").value == 0.4
    assert app.slider(key="train_augmentation_rotation_range").value == 20.0
    assert app.slider(key="train_augmentation_mixup_alpha").value == 4.0


def test_a_waiting_run_says_where_it_stands_and_when_it_should_start(lab_home):
    """The run panel's bar says what a run waits for (issue 12: a queue that looked frozen)."""
    from cnnlab.config import ExperimentConfig
    from cnnlab.training.status import queue_progress

    store = RunStore(lab_home)
    training = store.create_run(ExperimentConfig().to_dict(), "training")
    store.mark_running(training, device="CPU")
    store.update_progress(training, {"stage": "training", "epoch": 2, "epochs": 6, "step": 1,
                                     "steps_per_epoch": 36, "fraction": 0.2, "elapsed_s": 8.0,
                                     "eta_s": 30.0})
    waiting = store.create_run(ExperimentConfig(seed=1).to_dict(), "waiting")
    store.update_progress(waiting, queue_progress(1, 1, 1))
    starting = store.create_run(ExperimentConfig(seed=2).to_dict(), "starting")
    store.update_progress(starting, {"stage": "starting_worker"})
    expected = {
        waiting: "Queued: 1st of 1 waiting; all 1 training slot busy; starts in about 30 s",
        starting: "Starting a worker process (it loads TensorFlow once, a few seconds)",
        training: "Epoch 2/6 · step 1/36 · 30 s left",
    }
    for run_id, words in expected.items():
        app = AppTest.from_file(HOME_PAGE, default_timeout=60)
        app.query_params["run"] = run_id
        app = app.run().switch_page("pages/1_Train.py").run()
        assert not app.exception
        assert [plain(bar.text) for bar in app.get("progress")] == [words]
    store.close()
