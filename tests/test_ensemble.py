"""Ensembles of finished runs (cnnlab.analysis.ensemble) and the Compare page's Ensemble tab.

References: the members' own stored probabilities (their mean, recomputed here with numpy)
and scikit-learn's accuracy_score. Three real tiny runs are trained once for the module;
the refusals and the page use runs written directly into a store, as training writes them.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from streamlit.testing.v1 import AppTest

from cnnlab.analysis.ensemble import build_ensemble, combine, save_ensemble, saved_ensembles
from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.training.figures import (
    TEST_LABELS,
    TEST_PROBS,
    VAL_LABELS,
    VAL_PROBS,
    decode_array,
    encode_array,
)
from cnnlab.training.job import execute_run
from tests.apptest import ROOT, fresh_resources  # noqa: F401  (fixture)

TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=160, epochs=1, batch_size=32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three completed runs: two sharing a split (seed 0), one with seed 1."""
    store = RunStore(tmp_path_factory.mktemp("ensemble") / "runs")
    ids = {}
    for name, config in {"a": TINY, "b": TINY.with_overrides({"learning_rate": 3e-3}),
                         "c": TINY.with_overrides({"seed": 1})}.items():
        run_id = store.create_run(config.to_dict())
        assert execute_run(store, run_id, config, threading.Event()) == "completed"
        ids[name] = run_id
    yield store, ids
    store.close()


def _stored(store, run_id, name):
    return decode_array(store.read_artifact(run_id, name)).astype("float32")


def test_the_ensemble_is_the_mean_of_the_members_stored_probabilities(trained):
    store, ids = trained
    members = [ids["a"], ids["b"], ids["c"]]
    result = build_ensemble(store, members, "mean")
    labels = decode_array(store.read_artifact(ids["a"], TEST_LABELS))
    mean = np.mean([_stored(store, run, TEST_PROBS) for run in members], axis=0)
    np.testing.assert_allclose(result.test_probabilities, mean, atol=1e-6)
    assert result.accuracy["test"] == pytest.approx(accuracy_score(labels, mean.argmax(axis=1)))
    for run in members:  # each member's accuracy is its own run's test accuracy
        own = store.get_run(run).final_metrics["test_accuracy"]
        assert result.member_accuracy[run]["test"] == pytest.approx(own, abs=0.01)
    # The curve: the first member alone, then the first two, then all three.
    assert [point["members"] for point in result.curve] == [1, 2, 3]
    assert result.curve[0]["test"] == result.member_accuracy[ids["a"]]["test"]
    first_two = np.mean([_stored(store, run, TEST_PROBS) for run in members[:2]], axis=0)
    assert result.curve[1]["test"] == pytest.approx(accuracy_score(labels, first_two.argmax(axis=1)))
    # Seed 1 drew another validation split: validation is left out, test is shared.
    assert result.accuracy["validation"] is None and result.curve[2]["validation"] is None
    # The derived result is kept in the store, and read back.
    save_ensemble(store, result)
    (saved,) = saved_ensembles(store)
    assert saved["members"] == members and saved["accuracy"]["test"] == result.accuracy["test"]


def test_members_of_one_split_are_also_measured_on_validation(trained):
    store, ids = trained
    result = build_ensemble(store, [ids["a"], ids["b"]], "mean")
    labels = decode_array(store.read_artifact(ids["a"], VAL_LABELS))
    mean = np.mean([_stored(store, run, VAL_PROBS % TINY.epochs) for run in (ids["a"], ids["b"])], axis=0)
    assert result.accuracy["validation"] == pytest.approx(accuracy_score(labels, mean.argmax(axis=1)))


def test_majority_vote_counts_top_classes():
    """Three members: two say class 1, one says class 0 (more confidently); a tie goes to the
    higher mean probability."""
    members = [np.array([[0.4, 0.6], [0.6, 0.4]]), np.array([[0.45, 0.55], [0.3, 0.7]]),
               np.array([[0.95, 0.05], [0.2, 0.8]])]
    votes = combine(members, "vote")
    assert votes.argmax(axis=1).tolist() == [1, 1]
    assert combine(members, "mean").argmax(axis=1).tolist() == [0, 1]  # soft voting differs
    tie = combine([np.array([[0.9, 0.1]]), np.array([[0.4, 0.6]])], "vote")
    assert tie.argmax(axis=1).tolist() == [0]


def _written(store, config: ExperimentConfig, test_labels, test_probs, *, status="completed",
             session="Ada") -> str:
    """A run as training stores it: status, validation and test predictions."""
    run_id = store.create_run(config.to_dict(), config.summary(), session)
    store.mark_running(run_id, device="cpu")
    store.add_metrics(run_id, [(1, 7, "val_accuracy", 0.5), (1, 7, "accuracy", 0.5)])
    if status == "running":
        return run_id
    store.finish_run(run_id, status, final_metrics={"test_accuracy": 0.5})
    store.write_artifact(run_id, VAL_LABELS, encode_array(np.arange(4) % 2))
    store.write_artifact(run_id, VAL_PROBS % 1, encode_array(np.full((4, test_probs.shape[1]), 0.5)))
    if test_labels is not None:
        store.write_artifact(run_id, TEST_LABELS, encode_array(test_labels))
        store.write_artifact(run_id, TEST_PROBS, encode_array(test_probs))
    return run_id


def test_members_that_did_not_predict_the_same_images_are_refused(store):
    labels = np.array([0, 1, 1, 0, 1])
    probs = np.eye(2)[labels] * 0.8 + 0.1
    good = _written(store, TINY, labels, probs)
    other = _written(store, TINY.with_overrides({"dataset": "shapes"}), np.array([0, 1, 2]),
                     np.eye(3) * 0.8 + 0.1 / 3)
    with pytest.raises(ValueError, match="different test sets"):
        build_ensemble(store, [good, other])
    wider = _written(store, TINY, labels, np.full((5, 3), 1 / 3))
    with pytest.raises(ValueError, match="different numbers of classes"):
        build_ensemble(store, [good, wider])
    old = _written(store, TINY, None, probs)
    with pytest.raises(ValueError, match="no stored test predictions"):
        build_ensemble(store, [good, old])
    running = _written(store, TINY, labels, probs, status="running")
    with pytest.raises(ValueError, match="completed runs only"):
        build_ensemble(store, [good, running])
    with pytest.raises(ValueError, match="at least 2 runs"):
        build_ensemble(store, [good])


@pytest.mark.usefixtures("fresh_resources")
def test_the_compare_page_builds_an_ensemble_of_the_selected_runs(store):
    labels = np.array([0, 1, 1, 0, 1, 0])
    # Each member gets one image wrong, a different one; their mean gets every one right.
    ids = []
    for wrong in (0, 1, 2):
        probs = np.eye(2)[labels] * 0.6 + 0.2
        probs[wrong] = probs[wrong][::-1]
        ids.append(_written(store, TINY.with_overrides({"seed": wrong}), labels, probs))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["session_name"] = "Ada"
    app.run()
    app.switch_page("pages/3_Compare.py").run()
    table = next(f for f in app.dataframe if f.proto.id.endswith("-compare_table")).value
    order = list(table["run"])
    app.session_state["compare_table"] = {
        "selection": {"rows": [order.index(run) for run in ids], "columns": [], "cells": []}}
    app.run()
    app.session_state["compare_tab"] = "Ensemble"
    app.run()
    assert not app.exception, app.exception
    next(button for button in app.button if button.label == "Ensemble of the selected runs").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Ensemble test accuracy"] == "100.0%"
    assert metrics["Best member, test"] == "83.3%"
    assert len(saved_ensembles(store)) == 1
