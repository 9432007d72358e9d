"""The run store: one SQLite database plus an artifacts folder per run.

The store is the lab's single source of truth. Training threads write runs, metrics and
progress here; pages, the CLI and other processes (even on other machines sharing the
folder) read them back, so a run looks the same wherever it trains. Plain stdlib only: the
store is imported by every page and must import fast.

Layout of the home folder:

    <home>/cnnlab.sqlite3     tables `runs` and `metrics` (WAL mode)
    <home>/<run_id>/          the run's artifacts (saved model, confusion matrices, ...)
"""

from __future__ import annotations

import contextlib
import json
import math
import operator
import os
import re
import secrets
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from cnnlab.processes import pid_alive, this_owner
from cnnlab.recovery import remove_partial_files

STATUSES = ("queued", "running", "completed", "stopped", "failed", "diverged", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = tuple(status for status in STATUSES if status not in ACTIVE_STATUSES)

SCHEMA_VERSION = 4
DB_NAME = "cnnlab.sqlite3"
# Other writers (threads of other stores, other processes) hold the write lock for
# milliseconds; waiting this long means something is really wrong.
BUSY_TIMEOUT_S = 30.0
# A run owned by another host is presumed dead when its owner has written nothing for
# this long; training flushes progress every few seconds.
HEARTBEAT_TIMEOUT_S = 600.0

_SCHEMA = (
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        config_json TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        updated_at REAL NOT NULL,
        device TEXT,
        owner TEXT,
        progress_json TEXT NOT NULL DEFAULT '{}',
        final_metrics_json TEXT NOT NULL DEFAULT '{}',
        error TEXT
    )""",
    "CREATE INDEX runs_by_status ON runs (status)",
    "CREATE INDEX runs_by_created_at ON runs (created_at)",
    # `value` is NULL exactly when the value is NaN: SQLite turns a bound NaN into NULL,
    # and every other value, infinities included, is a REAL.
    """CREATE TABLE metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        time REAL NOT NULL
    )""",
    "CREATE INDEX metrics_by_run ON metrics (run_id, id)",
)
# Version 2: reading some metrics of many runs (the Compare page's epoch curves) must not
# scan every per-layer row of each run.
_MIGRATIONS = {
    2: ("CREATE INDEX IF NOT EXISTS metrics_by_run_name ON metrics (run_id, name, id)",),
    # Version 3: the display name of the browser session that started the run.
    3: ("ALTER TABLE runs ADD COLUMN session TEXT NOT NULL DEFAULT ''",),
    # Version 4: runs stored before `tricks.batch_norm_momentum` existed trained with Keras'
    # 0.99; without this their configs would read as the lab's new default (0.5), and
    # "start from this run" or a reload of its form would not be the run that was trained.
    4: ("""UPDATE runs SET config_json = json_set(config_json, '$.tricks.batch_norm_momentum', 0.99)
           WHERE json_valid(config_json) AND json_type(config_json, '$.tricks') = 'object'
             AND json_type(config_json, '$.tricks.batch_norm_momentum') IS NULL""",),
}
_RUN_COLUMNS = ("run_id, name, config_json, status, created_at, started_at, finished_at, "
                "device, owner, progress_json, final_metrics_json, error, updated_at, session")
_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")

# One writer at a time per database file within the process, shared by every RunStore
# on that file, so threads queue here instead of spinning in SQLite's busy handler.
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()
# Runs this very process created or took: the only ones "owned by the current process".
# A previous process with the same hostname and pid (a restarted container) is not us.
_claimed_runs: set[str] = set()


def _now() -> float:
    """The store's clock (unix seconds); a function so tests can move time."""
    return time.time()


