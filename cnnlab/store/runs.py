"""The run store: one SQLite database (or a PostgreSQL one) plus an artifacts folder per run.

The store is the lab's single source of truth. Training threads write runs, metrics and
progress here; pages, the CLI and other processes (even on other machines sharing the
folder) read them back, so a run looks the same wherever it trains. Plain stdlib only: the
store is imported by every page and must import fast.

Layout of the home folder:

    <home>/cnnlab.sqlite3     tables `runs` and `metrics` (WAL mode; `cnnlab.store.schema`)
    <home>/<run_id>/          the run's artifacts (saved model, confusion matrices, ...)

What a run and a metric row are, and the checks on them, live in `cnnlab.store.records`;
this module holds connections, transactions and the queries. With `CNNLAB_DATABASE_URL`
set to a PostgreSQL URL the tables live in that database instead (`cnnlab.store.postgres`
gives its connections SQLite's manners, so the queries are the same).
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import socket
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnlab.store import owners, postgres, records
from cnnlab.store.artifacts import remove_partial_files, write_atomically
from cnnlab.store.records import MetricRow, RunRecord, default_home
from cnnlab.store.schema import (
    DB_NAME,
    INSERT_METRIC,
    RUN_COLUMNS,
    bring_up_to_date,
    record_of,
)
from cnnlab.text import check_name

# Other writers (threads of other stores, other processes) hold the write lock for
# milliseconds; waiting this long means something is really wrong.
BUSY_TIMEOUT_S = 30.0

# One writer at a time per database file within the process, shared by every RunStore
# on that file, so threads queue here instead of spinning in SQLite's busy handler.
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the plain C type cannot)."""


