"""The runs table and notes of `python -m cnnlab runs` (cnnlab.analysis.report), from stored records."""

from __future__ import annotations

import pytest

from cnnlab.analysis.report import run_note, runs_table
from cnnlab.store import RunRecord

FINAL = {"accuracy": 0.98, "val_accuracy": 0.95, "loss": 0.05, "val_loss": 0.2}


def _record(status, progress=None, final=None, error=None, run_id="20260101-000000-abcd"):
    return RunRecord(run_id, "a run", {"epochs": 6}, status, 0.0, 1.0, 2.0, "CPU", "host:1",
                     progress or {}, final or {}, error)


@pytest.mark.parametrize("record, note", [
    (_record("completed", {"epoch": 6}, FINAL), ""),
    (_record("completed", {"epoch": 4}, {**FINAL, "early_stopping_epoch": 4}),
     "early stopping after epoch 4"),
    (_record("diverged", {"epoch": 1, "step": 3}, {}, "The loss became NaN..."),
     "loss NaN or infinite in epoch 1, before any epoch ended: no figures"),
    (_record("diverged", {"epoch": 3, "step": 3}, FINAL, "The loss became NaN..."),
     "loss NaN or infinite in epoch 3; figures of the last epoch before it"),
    (_record("stopped", {}, {}), "stopped before training started"),
    (_record("stopped", {"epoch": 2}, FINAL),
     "stopped in epoch 2; figures of the last complete epoch"),
    (_record("failed", {}, {}, "ValueError: bad thing\nTraceback..."), "ValueError: bad thing"),
    (_record("running", {"stage": "building_model"}), "Building the model"),
])
def test_a_note_says_why_figures_are_missing(record, note):
    assert run_note(record) == note


def test_the_table_gives_train_and_validation_accuracy_their_gap_and_epochs():
    lines = runs_table([_record("completed", {"epoch": 6}, FINAL),
                        _record("diverged", {"epoch": 1}, {}, "NaN", run_id="20260101-000001-beef")])
    assert lines[0].split() == ["run", "status", "epochs", "train", "acc", "val", "acc", "gap", "name"]
    assert lines[1].split() == ["20260101-000000-abcd", "completed", "6/6", "98.0%", "95.0%", "+3.0",
                                "a", "run"]
    diverged, note = lines[2].split("\n")
    assert diverged.split()[:6] == ["20260101-000001-beef", "diverged", "1/6", "-", "-", "-"]
    assert "before any epoch ended" in note
