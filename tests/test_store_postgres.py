"""The PostgreSQL store under faults: a server crash and restart under load loses no
committed metric row; a bad URL or a server that is down is said in words."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from cnnlab.store import RunStore
from cnnlab.store.postgres import StoreBusy, redacted


def test_a_server_restarted_under_load_loses_no_committed_metric_row(postgres_server, postgres_url, tmp_path):
    store = RunStore(tmp_path / "home")
    run_id = store.create_run({"epochs": 1})
    store.mark_running(run_id, device="CPU")
    committed, refused, stop = [], [], threading.Event()

    def train():
        """Flush a batch of rows at a time, retrying a refused flush as the training
        callback does (cnnlab.training.callbacks: the rows are kept and written again)."""
        writer = RunStore(tmp_path / "home")
        step = 0
        while not stop.is_set():
            step += 1
            rows = [(1, step, "batch/loss", 1.0 / step), (1, step, "batch/accuracy", 0.5)]
            while not stop.is_set():
                try:
                    writer.add_metrics_and_progress(run_id, rows, {"step": step})
                    committed.append(step)
                    break
                except sqlite3.OperationalError as error:  # StoreBusy while the server is down
                    refused.append(error)
                    time.sleep(0.05)
        writer.close()

    thread = threading.Thread(target=train)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(committed) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(committed)
        postgres_server.restart("immediate")  # as a crash: no shutdown checkpoint
        deadline = time.monotonic() + 60
        while len(committed) < before + 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(60)
    assert len(committed) >= before + 50, "the writer did not go on after the restart"
    assert refused and all(isinstance(error, StoreBusy) for error in refused)
    # The reader's connection died with the server: it connects again by itself.
    stored = store.metrics(run_id)
    steps = [row.step for row in stored if row.name == "batch/loss"]
    assert set(committed) <= set(steps), f"lost: {sorted(set(committed) - set(steps))[:10]}"
    # Whole transactions only: each step's two rows together.
    assert sorted(steps) == sorted(row.step for row in stored if row.name == "batch/accuracy")
    assert store.get_run(run_id).progress["step"] == max(steps)
    store.close()


def test_a_server_that_is_down_is_busy_not_a_crash(postgres_server, tmp_path):
    url = postgres_server.url("no_such_database")
    with pytest.raises(StoreBusy, match="cannot be reached"):
        RunStore(tmp_path / "home", database_url=url)


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///x.db", "postgresql-ish"])
def test_a_url_that_is_not_postgresql_is_refused(tmp_path, url):
    with pytest.raises(ValueError, match="Invalid CNNLAB_DATABASE_URL. Expected a PostgreSQL URL"):
        RunStore(tmp_path / "home", database_url=url)


def test_passwords_are_kept_out_of_messages():
    assert redacted("postgresql://lab:s3cret@db:5432/cnnlab") == "postgresql://lab:***@db:5432/cnnlab"
    assert redacted("postgresql://lab@db/cnnlab") == "postgresql://lab@db/cnnlab"


def test_a_run_trains_into_postgresql(postgres_url, tmp_path, tiny_config):
    """The server's whole path: the job manager trains a run in a worker process (which
    finds the database through CNNLAB_DATABASE_URL, as the app's workers do), its rows and
    status go to PostgreSQL, and a store opened anew reads it all back; artifacts in the home."""
    from cnnlab.training import JobManager

    store = RunStore(tmp_path / "home")
    manager = JobManager(store, max_concurrent=1, isolation="process")
    try:
        run_id = manager.submit(tiny_config, name="on postgres")
        deadline = time.monotonic() + 240
        while store.get_run(run_id).is_active and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        manager.shutdown(timeout=60)
    other = RunStore(tmp_path / "home")
    record = other.get_run(run_id)
    assert record.status == "completed", record.error
    assert record.final_metrics["val_accuracy"] > 0.2
    epochs = {row.epoch for row in other.metrics(run_id, names=["val_accuracy"])}
    assert epochs == {0, 1, 2}  # 0: the untrained point
    assert other.read_artifact(run_id, "model.keras") is not None
    other.close()
    store.close()


def test_a_writer_held_up_past_the_busy_timeout_gets_busy_and_writes_nothing(postgres_url, tmp_path,
                                                                              monkeypatch):
    """Another writer holding the store's write lock: a write waits, then fails as busy (a
    sqlite3.OperationalError, which the pages say in words), and leaves nothing behind."""
    import psycopg

    from cnnlab.store import runs
    from cnnlab.store.postgres import WRITE_LOCK_KEY
    from ui.resources import store_error_message

    monkeypatch.setattr(runs, "BUSY_TIMEOUT_S", 1.0)
    store = RunStore(tmp_path / "home")
    run_id = store.create_run({})
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError) as caught:
            store.add_metrics(run_id, [(1, 1, "loss", 0.5)])
        assert 0.9 <= time.monotonic() - started < 20
        assert isinstance(caught.value, StoreBusy)
        assert store_error_message(caught.value) == "The lab's run store is busy; try again in a moment."
        other.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK_KEY,))
    assert store.metrics(run_id) == []
    store.add_metrics(run_id, [(1, 1, "loss", 0.5)])  # the same connection goes on
    assert len(store.metrics(run_id)) == 1
    store.close()