def default_home() -> Path:
    """The folder runs are kept in: `$CNNLAB_HOME` if set, else `./runs`."""
    home = os.environ.get("CNNLAB_HOME")
    return Path(home).expanduser() if home else Path.cwd() / "runs"


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: its config, status, timing, progress and final metrics."""

    run_id: str
    name: str
    config: dict
    status: str
    created_at: float  # unix seconds, as are all times here
    started_at: float | None
    finished_at: float | None
    device: str | None
    owner: str | None  # "hostname:pid" of the process that queued or trains the run
    progress: dict  # whatever the runner wrote last (epoch, step, eta_s, ...); {} if none
    final_metrics: dict  # {} if none
    error: str | None
    updated_at: float | None = None  # the last write to the run: its heartbeat
    session: str = ""  # display name of the browser session that started it ("" for the CLI)

    @property
    def duration_s(self) -> float | None:
        """Seconds of training so far (or in all, once finished); None if never started."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else _now()
        return end - self.started_at

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class MetricRow(NamedTuple):
    """One stored metric value; `id` grows with every write, so readers can resume."""

    id: int
    epoch: int
    step: int
    name: str
    value: float
    time: float


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the plain C type cannot)."""


class RunStore:
    """Runs, their metrics and their artifacts, shared by threads and processes.

    SQLite in WAL mode lets readers see every committed write at once while a writer
    works. Each thread gets its own connection; writes go one at a time through a lock
    and are single transactions, so a crash never leaves a half-written run.

    Args:
        home: folder for the database and the run folders (default: `default_home()`).
    """

    def __init__(self, home: str | Path | None = None):
        home = Path(home).expanduser() if home is not None else default_home()
        home.mkdir(parents=True, exist_ok=True)
        self.home = home.resolve()
        self.db_path = self.home / DB_NAME
        with _write_locks_guard:
            self._write_lock = _write_locks.setdefault(str(self.db_path), threading.Lock())
        self._local = threading.local()
        # Weak, so a finished thread's connection closes with the thread.
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._connections_guard = threading.Lock()
        self._generation = 0
        self._create_schema()

    def __repr__(self) -> str:
        return f"RunStore(home={str(self.home)!r})"

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    def create_run(self, config: Mapping[str, Any], name: str = "", session: str = "") -> str:
        """Store a new queued run of `config` (started by `session`) and return its id.

        The folder comes first and the row second, so every stored run has its folder.
        Ids sort by creation time (UTC) and carry a random suffix: creating the folder
        claims the id, even against other processes sharing the home folder.
        """
        config_json = _to_json(config, "config")
        if not isinstance(name, str):
            raise ValueError(f"Invalid run `name`. Expected a str. Received: {name!r}.")
        if not isinstance(session, str):
            raise ValueError(f"Invalid run `session`. Expected a str. Received: {session!r}.")
        now = _now()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        for _ in range(1000):
            run_id = f"{stamp}-{secrets.token_hex(2)}"
            try:
                (self.home / run_id).mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise AssertionError(f"No free run id for {stamp} in {self.home}.")
        # Claimed before the row exists, so recovery in another thread never sees it unclaimed.
        _claimed_runs.add(run_id)
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO runs (run_id, name, config_json, status, created_at,"
                    " updated_at, owner, session) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (run_id, name, config_json, now, now, this_owner(), session))
        except BaseException:
            _claimed_runs.discard(run_id)
            with contextlib.suppress(OSError):
                (self.home / run_id).rmdir()
            raise
        return run_id

    def mark_running(self, run_id: str, *, device: str, owner: str | None = None) -> bool:
        """Record that training started on `device` in `owner` (default: this process).

        Returns False, changing nothing, when the run has already ended: stopped while it
        waited (a stop is immediate for a run that has not started), or marked interrupted.
        Why: a worker that takes such a run must not bring it back to life.
        """
        owner = owner or this_owner()
        if owner == this_owner():
            _claimed_runs.add(run_id)
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = 'running', started_at = ?, updated_at = ?, device = ?,"
                " owner = ? WHERE run_id = ? AND status IN ('queued', 'running')",
                (now, now, device, owner, run_id))
            if cursor.rowcount == 0 and conn.execute(
                    "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise self._unknown_run(run_id)
        return cursor.rowcount == 1

    def update_progress(self, run_id: str, progress: Mapping[str, Any]) -> None:
        """Replace the run's progress; doubles as its heartbeat."""
        progress_json = _to_json(progress, "progress")
        with self._write() as conn:
            self._update_run(conn, run_id, "progress_json = ?, updated_at = ?",
                             (progress_json, _now()))

    def finish_run(self, run_id: str, status: str, *,
                   final_metrics: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        """Record how a run ended. `final_metrics=None` keeps any stored before.

        The first ending recorded stands: a run already finished keeps its status. Why: a
        worker process outlives its killed server by up to half a second, and its late
        "completed" or "failed" must not overwrite the "interrupted" that a restarted
        server has already shown (and whose leftover files it has cleaned up).
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Invalid `status` for finish_run. Expected a terminal status, one of "
                f"{list(TERMINAL_STATUSES)}. Received: {status!r}. Use mark_running() to "
                "start a run; a finished run's status is one of these.")
        metrics_json = None if final_metrics is None else _to_json(final_metrics, "final_metrics")
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, updated_at = ?, error = ?,"
                " final_metrics_json = COALESCE(?, final_metrics_json)"
                " WHERE run_id = ? AND status IN ('queued', 'running')",
                (status, now, now, error, metrics_json, run_id))
            if cursor.rowcount == 0 and conn.execute(
                    "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise self._unknown_run(run_id)

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _record(row)

    def list_runs(self, *, statuses: Sequence[str] | None = None,
                  limit: int | None = None) -> list[RunRecord]:
        """Stored runs, newest first, optionally only those with one of `statuses`."""
        sql, params = f"SELECT {_RUN_COLUMNS} FROM runs", []
        if statuses is not None:
            if isinstance(statuses, str):
                statuses = [statuses]
            for status in statuses:
                _check_status(status)
            sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            params += list(statuses)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise ValueError("Invalid `limit`. Expected an int >= 0 or None. "
                                 f"Received: {limit!r}. Pass None for all runs.")
            sql += " LIMIT ?"
            params.append(limit)
        return [_record(row) for row in self._conn().execute(sql, params).fetchall()]

    def recover_interrupted(self) -> list[str]:
        """Mark queued or running runs whose owner process is gone as "interrupted".

        On this host an owner is gone when its pid is dead, a zombie, or (on Linux) a
        process started after the owner took the run. The current process's own runs are
        never touched. On another host pids mean nothing here, so an owner is gone when
        none of its runs has been written for `HEARTBEAT_TIMEOUT_S`. The temporary files a
        killed writer left in an interrupted run's folder are removed (`cnnlab.recovery`),
        so the folder holds only complete artifacts. Returns the ids changed.
        """
        host, now, changed, grace = socket.gethostname(), _now(), [], {}
        with self._write() as conn:
            active = conn.execute(
                "SELECT run_id, status, owner, created_at, started_at, updated_at FROM runs"
                " WHERE status IN ('queued', 'running')").fetchall()
            last_seen = dict(conn.execute(
                "SELECT owner, MAX(updated_at) FROM runs WHERE owner IN (SELECT owner FROM"
                " runs WHERE status IN ('queued', 'running')) GROUP BY owner").fetchall())
            for run_id, status, owner, created_at, started_at, updated_at in active:
                since = started_at if status == "running" and started_at else created_at
                seen = last_seen.get(owner, updated_at)
                reason = _orphan_reason(run_id, owner, since, seen, host, now)
                if reason is not None:
                    conn.execute(
                        "UPDATE runs SET status = 'interrupted', finished_at = ?,"
                        " updated_at = ?, error = ? WHERE run_id = ?",
                        (now, now, reason, run_id))
                    changed.append(run_id)
                    # A silent owner on another host may yet be writing: spare its fresh files.
                    local = (owner or "").rpartition(":")[0] == host
                    grace[run_id] = 0.0 if local else HEARTBEAT_TIMEOUT_S
        for run_id in changed:  # after the commit: files never hold the write lock
            remove_partial_files(self.run_dir(run_id), older_than_s=grace[run_id])
        return changed

    def delete_run(self, run_id: str) -> None:
        """Delete a finished run: its row, its metrics and its folder of artifacts.

        An active run is refused (stop it first: its thread would write on). The rows go
        first, in one transaction, so a crash midway leaves at worst an orphan folder,
        never a listed run without its files.
        """
        record = self.get_run(run_id)
        if record is None:
            raise self._unknown_run(run_id)
        if record.is_active:
            raise ValueError(
                f"Run {run_id} is {record.status}. Expected a finished run. Stop it first, "
                "then delete it.")
        with self._write() as conn:
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        _claimed_runs.discard(run_id)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # -- metrics -------------------------------------------------------------------------

    def add_metrics(self, run_id: str, rows: Iterable[tuple[int, int, str, float]]) -> None:
        """Append (epoch, step, name, value) rows to a run, all in one transaction."""
        params = _metric_params(run_id, rows)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise self._unknown_run(run_id)
            conn.executemany(_INSERT_METRIC, params)

    def add_metrics_and_progress(self, run_id: str, rows: Iterable[tuple[int, int, str, float]],
                                 progress: Mapping[str, Any]) -> None:
        """Append metric rows and replace the progress in one transaction (a callback's flush)."""
        params = _metric_params(run_id, rows)
        progress_json = _to_json(progress, "progress")
        with self._write() as conn:
            self._update_run(conn, run_id, "progress_json = ?, updated_at = ?",
                             (progress_json, _now()))
            conn.executemany(_INSERT_METRIC, params)

    def metrics(self, run_id: str, *, after_id: int = 0,
                names: Sequence[str] | None = None) -> list[MetricRow]:
        """A run's metric rows with id > `after_id`, in write order, optionally only `names`.

        Pass the last id you have as `after_id` to fetch only what is new.
        """
        sql = ("SELECT id, epoch, step, name, value, time FROM metrics"
               " WHERE run_id = ? AND id > ?")
        params: list[Any] = [run_id, after_id]
        if names is not None:
            if isinstance(names, str):
                names = [names]
            if not names:
                return []
            sql += f" AND name IN ({', '.join('?' * len(names))})"
            params += list(names)
        rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        return [MetricRow(i, epoch, step, name, math.nan if value is None else value, t)
                for i, epoch, step, name, value, t in rows]

    def latest_with_prefix(self, run_id: str, prefix: str) -> list[MetricRow]:
        """The rows named `prefix`... of the last (epoch, step) that has any, in write order:
        e.g. the per-layer gradient norms of the last recorded step ("grad_norm/")."""
        if not prefix or not isinstance(prefix, str):
            raise ValueError(f"Invalid `prefix`. Expected a non-empty str such as 'grad_norm/'. "
                             f"Received: {prefix!r}.")
        # A name range, not LIKE, so the (run_id, name, id) index serves it.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        where = "run_id = ? AND name >= ? AND name < ?"
        conn = self._conn()
        last = conn.execute(f"SELECT epoch, step FROM metrics WHERE {where} ORDER BY id DESC LIMIT 1",
                            (run_id, prefix, upper)).fetchone()
        if last is None:
            return []
        rows = conn.execute(
            f"SELECT id, epoch, step, name, value, time FROM metrics WHERE {where}"
            " AND epoch = ? AND step = ? ORDER BY id", (run_id, prefix, upper, *last)).fetchall()
        return [MetricRow(i, epoch, step, name, math.nan if value is None else value, t)
                for i, epoch, step, name, value, t in rows]

    # -- artifacts -----------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run's artifacts."""
        if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id):
            raise ValueError(
                "Invalid `run_id`. Expected letters, digits, '-' and '_' only, like "
                f"'20261121-195012-3f9a'. Received: {run_id!r}. Use an id from create_run().")
        return self.home / run_id

    def write_artifact(self, run_id: str, name: str, data: bytes) -> Path:
        """Write `data` as the run's artifact `name`, atomically, and return its path.

        A temporary file in the same folder is written, flushed to disk and renamed over
        the name, so a reader or a crash sees the old file or the new one, never half.
        """
        _check_artifact_name(name)
        folder = self.run_dir(run_id)
        if not folder.is_dir():
            if self.get_run(run_id) is None:
                raise self._unknown_run(run_id)
            folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, folder / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        fsync_folder(folder)
        return folder / name

    def read_artifact(self, run_id: str, name: str) -> bytes | None:
        """The bytes of the run's artifact `name`, or None if it was never written."""
        _check_artifact_name(name)
        try:
            return (self.run_dir(run_id) / name).read_bytes()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        """Close every connection of this store; a later call opens new ones.

        Call it when no other thread is using the store (at shutdown, in tests).
        """
        with self._connections_guard:
            connections, self._connections = list(self._connections), weakref.WeakSet()
            self._generation += 1
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- internals -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            # Autocommit mode (isolation_level=None): every read sees the latest commit,
            # and writes open their own BEGIN IMMEDIATE transactions.
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False, factory=_Connection)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            # In WAL mode NORMAL loses no commit when a process dies, only on power loss,
            # and the database stays consistent either way.
            conn.execute("PRAGMA synchronous = NORMAL")
            with self._connections_guard:
                self._connections.add(conn)
                local.conn, local.generation = conn, self._generation
        return local.conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, with this process's other writers kept out."""
        conn = self._conn()
        with self._write_lock:
            # IMMEDIATE takes SQLite's write lock now, so another process makes us wait
            # here (busy_timeout) rather than fail halfway through the transaction.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _create_schema(self) -> None:
        conn = self._conn()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            warnings.warn(f"The run store at {self.db_path} could not use WAL mode (got "
                          f"{mode!r}); readers may wait for writers. Keep CNNLAB_HOME on a "
                          "local disk.", RuntimeWarning, stacklevel=3)
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"The run store at {self.db_path} is newer than this cnnlab. Expected "
                    f"schema version <= {SCHEMA_VERSION}. Received: {version}. Upgrade "
                    "cnnlab, or point CNNLAB_HOME at another folder.")
            if version == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
                version = 1
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _update_run(self, conn: sqlite3.Connection, run_id: str, assignments: str,
                    params: tuple) -> None:
        cursor = conn.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?",
                              (*params, run_id))
        if cursor.rowcount == 0:
            raise self._unknown_run(run_id)

    def _unknown_run(self, run_id: str) -> ValueError:
        return ValueError(
            f"Unknown `run_id`. Expected the id of a run in the store at {self.home}. "
            f"Received: {run_id!r}. Create runs with create_run(); list them with list_runs().")


