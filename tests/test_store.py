"""Tests of the run store: round-trips, statuses, metrics, concurrency, recovery, artifacts.

Every test taking `store` runs on both backends: SQLite (the default) and PostgreSQL (a
throwaway server, tests/postgres.py; CNNLAB_DATABASE_URL set for the test, so stores opened
again and child processes use the same database).
"""

import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cnnlab import store as store_module
from cnnlab.store import (
    ACTIVE_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    MetricRow,
    RunRecord,
    RunStore,
    default_home,
    owners,
    records,
    schema,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"architecture": "lenet5", "learning_rate": 0.01, "tricks": {"dropout_rate": 0.5},
          "augment": ["flip", "rotate"], "seed": None}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    with RunStore(tmp_path / "home") as run_store:
        assert run_store.backend == request.param
        yield run_store


def _python(code: str, **kwargs) -> subprocess.Popen:
    """Start a Python child that can import cnnlab from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def _set_owner(store, run_id, owner, **times):
    """Rewrite a run's owner and times as another process would have left them."""
    assignments = ", ".join(f"{column} = ?" for column in ["owner", *times])
    with store._write() as conn:
        conn.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?",
                     (owner, *times.values(), run_id))


# -- runs ----------------------------------------------------------------------------------


def test_create_get_round_trip(store):
    before = time.time()
    run_id = store.create_run(CONFIG, name="baseline")
    record = store.get_run(run_id)
    assert isinstance(record, RunRecord)
    assert record.run_id == run_id
    assert record.name == "baseline"
    assert record.config == CONFIG
    assert record.status == "queued" and record.is_active
    assert before <= record.created_at <= time.time()
    assert record.started_at is None and record.finished_at is None
    assert record.duration_s is None
    assert record.progress == {} and record.final_metrics == {} and record.error is None
    assert record.owner == f"{socket.gethostname()}:{os.getpid()}"
    assert store.run_dir(run_id).is_dir()
    assert store.get_run("20000101-000000-0000") is None


