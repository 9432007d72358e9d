"""What a run is doing, in words, and when a queued run should start (cnnlab.training.status)."""

from __future__ import annotations

import pytest

from cnnlab.store import RunRecord
from cnnlab.training.status import (
    STAGES,
    describe,
    fraction_done,
    queue_progress,
    stage_of,
    start_estimates,
)


def _record(run_id="r", status="queued", progress=None, owner="host:1", created=0.0):
    return RunRecord(run_id, "name", {"epochs": 6}, status, created, None, None, None, owner,
                     progress or {}, {}, None)


TRAINING = {"stage": "training", "epoch": 2, "epochs": 6, "step": 5, "steps_per_epoch": 36,
            "fraction": 0.2, "elapsed_s": 10.0, "eta_s": 40.0}


@pytest.mark.parametrize("status, progress, stage", [
    ("queued", {}, "queued"),
    ("queued", queue_progress(2, 3, 2), "queued"),
    ("queued", {"stage": "starting_worker"}, "starting_worker"),
    ("running", {}, "loading_data"),  # a run of an older lab, or one just marked running
    ("running", {"stage": "building_model"}, "building_model"),
    ("running", {"stage": "starting_worker"}, "loading_data"),  # the manager's word came late
    ("running", {"epoch": 1, "epochs": 2, "step": 1, "steps_per_epoch": 3}, "training"),
    ("running", {**TRAINING, "stage": "evaluating"}, "evaluating"),
    ("completed", TRAINING, "completed"),
])
def test_stage_of(status, progress, stage):
    assert stage_of(_record(status=status, progress=progress)) == stage


@pytest.mark.parametrize("status, progress, start_in, words", [
    ("queued", {}, None, STAGES["queued"]),
    ("queued", queue_progress(1, 4, 2), 12.4,
     "Queued: 1st of 4 waiting; all 2 training slots busy; starts in about 12 s"),
    ("queued", queue_progress(3, 4, 2), None,
     "Queued: 3rd of 4 waiting; all 2 training slots busy; starts after 2 runs ahead of it"),
    ("queued", queue_progress(1, 1, 1), None,
     "Queued: 1st of 1 waiting; all 1 training slot busy; starts when a training run ends"),
    ("queued", queue_progress(2, 2, 1), 150.0,
     "Queued: 2nd of 2 waiting; all 1 training slot busy; starts in about 2 min"),
    ("queued", {"stage": "starting_worker"}, None, STAGES["starting_worker"]),
    ("running", {"stage": "first_step"}, None, STAGES["first_step"]),
    ("running", TRAINING, None, "Epoch 2/6 · step 5/36 · 40 s left"),
])
def test_describe(status, progress, start_in, words):
    assert describe(_record(status=status, progress=progress), start_in) == words


def test_short_words_fit_a_narrow_bar():
    assert describe(_record(progress=queue_progress(2, 4, 2)), 30.0, short=True) == \
        "queued 2nd, starts in ~30 s"
    assert describe(_record(progress={"stage": "starting_worker"}), short=True) == "starting a worker"
    assert describe(_record(status="running", progress=TRAINING), short=True) == "epoch 2/6"


def _running(run_id, elapsed, eta, owner="host:1"):
    return _record(run_id, "running", {**TRAINING, "elapsed_s": elapsed, "eta_s": eta}, owner)


def _queued(run_id, position, slots=2, owner="host:1"):
    return _record(run_id, "queued", queue_progress(position, 9, slots), owner)


@pytest.mark.parametrize("records, expected", [
    # Two slots busy, 10 s and 30 s left; the runs take (10 + 10 + 50 + 30) / 2 = 50 s.
    ([_running("a", 10, 10), _running("b", 50, 30), _queued("q1", 1), _queued("q2", 2),
      _queued("q3", 3)], {"q1": 10.0, "q2": 30.0, "q3": 60.0}),
    # A slot is free (the manager is about to start it): at once.
    ([_running("a", 10, 10), _queued("q1", 1)], {"q1": 0.0}),
    # No run has a time left yet (all still starting): unknown.
    ([_record("s", "queued", {"stage": "starting_worker"}), _queued("q1", 1, slots=1)],
     {"q1": None}),
    # Another process's queue (the command line) shares no slot with the server's.
    ([_running("a", 10, 10), _running("b", 10, 20), _queued("q1", 1),
      _queued("cli", 1, slots=1, owner="host:2")], {"q1": 10.0, "cli": 0.0}),
    ([_running("a", 10, 10)], {}),
])
def test_start_estimates(records, expected):
    estimates = start_estimates(records)
    assert estimates.keys() == expected.keys()
    for run_id, seconds in expected.items():
        assert estimates[run_id] == (None if seconds is None else pytest.approx(seconds)), run_id


@pytest.mark.parametrize("status, progress, fraction", [
    ("queued", {"stage": "queued", "position": 2}, 0.0),
    ("running", {"stage": "loading_data"}, 0.0),  # not training yet
    ("running", TRAINING, 0.2),
    ("running", {**TRAINING, "fraction": 1.0000001}, 1.0),  # rounding never overshoots the bar
    ("completed", {**TRAINING, "fraction": 0.98}, 1.0),
    ("stopped", TRAINING, 0.2),
    ("failed", {}, None),  # it never trained
])
def test_fraction_done(status, progress, fraction):
    assert fraction_done(_record(status=status, progress=progress)) == fraction