_INSERT_METRIC = ("INSERT INTO metrics (run_id, epoch, step, name, value, time)"
                  " VALUES (?, ?, ?, ?, ?, ?)")


def _metric_params(run_id: str, rows: Iterable[tuple[int, int, str, float]]) -> list[tuple]:
    """Check metric rows and turn them into insert parameters (NaN becomes NULL)."""
    now, params = _now(), []
    for row in rows:
        try:
            epoch, step, name, value = row
            epoch, step, value = operator.index(epoch), operator.index(step), float(value)
            if not isinstance(name, str) or not name:
                raise TypeError("name")
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "Invalid metric row. Expected (epoch: int, step: int, name: non-empty str, "
                f"value: float). Received: {row!r}. Convert tensors with float() first."
            ) from exc
        params.append((run_id, epoch, step, name, None if math.isnan(value) else value, now))
    return params


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"Unknown `status`. Expected one of {list(STATUSES)}. "
                         f"Received: {status!r}. Use one of cnnlab.store.STATUSES.")


def _check_artifact_name(name: str) -> None:
    if (not isinstance(name, str) or name in ("", ".") or ".." in name or "\0" in name
            or any(sep in name for sep in ("/", "\\", os.sep, os.altsep) if sep)):
        raise ValueError(
            "Invalid artifact `name`. Expected a plain file name without path separators "
            f"or '..', like 'model.keras'. Received: {name!r}. Artifacts live directly in "
            "the run's folder.")


