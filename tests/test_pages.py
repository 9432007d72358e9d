"""The pages, run headless with Streamlit's AppTest: real widgets, real training."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnlab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
HOME_PAGE = str(ROOT / "app.py")


def train_page() -> AppTest:
    """The Train page, reached from the home page as a user would (navigation included)."""
    app = AppTest.from_file(HOME_PAGE, default_timeout=60).run()
    return app.switch_page("pages/1_Train.py").run()


@pytest.fixture(autouse=True)
def fresh_resources(lab_home):
    # The job manager is process-wide (st.cache_resource); each test gets one on its own store.
    st.cache_resource.clear()
    yield
    from ui.resources import job_manager

    job_manager().shutdown(timeout=60)
    st.cache_resource.clear()


def _train_button(app):
    return next(button for button in app.button if button.label == "Train")


def _run_until(app, store, predicate, timeout=120):
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
    app.slider(key="train_dropout_rate").set_value(0.25)
    app.toggle(key="train_batch_norm").set_value(True)
    _train_button(app).click().run()
    assert not app.exception and not app.error

    store = RunStore(lab_home)
    record = _run_until(app, store, lambda r: not r.is_active)
    assert record.status == "completed", record.error
    assert record.config["train_size"] == 200
    assert record.config["tricks"] == {"dropout_rate": 0.25, "batch_norm": True, "l2": 0.0}
    assert app.query_params["run"] == [record.run_id] or app.query_params["run"] == record.run_id
    app.run()
    assert not app.exception
    shown = " ".join(caption.value for caption in app.caption)
    assert "completed" in shown and record.run_id in shown
    assert any(metric.label == "Validation accuracy" for metric in app.metric)


def test_bad_input_shows_the_error_and_writes_nothing(lab_home):
    app = train_page()
    app.number_input(key="train_train_size").set_value(20)
    app.number_input(key="train_batch_size").set_value(64)
    _train_button(app).click().run()
    assert "`batch_size` is larger than the training set" in app.error[0].value
    assert RunStore(lab_home).list_runs() == []


def test_reloading_the_page_reattaches_to_the_run(lab_home):
    app = train_page()
    app.number_input(key="train_epochs").set_value(200)
    _train_button(app).click().run()
    store = RunStore(lab_home)
    run = store.list_runs()[0]
    # A new session (a reload, another tab) with no URL parameter finds the active run.
    other = train_page()
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
    app = AppTest.from_file(HOME_PAGE, default_timeout=60).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert run_id in list(table["run"])
    assert list(table["status"]) == ["completed"]
