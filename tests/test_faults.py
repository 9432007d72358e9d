"""Faults of a shared classroom server, forced on purpose: too little memory, a full disk,
an exception in the middle of `model.fit`, a store that will not take the last write.

Each test makes the fault happen (a monkeypatched memory figure, an OSError with the real
errno, a real tmpfs filled to the brim in a private mount namespace) and checks what a
user sees and what is left on disk: the message, the run's status, no model file that is
not whole, and the other runs unharmed.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading

import keras
import pytest

from cnnlab.store import RunStore
from cnnlab.training import JobManager, executor, job, memory
from cnnlab.training.transfer import load_run_model
from cnnlab.units import format_bytes
from tests.apptest import ROOT, fresh_resources, open_page, plain  # noqa: F401  (fixture)


def _keras_files(folder) -> list[str]:
    """Every model file in a run's folder, the temporary ones (tmpXXXXXXXX.keras) included."""
    return sorted(name for name in os.listdir(folder) if name.endswith(".keras"))


# -- memory: refused at submit -----------------------------------------------------------


def _training_bytes(config) -> int:
    """The estimate the check must use: the summary's arithmetic for this config."""
    estimate = memory.estimate_for_config(config)
    slots = memory.optimizer_slots(config.optimizer, config.optimizer_options.momentum)
    return estimate.training_memory_bytes(config.batch_size, slots)


@pytest.fixture
def no_training(monkeypatch):
    """Runs that are accepted end at once as "stopped": these tests are about submit."""

    def stop_at_once(store, run_id, config, stop_event):
        store.finish_run(run_id, "stopped")
        return "stopped"

    monkeypatch.setattr(executor, "execute_run", stop_at_once)


@pytest.mark.parametrize("share, refused", [
    (1.0, True),     # all of it needed: far over the safe share
    (0.71, True),    # just over the 70 % a run may plan on
    (0.69, False),   # just under
    (0.01, False),   # a tiny run on a big machine
])
def test_a_run_that_does_not_fit_in_memory_is_refused_before_anything_is_written(
        store, tiny_config, monkeypatch, no_training, share, refused):
    needed = _training_bytes(tiny_config)
    available = math.ceil(needed / share)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: available)
    manager = JobManager(store, max_concurrent=1)
    if not refused:
        run_id = manager.submit(tiny_config)
        assert manager.wait(run_id, timeout=300).status == "stopped"
        return
    with pytest.raises(ValueError) as caught:
        manager.submit(tiny_config)
    message = str(caught.value)
    assert message.startswith("Not enough memory to start this run.")
    assert f"Training needs about {format_bytes(needed)}" in message
    assert f"this machine has {format_bytes(available)} available" in message
    assert "at most 70%" in message
    assert "Lower the batch size or the image size" in message
    assert "smaller architecture" in message
    assert store.list_runs() == []
    assert [path.name for path in store.home.iterdir() if path.is_dir()] == []  # no run folder


@pytest.mark.parametrize("fault", ["unknown memory", "estimate fails"])
def test_a_memory_check_that_cannot_be_made_does_not_block_a_run(
        store, tiny_config, monkeypatch, no_training, fault):
    if fault == "unknown memory":
        monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)
    else:
        monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1)  # would refuse

        def cannot_build(config):
            raise RuntimeError("a layer the summary cannot walk")

        monkeypatch.setattr(memory, "estimate_for_config", cannot_build)
    run_id = JobManager(store, max_concurrent=1).submit(tiny_config)
    assert store.get_run(run_id) is not None


@pytest.mark.usefixtures("fresh_resources")
def test_the_train_page_shows_the_memory_refusal_and_writes_nothing(lab_home, monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1_000_000)
    app = open_page("pages/1_Train.py")
    app.number_input(key="train_epochs").set_value(1)
    next(button for button in app.button if button.label == "Train").click().run()
    assert not app.exception
    errors = [plain(error.value) for error in app.error]
    assert any(text.startswith("Not enough memory to start this run.")
               and "1 MB available" in text for text in errors), errors
    assert RunStore(lab_home).list_runs() == []


@pytest.mark.usefixtures("fresh_resources")
def test_a_busy_store_at_submit_is_a_friendly_message_not_sqlite_words(lab_home, monkeypatch):
    def locked(self, config, name=None, session="", owner_key=""):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(JobManager, "submit", locked)
    app = open_page("pages/1_Train.py")
    next(button for button in app.button if button.label == "Train").click().run()
    assert not app.exception
    shown = [plain(element.value) for element in (*app.error, *app.markdown, *app.caption)]
    assert "The lab's run store is busy; try again in a moment." in shown
    assert not any("database is locked" in str(text) for text in shown)
    assert RunStore(lab_home).list_runs() == []