class RunStore:
    """Runs, their metrics and their artifacts, shared by threads and processes.

    SQLite in WAL mode lets readers see every committed write at once while a writer
    works. Each thread gets its own connection; writes go one at a time through a lock
    and are single transactions, so a crash never leaves a half-written run.

    Args:
        home: folder for the database and the run folders (default: `default_home()`).
        database_url: a PostgreSQL URL to keep runs and metrics in instead of the SQLite
            file in `home` (default: `$CNNLAB_DATABASE_URL`; unset or "": SQLite). The
            artifacts stay in `home`, which every machine training runs must then share.
    """

    def __init__(self, home: str | Path | None = None, *, database_url: str | None = None):
        home = Path(home).expanduser() if home is not None else default_home()
        home.mkdir(parents=True, exist_ok=True)
        self.home = home.resolve()
        url = os.environ.get("CNNLAB_DATABASE_URL", "") if database_url is None else database_url
        if url:
            postgres.check_database_url(url)
        self.database_url = url or None
        self.backend = "postgresql" if url else "sqlite"
        self.db_path = self.home / DB_NAME
        where = url or str(self.db_path)
        with _write_locks_guard:
            self._write_lock = _write_locks.setdefault(where, threading.Lock())
        self._local = threading.local()
        # Weak, so a finished thread's connection closes with the thread.
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._connections_guard = threading.Lock()
        self._generation = 0
        self._create_schema()

    def __repr__(self) -> str:
        if self.database_url:
            return (f"RunStore(home={str(self.home)!r}, "
                    f"database_url={postgres.redacted(self.database_url)!r})")
        return f"RunStore(home={str(self.home)!r})"

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    def create_run(self, config: Mapping[str, Any], name: str = "", session: str = "",
                   owner_key: str = "") -> str:
        """Store a new queued run of `config` (started by `session`, a display name, whose
        browser or user `owner_key` may stop and delete it) and return its id.

        The folder comes first and the row second, so every stored run has its folder.
        Ids sort by creation time (UTC) and carry a random suffix: creating the folder
        claims the id, even against other processes sharing the home folder.
        """
        config_json = records.to_json(config, "config")
        if not isinstance(name, str):
            raise ValueError(f"Invalid run `name`. Expected a str. Received: {name!r}.")
        check_name(name, what="run name")
        if not isinstance(session, str):
            raise ValueError(f"Invalid run `session`. Expected a str. Received: {session!r}.")
        if not isinstance(owner_key, str):
            raise ValueError(f"Invalid run `owner_key`. Expected a str. Received: {type(owner_key).__name__}.")
        now = records.now()
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
        owners.claim(run_id)
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO runs (run_id, name, config_json, status, created_at,"
                    " updated_at, owner, session, owner_key) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (run_id, name, config_json, now, now, owners.this_owner(), session, owner_key))
        except BaseException:
            owners.release(run_id)
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
        owner = owner or owners.this_owner()
        if owner == owners.this_owner():
            owners.claim(run_id)
        now = records.now()
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
        progress_json = records.to_json(progress, "progress")
        with self._write() as conn:
            self._update_run(conn, run_id, "progress_json = ?, updated_at = ?",
                             (progress_json, records.now()))

    def finish_run(self, run_id: str, status: str, *,
                   final_metrics: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        """Record how a run ended. `final_metrics=None` keeps any stored before.

        The first ending recorded stands: a run already finished keeps its status. Why: a
        worker process outlives its killed server by up to half a second, and its late
        "completed" or "failed" must not overwrite the "interrupted" that a restarted
        server has already shown (and whose leftover files it has cleaned up).
        """
        records.check_terminal_status(status)
        metrics_json = None if final_metrics is None else records.to_json(final_metrics, "final_metrics")
        now = records.now()
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
        row = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else record_of(row)

    def list_runs(self, *, statuses: Sequence[str] | None = None,
                  limit: int | None = None) -> list[RunRecord]:
        """Stored runs, newest first, optionally only those with one of `statuses`."""
        sql, params = f"SELECT {RUN_COLUMNS} FROM runs", []
        if statuses is not None:
            if isinstance(statuses, str):
                statuses = [statuses]
            for status in statuses:
                records.check_status(status)
            if not statuses:
                return []  # (PostgreSQL refuses the empty list "IN ()")
            sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            params += list(statuses)
        # Ties (one clock tick) in insertion order; PostgreSQL has no rowid, and run ids
        # sort by creation time.
        sql += " ORDER BY created_at DESC, " + ("run_id DESC" if self.database_url else "rowid DESC")
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise ValueError("Invalid `limit`. Expected an int >= 0 or None. "
                                 f"Received: {limit!r}. Pass None for all runs.")
            sql += " LIMIT ?"
            params.append(limit)
        return [record_of(row) for row in self._read(sql, params).fetchall()]

    def recover_interrupted(self) -> list[str]:
        """Mark queued or running runs whose owner process is gone as "interrupted".

        On this host an owner is gone when its pid is dead, a zombie, or (on Linux) a
        process started after the owner took the run. The current process's own runs are
        never touched. On another host pids mean nothing here, so an owner is gone when
        none of its runs has been written for `owners.HEARTBEAT_TIMEOUT_S`. The temporary
        files a killed writer left in an interrupted run's folder are removed
        (`cnnlab.store.artifacts`), so the folder holds only complete artifacts. Returns the
        ids changed.
        """
        host, now, changed, grace = socket.gethostname(), records.now(), [], {}
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
                reason = owners.orphan_reason(run_id, owner, since, seen, host, now)
                if reason is not None:
                    conn.execute(
                        "UPDATE runs SET status = 'interrupted', finished_at = ?,"
                        " updated_at = ?, error = ? WHERE run_id = ?",
                        (now, now, reason, run_id))
                    changed.append(run_id)
                    # A silent owner on another host may yet be writing: spare its fresh files.
                    local = (owner or "").rpartition(":")[0] == host
                    grace[run_id] = 0.0 if local else owners.HEARTBEAT_TIMEOUT_S
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
        owners.release(run_id)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # -- metrics -------------------------------------------------------------------------

    def add_metrics(self, run_id: str, rows: Iterable[tuple[int, int, str, float]]) -> None:
        """Append (epoch, step, name, value) rows to a run, all in one transaction."""
        params = records.metric_params(run_id, rows)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise self._unknown_run(run_id)
            conn.executemany(INSERT_METRIC, params)

    def add_metrics_and_progress(self, run_id: str, rows: Iterable[tuple[int, int, str, float]],
                                 progress: Mapping[str, Any]) -> None:
        """Append metric rows and replace the progress in one transaction (a callback's flush)."""
        params = records.metric_params(run_id, rows)
        progress_json = records.to_json(progress, "progress")
        with self._write() as conn:
            self._update_run(conn, run_id, "progress_json = ?, updated_at = ?",
                             (progress_json, records.now()))
            conn.executemany(INSERT_METRIC, params)

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
        rows = self._read(sql + " ORDER BY id", params).fetchall()
        return _metric_rows(rows)

    def latest_with_prefix(self, run_id: str, prefix: str) -> list[MetricRow]:
        """The rows named `prefix`... of the last (epoch, step) that has any, in write order:
        e.g. the per-layer gradient norms of the last recorded step ("grad_norm/")."""
        if not prefix or not isinstance(prefix, str):
            raise ValueError(f"Invalid `prefix`. Expected a non-empty str such as 'grad_norm/'. "
                             f"Received: {prefix!r}.")
        # A name range, not LIKE, so the (run_id, name, id) index serves it.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        where = "run_id = ? AND name >= ? AND name < ?"
        last = self._read(f"SELECT epoch, step FROM metrics WHERE {where} ORDER BY id DESC LIMIT 1",
                          (run_id, prefix, upper)).fetchone()
        if last is None:
            return []
        rows = self._read(
            f"SELECT id, epoch, step, name, value, time FROM metrics WHERE {where}"
            " AND epoch = ? AND step = ? ORDER BY id", (run_id, prefix, upper, *last)).fetchall()
        return _metric_rows(rows)

    # -- artifacts -----------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run's artifacts."""
        records.check_run_id(run_id)
        return self.home / run_id

    def write_artifact(self, run_id: str, name: str, data: bytes) -> Path:
        """Write `data` as the run's artifact `name`, atomically, and return its path.

        A temporary file in the same folder is written, flushed to disk and renamed over
        the name, so a reader or a crash sees the old file or the new one, never half.
        """
        records.check_artifact_name(name)
        folder = self.run_dir(run_id)
        if not folder.is_dir():
            if self.get_run(run_id) is None:
                raise self._unknown_run(run_id)
            folder.mkdir(parents=True, exist_ok=True)
        return write_atomically(folder, name, data)

    def read_artifact(self, run_id: str, name: str) -> bytes | None:
        """The bytes of the run's artifact `name`, or None if it was never written."""
        records.check_artifact_name(name)
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
            with contextlib.suppress(sqlite3.Error):  # a PostgreSQL Connection never raises
                conn.close()

    # -- internals -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (again, after a database server
        dropped it)."""
        local = self._local
        if self.database_url:
            if getattr(local, "generation", None) != self._generation or not local.conn.usable:
                conn = postgres.connect(self.database_url, BUSY_TIMEOUT_S)
                with self._connections_guard:
                    self._connections.add(conn)
                    local.conn, local.generation = conn, self._generation
            return local.conn
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
            if self.database_url:
                postgres.begin_write(conn)
            else:
                # IMMEDIATE takes SQLite's write lock now, so another process makes us wait
                # here (busy_timeout) rather than fail halfway through the transaction.
                conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if self.database_url and not conn.usable:
                    raise  # the server dropped the connection: nothing to roll back
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()):
        """A read (a cursor); on PostgreSQL tried once more on a new connection when the
        server dropped the old one (it restarted): a read repeated changes nothing."""
        try:
            return self._conn().execute(sql, params)
        except postgres.StoreBusy:
            if not self.database_url or self._conn_usable():
                raise
            return self._conn().execute(sql, params)

    def _conn_usable(self) -> bool:
        local = self._local
        return getattr(local, "generation", None) == self._generation and local.conn.usable

    def _create_schema(self) -> None:
        if self.database_url:
            with self._write() as conn:
                postgres.bring_up_to_date(conn)
            return
        conn = self._conn()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            warnings.warn(f"The run store at {self.db_path} could not use WAL mode (got "
                          f"{mode!r}); readers may wait for writers. Keep CNNLAB_HOME on a "
                          "local disk.", RuntimeWarning, stacklevel=3)
        with self._write() as conn:
            bring_up_to_date(conn, self.db_path)

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


def _metric_rows(rows: list[tuple]) -> list[MetricRow]:
    """MetricRows of selected (id, epoch, step, name, value, time) rows; NULL is NaN again."""
    return [MetricRow(i, epoch, step, name, math.nan if value is None else value, t)
            for i, epoch, step, name, value, t in rows]