def _to_json(value: Mapping[str, Any], what: str) -> str:
    """`value` as JSON text, with a Keras-style error naming `what` if it cannot be."""
    if not isinstance(value, Mapping):
        raise ValueError(f"Invalid `{what}`. Expected a dict. Received: {type(value).__name__} "
                         f"{value!r:.200}. Pass a dict (e.g. config.to_dict()).")
    try:
        return json.dumps(dict(value), default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Invalid `{what}`: it cannot be saved as JSON ({exc}). Expected a dict of str, "
            f"numbers, bools, None, lists and dicts. Received: {value!r:.200}. Convert other "
            "objects to these types first.") from exc


def _json_default(value: Any) -> Any:
    # NumPy scalars and arrays (and tensors with .numpy()) are common in metrics.
    for method in ("tolist", "item"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _record(row: tuple) -> RunRecord:
    (run_id, name, config_json, status, created_at, started_at, finished_at, device, owner,
     progress_json, final_metrics_json, error, updated_at, session) = row
    return RunRecord(run_id, name, json.loads(config_json), status, created_at, started_at,
                     finished_at, device, owner, json.loads(progress_json),
                     json.loads(final_metrics_json), error, updated_at, session)


def _orphan_reason(run_id: str, owner: str | None, since: float, seen: float, host: str,
                   now: float) -> str | None:
    """Why an active run's owner is gone, or None if it may still be alive."""
    owner_host, _, pid_text = (owner or "").rpartition(":")
    if owner_host == host and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            if run_id in _claimed_runs:
                return None
            return f"The process that ran it ({owner}) ended: this process reuses its pid."
        if not pid_alive(pid, since):
            return f"The process that ran it ({owner}) ended."
        return None
    if now - seen > HEARTBEAT_TIMEOUT_S:
        return f"No news from its owner ({owner}) for {(now - seen) / 60:.0f} minutes."
    return None


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows cannot open folders)."""
    if os.name == "nt":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
