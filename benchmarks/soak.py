"""Soak: concurrent runs for minutes while simulated browser sessions poll the store.

The shared classroom server's load, as the app's server has it: one JobManager (training
in worker processes by default, as the app does) keeps `runs` small runs training for the whole time (a run that ends is replaced
by the next seed; epochs vary, so runs end at different times), while `sessions` threads,
each with its own RunStore on the same home as a separate Streamlit session has, poll once
a second what the pages poll: the run list, each followed run's record, its new metric rows
(RunHistory.update, as the Train page does) and its latest per-layer gradient norms.

What is counted, and against what:
- rows_written: metric rows the training side wrote, as it counts them itself: StoreCallback
  keeps the count in the run's progress, written in the same transaction as the rows, so
  it holds for runs in worker processes too (in thread mode a RunStore subclass counts
  them again and the two must agree). rows_stored: a fresh connection's COUNT(*) per run
  at the end. lost_rows = written - stored, and
  extra_rows = stored - written: both must be 0.
- reader_gaps: per session and run, |stored - rows the session's incremental reads saw|
  after a last read once every run has ended; a reader that skips rows shows here.
- locked_errors: every "database is locked" in readers or writers; reader_errors and
  writer_errors: any exception there; thread_exceptions: exceptions no thread caught
  (a threading.excepthook wrapper); failed_runs: runs that ended neither completed nor
  stopped, with their errors. wal_mb: the write-ahead log's size at the end.
Targets (issue "Hardening for a shared classroom server"): all of these 0 over 10 minutes
with 4 runs and 10 sessions. tests/test_soak.py runs a reduced form.

Keys of the last line (one JSON object): `seconds`, `runs`, `sessions`, `isolation`,
`runs_started`, `statuses`, `rows_written`, `rows_stored`, `lost_rows`, `extra_rows`,
`reader_gaps`, `locked_errors`, `reader_errors`, `writer_errors`, `thread_exceptions`,
`failed_runs`, `polls`, `poll_p50_ms`, `poll_p95_ms`, `poll_max_ms`, `wal_mb`, `errors`
(the messages behind the counts).

Usage: python benchmarks/soak.py [--minutes 10] [--runs 4] [--sessions 10]
                                 [--isolation process|thread]
       python benchmarks/soak.py --quick   (seconds: 1 run in a worker process and 1
           session for 5 s; checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlab.analysis.history import RunHistory  # noqa: E402
from cnnlab.config import ExperimentConfig  # noqa: E402
from cnnlab.store import RunStore  # noqa: E402
from cnnlab.training import JobManager  # noqa: E402

POLL_SECONDS = 1.0  # the pages' poll interval (ui/run_panel.py)
MAX_MESSAGES = 10  # error texts kept per kind, for the report
# --quick: the app's isolation (a worker process), one run and one session, 5 s.
QUICK = {"minutes": 5 / 60, "runs": 1, "sessions": 1}


def run_config(seed: int) -> ExperimentConfig:
    """The seed-th run: small and fast, so it writes many rows a second (per-batch rows
    and per-layer rows at every step); sizes and epochs vary so runs end at odd times."""
    return ExperimentConfig(dataset="digits", image_size=16, train_size=256 + 64 * (seed % 5),
                            epochs=4 + 4 * (seed % 4), batch_size=32, seed=seed)


class CountingStore(RunStore):
    """A RunStore that counts, per run, the metric rows of every write that succeeded,
    and keeps the errors of those that did not. Used by the training side only."""

    def __init__(self, home):
        super().__init__(home)
        self.written: Counter[str] = Counter()
        self.errors: list[str] = []
        self._guard = threading.Lock()

    def add_metrics(self, run_id, rows):
        rows = list(rows)
        self._counted(run_id, rows, super().add_metrics, run_id, rows)

    def add_metrics_and_progress(self, run_id, rows, progress):
        rows = list(rows)
        self._counted(run_id, rows, super().add_metrics_and_progress, run_id, rows, progress)

    def _counted(self, run_id, rows, write, *args) -> None:
        try:
            write(*args)
        except Exception as exc:
            with self._guard:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            raise
        with self._guard:
            self.written[run_id] += len(rows)


class Session(threading.Thread):
    """One browser session polling the store once a second, with its own RunStore."""

    def __init__(self, home, number: int, stop: threading.Event):
        super().__init__(name=f"soak-session-{number}", daemon=True)
        self.store = RunStore(home)
        self.halt = stop
        self.histories: dict[str, RunHistory] = {}
        self.seen: Counter[str] = Counter()  # rows each run's incremental reads brought
        self.following: set[str] = set()
        self.polls = 0
        self.latencies: list[float] = []
        self.locked = 0
        self.errors: list[str] = []

    def run(self) -> None:
        tick = time.monotonic()
        while not self.halt.is_set():
            started = time.monotonic()
            self._guarded(self.poll)
            self.latencies.append(time.monotonic() - started)
            self.polls += 1
            # A fixed rate, as st.fragment(run_every=1) has; a slow poll skips missed ticks.
            tick += POLL_SECONDS
            if tick < time.monotonic():
                tick = time.monotonic() + POLL_SECONDS
            self.halt.wait(tick - time.monotonic())
        self.store.close()

    def poll(self) -> None:
        """The reads of one poll: the home page's list, then each followed run's panel."""
        records = self.store.list_runs(limit=20)
        self.store.list_runs(statuses=("running", "queued"), limit=1)  # the Train page
        self.following |= {record.run_id for record in records if record.is_active}
        for run_id in sorted(self.following):
            record = self.store.get_run(run_id)
            self._update(run_id)
            self.store.latest_with_prefix(run_id, "grad_norm/")
            if record is not None and not record.is_active:
                # Read after the record said "ended": the run's last rows are in.
                self.following.discard(run_id)

    def final_read(self) -> None:
        """Bring every run up to date once all have ended (outside the poll loop)."""
        for record in self.store.list_runs():
            self._guarded(self._update, record.run_id)
        self.store.close()

    def _update(self, run_id: str) -> None:
        history = self.histories.setdefault(run_id, RunHistory(run_id))
        self.seen[run_id] += history.update(self.store)

    def _guarded(self, read, *args) -> None:
        try:
            read(*args)
        except Exception as exc:  # counted and reported, never fatal to the session
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                self.locked += 1
            if len(self.errors) < MAX_MESSAGES:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                self.errors.append("...")


def soak(seconds: float, runs: int = 4, sessions: int = 10, home: str | Path | None = None,
         *, isolation: str = "process", settle_s: float = 0.0, log=print) -> dict:
    """Train `runs` runs at a time for `seconds` while `sessions` sessions poll; return the
    figures (see the module docstring). `home`: an empty folder (default: a temporary one).
    `isolation`: where runs train, "process" (default, as the app's server) or "thread".

    `settle_s`: go on past `seconds`, for at most this long, until `runs` runs have each
    stored a whole epoch, so the runs have trained side by side however slow the machine
    (workers load TensorFlow first); `settled` in the figures says whether they had. The
    tests use it, so that a loaded machine makes the soak longer, not vacuous.
    """
    if home is None:
        with tempfile.TemporaryDirectory(prefix="cnnlab-soak-") as folder:
            return soak(seconds, runs, sessions, folder, isolation=isolation,
                        settle_s=settle_s, log=log)
    uncaught: list[str] = []
    previous_hook = threading.excepthook

    def count_uncaught(args) -> None:
        uncaught.append(f"{args.thread.name if args.thread else '?'}: "
                        f"{args.exc_type.__name__}: {args.exc_value}")
        previous_hook(args)

    threading.excepthook = count_uncaught
    store = CountingStore(home)
    manager = JobManager(store, max_concurrent=runs, isolation=isolation, prestart=runs)
    halt = threading.Event()
    try:
        readers = [Session(home, number, halt) for number in range(sessions)]
        started = time.monotonic()
        for reader in readers:
            reader.start()
        run_ids, settled = _keep_training(manager, runs, started + seconds,
                                          started + seconds + settle_s, log)
        for run_id in manager.queued_ids() + manager.active_ids():
            manager.stop(run_id)
        records = {run_id: manager.wait(run_id, timeout=300) for run_id in run_ids}
        manager.shutdown(timeout=60)
        halt.set()
        for reader in readers:
            reader.join(60)
        elapsed = time.monotonic() - started
        for reader in readers:
            reader.final_read()
        stored = _stored_counts(store.db_path, run_ids)
        # Readers that never pause would starve SQLite's checkpoints and grow the WAL.
        wal = Path(f"{store.db_path}-wal")
        wal_mb = wal.stat().st_size / 2**20 if wal.exists() else 0.0
        store.close()
    finally:
        # After a failure midway, leave no thread training or polling behind.
        halt.set()
        manager.shutdown(timeout=60)
        threading.excepthook = previous_hook

    # The training side's own count, written with its rows (StoreCallback's progress):
    # in worker processes the CountingStore here sees none of their writes.
    written_by_run = Counter({run_id: record.progress.get("rows_written", 0)
                              for run_id, record in records.items()})
    if isolation == "thread":  # the two counts must agree
        assert written_by_run == +store.written, (written_by_run, store.written)
    written = sum(written_by_run.values())
    failed_flushes = sum(record.progress.get("failed_flushes", 0) for record in records.values())
    latencies = sorted(value for reader in readers for value in reader.latencies)
    reader_errors = [message for reader in readers for message in reader.errors]
    failed = {run_id: f"{record.status}: {record.error}" for run_id, record in records.items()
              if record.status not in ("completed", "stopped")}
    statuses = Counter(record.status for record in records.values())
    return {
        "seconds": round(elapsed, 1),
        "runs": runs,
        "sessions": sessions,
        "isolation": isolation,
        "runs_started": len(run_ids),
        "settled": settled,
        "statuses": dict(statuses),
        "rows_written": written,
        "rows_stored": sum(stored.values()),
        "lost_rows": sum(max(written_by_run[r] - stored[r], 0) for r in run_ids),
        "extra_rows": sum(max(stored[r] - written_by_run[r], 0) for r in run_ids),
        "reader_gaps": sum(abs(stored[r] - reader.seen[r]) for reader in readers for r in run_ids),
        "locked_errors": (sum(reader.locked for reader in readers)
                          + sum("locked" in message for message in store.errors)),
        "reader_errors": len(reader_errors),
        "writer_errors": len(store.errors) + failed_flushes,
        "thread_exceptions": len(uncaught),
        "failed_runs": len(failed),
        "polls": sum(reader.polls for reader in readers),
        "poll_p50_ms": round(1000 * _quantile(latencies, 0.50), 1),
        "poll_p95_ms": round(1000 * _quantile(latencies, 0.95), 1),
        "poll_max_ms": round(1000 * (latencies[-1] if latencies else 0.0), 1),
        "wal_mb": round(wal_mb, 1),
        "errors": {"failed_runs": failed, "readers": reader_errors[:MAX_MESSAGES],
                   "writers": store.errors[:MAX_MESSAGES], "threads": uncaught[:MAX_MESSAGES]},
    }


def _keep_training(manager: JobManager, runs: int, deadline: float, settle_by: float,
                   log) -> tuple[list[str], bool]:
    """Keep `runs` runs training until `deadline`, and on until `runs` of them have stored
    a whole epoch (at most until `settle_by`); return the ids of all started, and whether
    that many had."""
    run_ids: list[str] = []
    seed, last_report = 0, time.monotonic()
    settled = False
    while True:
        now = time.monotonic()
        if now >= deadline and (settled or now >= settle_by):
            break
        if not settled and now >= deadline:
            settled = _trained_an_epoch(manager.store, run_ids) >= runs
        live = set(manager.active_ids()) | set(manager.queued_ids())
        for _ in range(runs - len(live & set(run_ids))):
            run_ids.append(manager.submit(run_config(seed), name=f"soak seed {seed}"))
            seed += 1
        if time.monotonic() - last_report >= 30:
            last_report = time.monotonic()
            left = deadline - last_report
            rows = sum(manager.store.get_run(run_id).progress.get("rows_written", 0)
                       for run_id in run_ids)
            log(f"  {left:5.0f} s left: {len(run_ids)} runs started, {rows} rows written")
        time.sleep(0.2)
    return run_ids, settled or _trained_an_epoch(manager.store, run_ids) >= runs


def _trained_an_epoch(store: RunStore, run_ids: list[str]) -> int:
    """How many of the runs have stored a whole epoch (a "loss" row past epoch 0)."""
    return sum(any(row.epoch >= 1 for row in store.metrics(run_id, names=["loss"]))
               for run_id in run_ids)


def _stored_counts(db_path: Path, run_ids: list[str]) -> Counter[str]:
    """Metric rows per run as the database file holds them, on a connection of its own."""
    conn = sqlite3.connect(db_path)
    try:
        return Counter({run_id: conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?",
                                             (run_id,)).fetchone()[0] for run_id in run_ids})
    finally:
        conn.close()


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--isolation", choices=("process", "thread"), default="process")
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:  # the quick values, unless given on the command line
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    print(f"soak: {args.runs} runs at a time, {args.sessions} sessions polling every "
          f"{POLL_SECONDS:g} s, for {args.minutes * 60:.0f} s, {os.cpu_count()} cores", flush=True)
    figures = soak(args.minutes * 60, args.runs, args.sessions, isolation=args.isolation,
                   log=lambda line: print(line, flush=True))
    zero = ("lost_rows", "extra_rows", "reader_gaps", "locked_errors", "reader_errors",
            "thread_exceptions", "failed_runs")
    print(f"{figures['runs_started']} runs ({figures['statuses']}), {figures['rows_written']} "
          f"rows written, {figures['rows_stored']} stored; {figures['polls']} polls, p50 "
          f"{figures['poll_p50_ms']} ms, p95 {figures['poll_p95_ms']} ms")
    bad = {key: figures[key] for key in zero if figures[key]}
    print("all zero: " + ", ".join(zero) if not bad else f"PROBLEMS: {bad}; {figures['errors']}")
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