def test_store_files_and_schema(store):
    if store.backend == "sqlite":
        assert store.db_path == store.home / "cnnlab.sqlite3"
        conn = sqlite3.connect(store.db_path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(metrics)")}
        conn.close()
    else:
        assert not (store.home / "cnnlab.sqlite3").exists()
        conn = store._conn()
        assert conn.execute("SELECT version FROM cnnlab_schema").fetchall() == [(store_module.SCHEMA_VERSION,)]
        indexes = {row[0] for row in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'metrics'")}
        columns = {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'")}
        assert "session" in columns  # migration 3
    assert {"metrics_by_run", "metrics_by_run_name"} <= indexes
    # Opening the same home again keeps what is there.
    run_id = store.create_run({})
    assert RunStore(store.home).get_run(run_id) is not None


def test_runs_stored_before_the_momentum_field_keep_the_momentum_they_trained_with(tmp_path):
    """Schema 4: configs stored by schema 3 trained batch norm at Keras' 0.99."""
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / store_module.DB_NAME)
    for statement in schema.TABLES:
        conn.execute(statement)
    for step in (2, 3):
        for statement in schema.MIGRATIONS[step]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    old = {"dataset": "digits", "tricks": {"batch_norm": True}}
    newer = {"dataset": "digits", "tricks": {"batch_norm": True, "batch_norm_momentum": 0.9}}
    for run_id, config in (("old", old), ("newer", newer), ("bare", {"i": 1})):
        conn.execute("INSERT INTO runs (run_id, config_json, status, created_at, updated_at) "
                     "VALUES (?, ?, 'completed', 0, 0)", (run_id, json.dumps(config)))
    conn.commit()
    conn.close()
    store = RunStore(home)
    assert store.get_run("old").config["tricks"] == {"batch_norm": True, "batch_norm_momentum": 0.99}
    assert store.get_run("newer").config == newer  # a stored momentum is kept
    assert store.get_run("bare").config == {"i": 1}  # no tricks, nothing added
    store.close()


def test_run_ids_are_unique_and_time_sortable(store, monkeypatch):
    clock = [1_790_000_000.0]
    monkeypatch.setattr(records, "now", lambda: clock[0])
    ids = []
    for _ in range(3):
        ids += [store.create_run({"i": i}) for i in range(20)]
        clock[0] += 1.0
    assert len(set(ids)) == len(ids)
    # 1_790_000_000 is 2026-09-21 14:13:20 UTC.
    assert ids[0].startswith("20260921-141320-") and ids[-1].startswith("20260921-141322-")
    seconds = [run_id.rsplit("-", 1)[0] for run_id in ids]
    assert seconds == sorted(seconds)


def test_list_runs_newest_first_with_filters(store, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(records, "now", lambda: clock[0])
    ids = []
    for i in range(5):
        ids.append(store.create_run({"i": i}))
        clock[0] += 1.0
    store.mark_running(ids[1], device="CPU")
    store.finish_run(ids[2], "failed", error="boom")
    assert [r.run_id for r in store.list_runs()] == ids[::-1]
    assert [r.run_id for r in store.list_runs(limit=2)] == [ids[4], ids[3]]
    assert [r.run_id for r in store.list_runs(statuses=["running", "failed"])] == [ids[2], ids[1]]
    assert [r.run_id for r in store.list_runs(statuses="running")] == [ids[1]]
    assert store.list_runs(statuses=[]) == []
    assert [r.config["i"] for r in store.list_runs(statuses=ACTIVE_STATUSES)] == [4, 3, 1, 0]


def test_status_transitions(store, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(records, "now", lambda: clock[0])
    run_id = store.create_run(CONFIG)
    clock[0] = 110.0
    assert store.mark_running(run_id, device="GPU:0")
    record = store.get_run(run_id)
    assert (record.status, record.device, record.started_at) == ("running", "GPU:0", 110.0)
    assert record.owner == f"{socket.gethostname()}:{os.getpid()}"
    clock[0] = 115.0
    assert record.duration_s == 5.0
    store.update_progress(run_id, {"epoch": 2, "step": 7, "eta_s": None})
    record = store.get_run(run_id)
    assert record.progress == {"epoch": 2, "step": 7, "eta_s": None}
    assert record.updated_at == 115.0
    clock[0] = 130.0
    store.finish_run(run_id, "completed", final_metrics={"test_accuracy": 0.97, "loss": math.inf})
    record = store.get_run(run_id)
    assert record.status == "completed" and not record.is_active
    assert record.finished_at == 130.0 and record.duration_s == 20.0
    assert record.final_metrics == {"test_accuracy": 0.97, "loss": math.inf}
    assert record.progress == {"epoch": 2, "step": 7, "eta_s": None}


@pytest.mark.parametrize("status", TERMINAL_STATUSES)
def test_finish_run_with_each_terminal_status(store, status):
    run_id = store.create_run(CONFIG)
    store.finish_run(run_id, status, error=f"{status} because")
    record = store.get_run(run_id)
    assert (record.status, record.error) == (status, f"{status} because")


@pytest.mark.parametrize("status", ["queued", "running", "done", "Completed", ""])
def test_finish_run_rejects_non_terminal_status(store, status):
    run_id = store.create_run(CONFIG)
    with pytest.raises(ValueError) as info:
        store.finish_run(run_id, status)
    message = str(info.value)
    assert f"Received: {status!r}" in message
    assert str(list(TERMINAL_STATUSES)) in message
    assert store.get_run(run_id).status == "queued"


@pytest.mark.parametrize("ending", ["stopped", "interrupted"])
def test_a_run_that_ended_while_it_waited_is_never_marked_running(store, ending):
    """A run stopped in the queue (or interrupted by a restarted server) stays ended when
    a worker takes it late: mark_running says so, and changes nothing."""
    run_id = store.create_run(CONFIG)
    if ending == "stopped":
        store.finish_run(run_id, "stopped")
    else:
        with store._write() as conn:  # as recovery does
            conn.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?", (run_id,))
    assert store.mark_running(run_id, device="CPU") is False
    record = store.get_run(run_id)
    assert (record.status, record.started_at, record.device) == (ending, None, None)


def test_list_runs_rejects_unknown_status(store):
    with pytest.raises(ValueError, match=r"Unknown `status`.*Received: 'done'") as info:
        store.list_runs(statuses=["completed", "done"])
    assert str(list(STATUSES)) in str(info.value)


@pytest.mark.parametrize("call", [
    lambda s: s.mark_running("nope-1", device="CPU"),
    lambda s: s.update_progress("nope-1", {"epoch": 1}),
    lambda s: s.finish_run("nope-1", "completed"),
    lambda s: s.add_metrics("nope-1", [(1, 1, "loss", 0.5)]),
    lambda s: s.add_metrics_and_progress("nope-1", [(1, 1, "loss", 0.5)], {}),
    lambda s: s.write_artifact("nope-1", "a.bin", b"x"),
])
def test_unknown_run_id_is_named(store, call):
    with pytest.raises(ValueError, match=r"Unknown `run_id`.*Received: 'nope-1'"):
        call(store)
    assert store.metrics("nope-1") == []


@pytest.mark.parametrize("config, needle", [
    ([1, 2], "Expected a dict"),
    ({"f": {1, 2}}, "cannot be saved as JSON"),
])
def test_create_run_rejects_configs_json_cannot_hold(store, config, needle):
    with pytest.raises(ValueError, match=needle):
        store.create_run(config)
    assert store.list_runs() == []
    assert [p.name for p in store.home.iterdir() if p.is_dir()] == []


# -- metrics -------------------------------------------------------------------------------


def test_metrics_incremental_reads(store):
    run_id = store.create_run(CONFIG)
    other = store.create_run(CONFIG)
    store.add_metrics(run_id, [(1, 1, "loss", 2.0), (1, 1, "accuracy", 0.1)])
    store.add_metrics(other, [(1, 1, "loss", 9.0)])
    first = store.metrics(run_id)
    assert [(r.epoch, r.step, r.name, r.value) for r in first] == [
        (1, 1, "loss", 2.0), (1, 1, "accuracy", 0.1)]
    assert all(isinstance(r, MetricRow) for r in first)
    last = first[-1].id
    assert store.metrics(run_id, after_id=last) == []
    store.add_metrics_and_progress(run_id, [(1, 2, "loss", 1.5), (1, 2, "accuracy", 0.3)],
                                   {"epoch": 1, "step": 2})
    new = store.metrics(run_id, after_id=last)
    assert [(r.step, r.name, r.value) for r in new] == [(2, "loss", 1.5), (2, "accuracy", 0.3)]
    assert [r.id for r in new] == sorted(r.id for r in new) and new[0].id > last
    assert store.get_run(run_id).progress == {"epoch": 1, "step": 2}
    assert [r.value for r in store.metrics(run_id, names=["loss"])] == [2.0, 1.5]
    assert [r.value for r in store.metrics(run_id, after_id=last, names=("accuracy",))] == [0.3]
    assert store.metrics(run_id, names=[]) == []


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.0, -1e-300, 1e308])
def test_metric_values_round_trip(store, value):
    run_id = store.create_run(CONFIG)
    store.add_metrics(run_id, [(3, 4, "loss", value)])
    (row,) = store.metrics(run_id)
    assert (row.epoch, row.step, row.name) == (3, 4, "loss")
    assert isinstance(row.value, float)
    assert row.value == value or (math.isnan(value) and math.isnan(row.value))


@pytest.mark.parametrize("row", [(1, 1, "loss"), (1.5, 1, "loss", 0.0), (1, 1, "", 0.0),
                                 (1, 1, "loss", None), (1, 1, "loss", "high")])
def test_bad_metric_rows_write_nothing(store, row):
    run_id = store.create_run(CONFIG)
    with pytest.raises(ValueError, match="Invalid metric row"):
        store.add_metrics(run_id, [(1, 1, "ok", 1.0), row])
    assert store.metrics(run_id) == []


def test_concurrent_writers_and_reader(store):
    run_id = store.create_run(CONFIG)
    errors, seen, done = [], [], threading.Event()

    def write(worker):
        try:
            for start in range(0, 2000, 25):
                rows = [(worker, step, f"w{worker}", float(step))
                        for step in range(start, start + 25)]
                if start % 50:
                    store.add_metrics(run_id, rows)
                else:
                    store.add_metrics_and_progress(run_id, rows, {"step": start})
        except Exception as exc:  # collected, so the test fails with it
            errors.append(exc)

    def read():
        try:
            last = 0
            while True:
                finished = done.is_set()
                rows = store.metrics(run_id, after_id=last)
                assert all(a.id < b.id for a, b in zip(rows, rows[1:]))
                if rows:
                    assert rows[0].id > last
                    last = rows[-1].id
                    seen.extend(rows)
                if finished:
                    return
        except Exception as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in (1, 2)]
    reader = threading.Thread(target=read)
    for thread in [reader, *writers]:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    reader.join(60)
    assert errors == []
    assert len(store.metrics(run_id)) == 4000
    assert len(seen) == 4000
    for worker in (1, 2):
        assert sorted(r.step for r in seen if r.name == f"w{worker}") == list(range(2000))


def test_writers_in_other_processes(store):
    run_id = store.create_run(CONFIG)
    code = f"""
        import sys
        from cnnlab.store import RunStore
        store = RunStore({str(store.home)!r})
        for start in range(0, 500, 10):
            rows = [(0, s, sys.argv[1], 1.0) for s in range(start, start + 10)]
            store.add_metrics({run_id!r}, rows)
    """
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    children = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), f"p{i}"], env=env,
                                 stderr=subprocess.PIPE, text=True) for i in range(2)]
    store.add_metrics(run_id, [(0, s, "parent", 1.0) for s in range(100)])
    for child in children:
        assert child.wait(60) == 0, child.stderr.read()
    names = [r.name for r in store.metrics(run_id)]
    assert (names.count("p0"), names.count("p1"), names.count("parent")) == (500, 500, 100)


