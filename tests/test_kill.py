"""kill -9 of the server: the database stays whole, every run ends completed or interrupted,
and no half-written artifact is ever loaded or left behind.

The reduced CI form of `benchmarks/kill_trials.py` (whose full form kills at 20 random
moments): four trials, each killing a real server process (a JobManager with four small runs,
two at a time) in a chosen state, watched from here as a page watches the store. Plus fast
checks, with no process killed, that recovery removes exactly the temporary files the lab's
two atomic writers leave behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from benchmarks.kill_trials import trial
from cnnlab.store import records
from cnnlab.store.artifacts import is_temporary
from cnnlab.store.owners import HEARTBEAT_TIMEOUT_S

CONFIG = {"architecture": "small_convnet"}
# Orphaned workers end within half a second on a quiet machine (benchmarks/kill_trials.py
# measures it); with other jobs on the two cores a worker's polling thread can wait for
# seconds, so the test gives them long: it checks that they end, not how fast.
WORKER_EXIT_TIMEOUT_S = 120.0


# -- the trials: a real server killed in each state ------------------------------------------


def _queued(result):  # killed at once after submit: two runs queued, two loading/building
    return result["at_kill"].get("queued", 0) >= 2 and "completed" not in result["at_kill"]


def _training(result):  # killed once the first epoch is stored, before any run ended
    return result["at_kill"].get("running", 0) >= 1 and "completed" not in result["at_kill"]


def _saving(result):  # killed while a model file was being written
    return result["temp_files_before_recovery"] >= 1


def _first_completed(result):  # killed just after the first run completed
    return result["at_kill"].get("completed", 0) >= 1 and result["models_loaded"] >= 1


# Killed alone, the server leaves its workers to end by themselves; killed with them (a
# machine or container going down), a worker dies in the middle of what it was writing.
@pytest.mark.parametrize("moment, seed, reached, with_workers", [
    ("queued", 11, _queued, False),
    ("training", 12, _training, False),
    ("saving", 13, _saving, True),
    ("first_completed", 14, _first_completed, True),
])
def test_a_server_killed_mid_work_recovers_cleanly(tmp_path, moment, seed, reached, with_workers):
    result = trial(tmp_path / "home", seed, moment=moment, with_workers=with_workers,
                   worker_exit_timeout_s=WORKER_EXIT_TIMEOUT_S)

    assert result["killed"], f"the server ended before the {moment!r} state: {result}"
    assert reached(result), f"not killed in the {moment!r} state: {result}"
    assert result["integrity_ok"], result["integrity"]
    assert result["other_status"] == 0, f"runs left {result['other_statuses']}: {result}"
    assert result["completed"] + result["interrupted"] == result["runs"] == 4
    # Every completed run's model loads and scores the test accuracy its run stored.
    assert result["models_loaded"] == result["completed"]
    assert result["accuracy_mismatch"] == 0, result
    # No interrupted run's model is ever loaded, even one saved just before the kill.
    assert result["interrupted_models_refused"] == result["interrupted"]
    assert result["unreadable_artifacts"] == 0, result
    assert result["temp_files_after_recovery"] == 0, result
    # The server trained in worker processes (as the app does); none outlived it.
    assert result["isolation"] == "process" and result["workers"] >= 1, result
    assert result["workers_left"] == 0, result


# -- the temporary files recovery removes ------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _listing_at_rename(monkeypatch, write) -> list[str]:
    """The folder's names at the moment `write` renames its temporary file into place,
    which is what a kill just before the rename leaves behind."""
    seen = []
    real_replace = os.replace

    def replace(source, target):
        seen.extend(sorted(os.listdir(os.path.dirname(source))))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    write()
    monkeypatch.setattr(os, "replace", real_replace)
    return seen


class _FakeModel:
    def save(self, path):
        with open(path, "wb") as file:
            file.write(b"PK")


@pytest.mark.parametrize("writer", ["write_artifact", "save_model"])
def test_the_writers_temporary_files_are_recognised(store, monkeypatch, writer):
    """The patterns match the names the writers really use, and only those."""
    from cnnlab.training.job import _save_model

    run_id = store.create_run(CONFIG)
    write = {"write_artifact": lambda: store.write_artifact(run_id, "val_probs_001.npy", b"x"),
             "save_model": lambda: _save_model(store, run_id, _FakeModel())}[writer]
    names = _listing_at_rename(monkeypatch, write)
    final = {"write_artifact": "val_probs_001.npy", "save_model": "model.keras"}[writer]
    temporaries = [name for name in names if name != final]
    assert len(temporaries) == 1, names
    assert is_temporary(temporaries[0])
    assert os.listdir(store.run_dir(run_id)) == [final]


@pytest.mark.parametrize("name, temporary", [
    (".val_probs_001.npy.k3_9xq0a.tmp", True),
    (".model.keras.abcdefgh.tmp", True),
    ("tmpa1b2_c3d.keras", True),
    ("model.keras", False),
    ("val_probs_001.npy", False),
    ("tmp.keras", False),
    ("tmpabc.keras", False),  # too short for mkstemp
    ("tmpabcdefgh.keras.bak", False),
    ("TMPABCDEFGH.keras", False),  # mkstemp draws lowercase only
    ("notes.tmp", False),
    (".model.keras.tmp", False),
    ("tensorboard", False),
])
def test_temporary_names(name, temporary):
    assert is_temporary(name) is temporary


def _make_owner(store, run_id, owner, clock):
    host = socket.gethostname()
    if owner == "dead process":
        store.mark_running(run_id, device="CPU", owner=f"{host}:{_dead_pid()}")
    elif owner == "this process":
        store.mark_running(run_id, device="CPU")
    else:  # a silent owner on another host, last heard from 11 minutes ago
        store.mark_running(run_id, device="CPU", owner="another-host.example:4242")
        clock[0] += HEARTBEAT_TIMEOUT_S + 60


@pytest.mark.parametrize("owner, file_age_s, interrupted, removed", [
    ("dead process", 0, True, True),
    ("this process", 0, False, False),  # a live writer's file, mid-write
    ("other host", 0, True, False),  # it may yet be writing there: a fresh file is spared
    ("other host", 2 * HEARTBEAT_TIMEOUT_S, True, True),
])
def test_recovery_removes_a_dead_writers_temporary_files(store, monkeypatch, owner,
                                                         file_age_s, interrupted, removed):
    clock = [time.time()]
    monkeypatch.setattr(records, "now", lambda: clock[0])
    run_id = store.create_run(CONFIG)
    _make_owner(store, run_id, owner, clock)
    folder = store.run_dir(run_id)
    store.write_artifact(run_id, "val_probs_001.npy", b"complete")
    # What a writer killed mid-write leaves: each writer's temporary file, half written.
    handle, artifact_tmp = tempfile.mkstemp(prefix=".val_probs_002.npy.", suffix=".tmp", dir=folder)
    os.write(handle, b"hal")
    os.close(handle)
    handle, model_tmp = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.write(handle, b"PK\x03")
    os.close(handle)
    then = time.time() - file_age_s
    for path in (artifact_tmp, model_tmp):
        os.utime(path, (then, then))
    # A user's own files, and one in a subfolder, are never touched.
    keep = ["notes.tmp", "tmp.keras", "model.keras.bak"]
    for name in keep:
        (folder / name).write_bytes(b"mine")
    (folder / "tensorboard").mkdir()
    (folder / "tensorboard" / ".events.abcdefgh.tmp").write_bytes(b"")

    assert store.recover_interrupted() == ([run_id] if interrupted else [])

    left = sorted(os.listdir(folder))
    temporaries = sorted(os.path.basename(path) for path in (artifact_tmp, model_tmp))
    expected = sorted(["val_probs_001.npy", "tensorboard", *keep,
                       *([] if removed else temporaries)])
    assert left == expected
    assert os.listdir(folder / "tensorboard") == [".events.abcdefgh.tmp"]
    assert store.read_artifact(run_id, "val_probs_001.npy") == b"complete"