# -- a full disk --------------------------------------------------------------------------


@pytest.mark.parametrize("error, disk_full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EFBIG, "File too large"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("database is locked"), False),
    (RuntimeError("something else"), False),
])
def test_which_errors_mean_a_full_disk(tmp_path, error, disk_full):
    # Keras' writer and h5py raise their own errors with the OSError inside the chain.
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("Unable to synchronously write data") from inner
    except RuntimeError as outer:
        message = job.disk_full_message(outer, tmp_path)
    assert (message is not None) == disk_full
    if disk_full:
        assert message.startswith("The disk is full")
        assert f"Free space in {tmp_path}" in message and str(error) in message


def test_a_full_disk_while_saving_fails_the_run_and_the_other_run_goes_on(
        manager, store, tiny_config, monkeypatch):
    real_save = keras.Model.save
    broken: set[str] = set()
    partial_files = []

    def save_until_the_disk_is_full(model, filepath, *args, **kwargs):
        if os.path.basename(os.path.dirname(filepath)) not in broken:
            return real_save(model, filepath, *args, **kwargs)
        # Half a zip, as a writer leaves it when the kernel refuses the next block.
        with open(filepath, "wb") as file:
            file.write(b"PK\x03\x04" + b"\0" * 50_000)
        partial_files.append(filepath)
        raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

    monkeypatch.setattr(keras.Model, "save", save_until_the_disk_is_full)
    bad = manager.submit(tiny_config)
    broken.add(bad)
    good = manager.submit(tiny_config.with_overrides({"seed": 1}))

    failed = manager.wait(bad, timeout=180)
    assert failed.status == "failed"
    assert failed.error.startswith("The disk is full")
    assert f"Free space in {store.home}" in failed.error
    assert "No space left on device" in failed.error
    assert len(partial_files) == 1 and not os.path.exists(partial_files[0])
    assert _keras_files(store.run_dir(bad)) == []
    with pytest.raises(ValueError, match="only a completed run has a trained model"):
        load_run_model(store, bad)
    # Its curves are kept: the run trained to the end before the save failed.
    epochs = store.metrics(bad, names=["val_accuracy"])
    assert [row.epoch for row in epochs] == [0, 1, 2]  # 0: the untrained model

    finished = manager.wait(good, timeout=180)
    assert finished.status == "completed", finished.error
    assert _keras_files(store.run_dir(good)) == ["model.keras"]
    assert load_run_model(store, good).count_params() > 0