# -- recovery ------------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_recover_dead_owner_on_this_host(store):
    host = socket.gethostname()
    dead = store.create_run(CONFIG)
    store.mark_running(dead, device="CPU", owner=f"{host}:{_dead_pid()}")
    dead_queued = store.create_run(CONFIG)
    _set_owner(store, dead_queued, f"{host}:{_dead_pid()}")
    mine = store.create_run(CONFIG)
    store.mark_running(mine, device="CPU")
    mine_queued = store.create_run(CONFIG)
    finished = store.create_run(CONFIG)
    store.mark_running(finished, device="CPU", owner=f"{host}:{_dead_pid()}")
    store.finish_run(finished, "completed")

    assert sorted(store.recover_interrupted()) == sorted([dead, dead_queued])
    statuses = {run_id: store.get_run(run_id).status
                for run_id in (dead, dead_queued, mine, mine_queued, finished)}
    assert statuses == {dead: "interrupted", dead_queued: "interrupted", mine: "running",
                        mine_queued: "queued", finished: "completed"}
    record = store.get_run(dead)
    assert record.finished_at is not None and "ended" in record.error
    assert store.recover_interrupted() == []


def test_recover_run_of_a_previous_process_with_our_pid(store):
    """A restarted container reuses hostname and pid: its old runs are not ours."""
    run_id = store.create_run(CONFIG)
    store.mark_running(run_id, device="CPU")
    stale = store.create_run(CONFIG)
    owners.release(stale)  # as if a previous process had created it
    assert store.recover_interrupted() == [stale]
    assert store.get_run(run_id).status == "running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_recover_owner_pid_reused_by_a_newer_process(store):
    now = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = f"{socket.gethostname()}:{child.pid}"
        old, current = store.create_run(CONFIG), store.create_run(CONFIG)
        _set_owner(store, old, owner, status="running", started_at=now - 3600)
        _set_owner(store, current, owner, status="running", started_at=now + 1)
        assert store.recover_interrupted() == [old]
        assert store.get_run(current).status == "running"
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_recover_owner_that_is_a_zombie(store):
    """A child that exited but was not yet reaped still answers os.kill(pid, 0)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        run_id = store.create_run(CONFIG)
        store.mark_running(run_id, device="CPU", owner=f"{socket.gethostname()}:{child.pid}")
        assert store.recover_interrupted() == [run_id]
    finally:
        child.wait()


@pytest.mark.parametrize("age_s, other_fresh_run, interrupted", [
    (30, False, False),
    (11 * 60, False, True),
    (11 * 60, True, False),  # the owner still writes to another of its runs
])
def test_recover_other_host_by_heartbeat(store, monkeypatch, age_s, other_fresh_run, interrupted):
    clock = [1_000_000.0]
    monkeypatch.setattr(records, "now", lambda: clock[0])
    owner = "another-host.example:4242"
    run_id = store.create_run(CONFIG)
    store.mark_running(run_id, device="GPU:0", owner=owner)
    sibling = store.create_run(CONFIG)
    store.mark_running(sibling, device="GPU:1", owner=owner)
    store.finish_run(sibling, "completed")
    clock[0] += age_s
    if other_fresh_run:  # the owner has just started another run
        store.mark_running(store.create_run(CONFIG), device="GPU:1", owner=owner)
    assert store.recover_interrupted() == ([run_id] if interrupted else [])
    assert store.get_run(run_id).status == ("interrupted" if interrupted else "running")


def test_recover_after_a_writer_process_is_killed(store):
    child = _python(f"""
        from cnnlab.store import RunStore
        store = RunStore({str(store.home)!r})
        run_id = store.create_run({{"architecture": "lenet5"}}, name="doomed")
        store.mark_running(run_id, device="CPU")
        print(run_id, flush=True)
        step = 0
        while True:
            step += 1
            store.add_metrics_and_progress(
                run_id, [(1, step, "loss", 1.0 / step), (1, step, "accuracy", 0.5)],
                {{"step": step}})
    """)
    try:
        run_id = child.stdout.readline().strip()
        assert run_id, "the child process did not start a run"
        deadline = time.monotonic() + 30
        while len(store.metrics(run_id)) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.get_run(run_id).status == "running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    fresh = RunStore(store.home)
    try:
        assert fresh.recover_interrupted() == [run_id]
        record = fresh.get_run(run_id)
        assert record.status == "interrupted" and record.name == "doomed"
        rows = fresh.metrics(run_id)
        # Whole transactions only: every step has both of its rows.
        assert len(rows) >= 200 and len(rows) % 2 == 0
        assert record.progress["step"] == rows[-1].step
        if fresh.backend == "sqlite":
            conn = sqlite3.connect(fresh.db_path)
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            conn.close()
    finally:
        fresh.close()


# -- artifacts and home --------------------------------------------------------------------


def test_write_and_read_artifacts(store):
    run_id = store.create_run(CONFIG)
    path = store.write_artifact(run_id, "confusion.json", b"[1, 2]")
    assert path == store.run_dir(run_id) / "confusion.json"
    assert store.read_artifact(run_id, "confusion.json") == b"[1, 2]"
    store.write_artifact(run_id, "confusion.json", b"[3]")
    assert store.read_artifact(run_id, "confusion.json") == b"[3]"
    assert store.read_artifact(run_id, "missing.bin") is None
    assert sorted(p.name for p in store.run_dir(run_id).iterdir()) == ["confusion.json"]


def test_failed_artifact_write_leaves_no_temporary_file(store):
    run_id = store.create_run(CONFIG)
    store.write_artifact(run_id, "model.keras", b"old")
    with pytest.raises(TypeError):
        store.write_artifact(run_id, "model.keras", "not bytes")
    assert [p.name for p in store.run_dir(run_id).iterdir()] == ["model.keras"]
    assert store.read_artifact(run_id, "model.keras") == b"old"


@pytest.mark.parametrize("name", ["../escape", "..", "a/b", "a\\b", "/etc/passwd", "", ".",
                                  "x..y", "nul\0byte"])
def test_bad_artifact_names_are_rejected(store, name):
    run_id = store.create_run(CONFIG)
    with pytest.raises(ValueError, match="Invalid artifact `name`"):
        store.write_artifact(run_id, name, b"x")
    with pytest.raises(ValueError, match="Invalid artifact `name`"):
        store.read_artifact(run_id, name)
    assert list(store.run_dir(run_id).iterdir()) == []
    assert not (store.home.parent / "escape").exists()


@pytest.mark.parametrize("run_id", ["../x", "a/b", "", ".."])
def test_bad_run_ids_are_rejected_for_folders(store, run_id):
    with pytest.raises(ValueError, match="Invalid `run_id`"):
        store.run_dir(run_id)


def test_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "lab"))
    assert default_home() == tmp_path / "lab"
    with RunStore() as run_store:
        assert run_store.home == (tmp_path / "lab").resolve()
        assert (tmp_path / "lab" / "cnnlab.sqlite3").is_file()
    monkeypatch.delenv("CNNLAB_HOME")
    monkeypatch.chdir(tmp_path)
    assert default_home() == tmp_path / "runs"


def test_close_then_use_again(store):
    run_id = store.create_run(CONFIG)
    store.close()
    assert store.get_run(run_id).run_id == run_id


def test_import_is_light():
    code = ("import sys, cnnlab.store; heavy = ('streamlit', 'tensorflow', 'keras', 'numpy'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_first_ending_of_a_run_stands(store):
    """A worker outliving its killed server must not overwrite the recovered status."""
    run_id = store.create_run(CONFIG)
    store.mark_running(run_id, device="CPU")
    store.finish_run(run_id, "interrupted", error="The server stopped.")
    store.finish_run(run_id, "completed", final_metrics={"test_accuracy": 0.9})
    record = store.get_run(run_id)
    assert (record.status, record.error, record.final_metrics) == (
        "interrupted", "The server stopped.", {})
    with pytest.raises(ValueError, match="Unknown `run_id`"):
        store.finish_run("20260101-000000-0000", "completed")