def test_the_model_is_flushed_to_disk_before_it_takes_its_name(store, monkeypatch):
    """A crash right after the rename must find the whole file: fsync comes first."""
    run_id = store.create_run({"dataset": "digits"})
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(job.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(job.os, "replace",
                        lambda a, b: (events.append(f"replace {os.path.basename(b)}"),
                                      real_replace(a, b))[1])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    job._save_model(store, run_id, model)
    assert events[:2] == ["fsync", "replace model.keras"]
    assert _keras_files(store.run_dir(run_id)) == ["model.keras"]


@pytest.mark.parametrize("failures, status", [(2, "completed"), (10, "running")])
def test_the_final_status_write_is_retried_then_left_for_recovery(
        store, tiny_config, monkeypatch, capfd, failures, status):
    monkeypatch.setattr(job, "FINISH_RETRY_DELAYS_S", (0.01, 0.01, 0.01))
    monkeypatch.setattr(job, "configure_tensorflow", lambda: "CPU")
    monkeypatch.setattr(job, "_train", lambda *args: ("completed", {"test_accuracy": 0.5}, None))
    real_finish, calls = store.finish_run, []

    def full_then_fine(*args, **kwargs):
        calls.append(args)
        if len(calls) <= failures:
            raise sqlite3.OperationalError("database or disk is full")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(store, "finish_run", full_then_fine)
    run_id = store.create_run(tiny_config.to_dict())
    # Never raises: an exception here would end the job's thread with a bare traceback.
    assert job.execute_run(store, run_id, tiny_config, threading.Event()) == "completed"
    assert store.get_run(run_id).status == status
    stderr = capfd.readouterr().err
    if status == "completed":
        assert len(calls) == failures + 1 and "left for recovery" not in stderr
    else:
        assert len(calls) == 4
        assert f"could not record that run {run_id} ended as 'completed' after 4 tries" in stderr
        assert "database or disk is full" in stderr and "left for recovery" in stderr


# The child of the real-disk test: a tiny run whose save meets the kernel's own ENOSPC.
_FILL_THEN_TRAIN = textwrap.dedent("""
    import json, os, sys
    from cnnlab.config import ExperimentConfig
    from cnnlab.store import RunStore
    from cnnlab.training import JobManager, job

    home, free = sys.argv[1], int(sys.argv[2])
    real_save = job._save_model

    def fill_the_disk_then_save(store, run_id, model):
        # Leave `free` bytes: enough for the store's last writes, not for the model.
        stat = os.statvfs(home)
        left = stat.f_bavail * stat.f_frsize - free
        with open(os.path.join(home, "filler"), "wb") as filler:
            while left > 0:
                left -= filler.write(b"\\0" * min(left, 1 << 20))
        real_save(store, run_id, model)

    job._save_model = fill_the_disk_then_save
    manager = JobManager(RunStore(home), max_concurrent=1)
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1,
                              batch_size=32)
    run_id = manager.submit(config)
    record = manager.wait(run_id, timeout=400)
    print(json.dumps({"run_id": run_id, "status": record.status, "error": record.error}))
""")


def _private_tmpfs_works(mount_point) -> str | None:
    """Why a private tmpfs cannot be mounted here (None when it can)."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux and unshare(1) to mount a small private tmpfs"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs '{mount_point}'"],
        capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        return f"unshare -rm cannot mount a tmpfs here: {probe.stderr.strip()}"
    return None


def test_the_real_kernel_enospc_while_saving_leaves_a_sound_store_and_no_model(tmp_path):
    mount_point, copy = tmp_path / "small_disk", tmp_path / "after"
    mount_point.mkdir()
    reason = _private_tmpfs_works(mount_point)
    if reason is not None:
        pytest.skip(reason)
    script = tmp_path / "fill_then_train.py"
    script.write_text(_FILL_THEN_TRAIN)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "CNNLAB_HOME": str(mount_point)}
    # The tmpfs lives as long as the namespace: its files are copied out before it ends.
    command = (f"mount -t tmpfs -o size=24m tmpfs '{mount_point}' && "
               f"'{sys.executable}' '{script}' '{mount_point}' 48000; status=$?; "
               f"rm -f '{mount_point}/filler'; cp -a '{mount_point}' '{copy}'; exit $status")
    child = subprocess.run(["unshare", "-rm", "sh", "-c", command], env=env,
                           capture_output=True, text=True, timeout=500, cwd=ROOT, check=False)
    assert child.returncode == 0, child.stderr[-3000:]
    reported = json.loads(child.stdout.strip().splitlines()[-1])
    run_id = reported["run_id"]

    with sqlite3.connect(copy / "cnnlab.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = RunStore(copy)
    record = store.get_run(run_id)
    if record.status == "running":  # even the failure could not be written: recovery's turn
        JobManager(store, max_concurrent=1).shutdown()
        record = store.get_run(run_id)
        assert record.status == "interrupted"
    else:
        assert record.status == "failed" == reported["status"]
        assert record.error.startswith("The disk is full"), record.error
        assert "No space left on device" in record.error
    assert store.metrics(run_id, names=["batch/loss"]), "the curves written before are kept"
    assert _keras_files(store.run_dir(run_id)) == []
    with pytest.raises(ValueError, match="cannot start another run"):
        load_run_model(store, run_id)
    store.close()


# -- an exception inside model.fit -------------------------------------------------------


def test_an_exception_at_step_3_of_fit_fails_the_run_and_keeps_the_steps_before(
        manager, store, tiny_config, monkeypatch):
    from cnnlab import schedules

    class FailAtStep3(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise RuntimeError("simulated failure at step 3 of epoch 1")

    real_callbacks = schedules.schedule_callbacks
    monkeypatch.setattr(schedules, "schedule_callbacks",
                        lambda settings: [*real_callbacks(settings), FailAtStep3()])
    run_id = manager.submit(tiny_config)
    record = manager.wait(run_id, timeout=120)
    assert record.status == "failed"
    assert record.error == "RuntimeError: simulated failure at step 3 of epoch 1"
    # The lab's recorder runs before the failing callback: the three steps are all kept,
    # even those still in its buffer when fit raised.
    steps = [(row.epoch, row.step) for row in store.metrics(run_id, names=["batch/loss"])]
    assert steps == [(1, 1), (1, 2), (1, 3)]
    assert _keras_files(store.run_dir(run_id)) == []
