"""The job manager: runs experiments in the background, queued past a limit.

One JobManager lives per process (the UI keeps it in `st.cache_resource`). `submit`
validates, writes the run as queued and returns its id at once; the run trains when a slot
is free. The store is the only channel back to readers, so a page sees a run the same way
whether it trains here, in a worker process, in a CLI process, or elsewhere.

Where runs train is an executor's business (`cnnlab.training.executor`), chosen by
`isolation`: "thread" trains each run in a thread of this process (the CLI, tests,
benchmarks of the training loop); "process" trains them in recycled worker processes
(`cnnlab.training.workers`), which the app's server uses, because TensorFlow leaks memory
with every run a process trains and a worker that crashes takes only its own run with it.
Every run is admitted first (`cnnlab.training.admission`), once, before anything is written.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Sequence

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunRecord, RunStore
from cnnlab.store.owners import this_owner
from cnnlab.training.admission import admit, check_session_cap
from cnnlab.training.executor import Executor, ThreadExecutor
from cnnlab.training.status import queue_progress

DEFAULT_MAX_CONCURRENT = 2
ISOLATIONS = ("thread", "process")
# A run's thread or worker reports its end right after writing it to the store.
ENDED_REPORT_TIMEOUT_S = 10.0


def _default_max_concurrent() -> int:
    raw = os.environ.get("CNNLAB_MAX_CONCURRENT", str(DEFAULT_MAX_CONCURRENT))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            "Invalid CNNLAB_MAX_CONCURRENT. Expected a whole number >= 1. "
            f"Received: {raw!r}. Set it to, e.g., 2."
        )
    return value


class JobManager:
    """Start, queue and stop runs.

    Args:
        store: the RunStore to write to (default: one at `CNNLAB_HOME` or ./runs).
        max_concurrent: runs training at once; more are queued (default
            `CNNLAB_MAX_CONCURRENT` or 2).
        isolation: "thread" (default) or "process": where runs train (see the module).
        prestart: with "process", keep this many idle workers ready, TensorFlow loaded:
            started now, and again whenever one takes a run, up to `max_concurrent`
            workers in all (default 0: a worker starts when a run needs one).
        worker_max_growth: with "process", retire a worker whose memory grew by more
            than this fraction since its first run (default 0.05).
        worker_max_runs: with "process", also retire a worker after this many runs
            (default None: only growth counts).
    """

    def __init__(self, store: RunStore | None = None, *, max_concurrent: int | None = None,
                 isolation: str = "thread", prestart: int = 0,
                 worker_max_growth: float | None = None, worker_max_runs: int | None = None):
        if isolation not in ISOLATIONS:
            raise ValueError(f"Unknown `isolation`. Expected one of {list(ISOLATIONS)}. "
                             f"Received: {isolation!r}. Use 'process' for a server.")
        self.store = store or RunStore()
        self.max_concurrent = max_concurrent or _default_max_concurrent()
        self.isolation = isolation
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._queue: deque[tuple[str, ExperimentConfig]] = deque()
        # Each active run's "it has ended" event.
        self._active: dict[str, threading.Event] = {}
        # Active runs handed to a worker that is still loading TensorFlow.
        self._starting: set[str] = set()
        self._publish_lock = threading.Lock()
        self.store.recover_interrupted()
        self._executor: Executor
        if isolation == "process":
            from cnnlab.training.workers import DEFAULT_MAX_GROWTH, ProcessExecutor

            growth = DEFAULT_MAX_GROWTH if worker_max_growth is None else worker_max_growth
            self._executor = ProcessExecutor(self.store.home, this_owner(), max_growth=growth,
                                             max_runs=worker_max_runs)
            self._executor.prestart(min(prestart, self.max_concurrent),
                                    max_workers=self.max_concurrent)
        else:
            self._executor = ThreadExecutor(self.store)

    def submit(self, config: ExperimentConfig, name: str | None = None, session: str = "",
               owner_key: str = "") -> str:
        """Queue a run of `config`, started by the browser session `session` (a display
        name) whose `owner_key` (cnnlab.sessions) may stop it; return its id at once.

        Raises ValueError, before anything is written, for a config that cannot run,
        including one whose memory estimate does not fit this machine (`admit`), and when
        `session` has `CNNLAB_MAX_PER_SESSION` runs queued or running already.
        """
        return self.submit_all([(config, name)], session=session, owner_key=owner_key)[0]

    def submit_all(self, runs: Sequence[tuple[ExperimentConfig, str | None]],
                   session: str = "", owner_key: str = "") -> list[str]:
        """Queue several runs, each `(config, name)`, all admitted before any is written.

        Why all first: a batch (an ablation grid, a repeat over seeds) is started whole or
        not at all; a variant refused half-way would leave a comparison without its pair.
        Each config is admitted once. Returns the run ids, in order.
        """
        for config, _ in runs:
            admit(config, self.store)
        run_ids = []
        # The cap's count and the new rows under one lock, so two clicks of one session
        # in this server cannot both pass it.
        with self._submit_lock:
            check_session_cap(self.store, session, len(runs), owner_key=owner_key)
            for config, name in runs:
                run_id = self.store.create_run(config.to_dict(), name or config.summary(), session, owner_key)
                with self._lock:
                    self._queue.append((run_id, config))
                    self._start_queued()
                run_ids.append(run_id)
        self._publish()
        return run_ids

    def stop(self, run_id: str) -> bool:
        """Stop a run: one that has not started training at once, a training one within
        one batch.

        "Not started" covers a run in the queue and one handed to a worker that is still
        loading TensorFlow: both are marked stopped in the store now (the worker, told too,
        never starts it), so stopping an ablation grid of queued runs takes no longer than
        the click.
        """
        with self._lock:
            queued = next((item for item in self._queue if item[0] == run_id), None)
            if queued is not None:
                self._queue.remove(queued)
            elif run_id in self._active:
                self._executor.stop(run_id)
            else:
                return False
        # A run that has not started is still "queued" in the store; the first ending
        # recorded stands, so a run that started meanwhile keeps training until its
        # worker sees the stop (within one batch) and records it.
        record = self.store.get_run(run_id)
        if record is not None and record.status == "queued":
            self.store.finish_run(run_id, "stopped")
        if queued is not None:
            self._publish()
        return True

    def queued_ids(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, _ in self._queue]

    def active_ids(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def wait(self, run_id: str, timeout: float | None = None) -> RunRecord:
        """Block until a run of this manager has ended and freed its slot; return its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.store.get_run(run_id)
            if record is not None and not record.is_active:
                with self._lock:
                    ended = self._active.get(run_id)
                if ended is not None:  # its worker's report follows the store's last write
                    ended.wait(ENDED_REPORT_TIMEOUT_S)
                return record
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Run {run_id} still {record.status if record else '?'} after {timeout} s.")
            with self._lock:
                ended = self._active.get(run_id)
            if ended is not None:
                ended.wait(0.1)
            else:
                time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The worker processes' ids with "process" isolation; [] with threads."""
        return self._executor.pids()

    def ready_workers(self) -> int:
        """Idle workers that have loaded TensorFlow (with threads: 0; for benchmarks)."""
        return self._executor.ready_idle()

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every queued and training run and wait for them (and workers) to end."""
        with self._lock:
            queued = [run_id for run_id, _ in self._queue]
            active = list(self._active.items())
            for run_id, _ in active:
                self._executor.stop(run_id)
        for run_id in queued:
            self.stop(run_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        for _, ended in active:
            ended.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._executor.shutdown(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _start_queued(self) -> None:
        """Hand queued runs to free slots (lock held); note those whose worker is still
        starting, for `_publish` to tell once the lock is released."""
        while self._queue and len(self._active) < self.max_concurrent:
            run_id, config = self._queue.popleft()
            self._active[run_id] = threading.Event()
            try:
                ready = self._executor.start(run_id, config, self._ended)
            except OSError as exc:  # no thread or worker process could be started
                self._active.pop(run_id).set()
                self.store.finish_run(run_id, "failed", error=(
                    f"The lab could not start a process or thread to train this run "
                    f"({type(exc).__name__}: {exc}). The server may be out of memory or "
                    "processes; try again when other runs have finished."))
                continue
            if not ready:
                self._starting.add(run_id)

    def _publish(self) -> None:
        """Record in the store what each waiting run waits for: its place in the queue, or
        a worker that is still starting. Every reader (any page, the CLI) shows it.

        Serialized, and each call writes the state as it is when the call begins, so the
        last write is never an older state's. Written outside the manager's lock: a busy
        store delays the words, never a submit or a stop.
        """
        with self._publish_lock:
            with self._lock:
                queued = [run_id for run_id, _ in self._queue]
                starting = sorted(self._starting)
            wanted = {run_id: {"stage": "starting_worker"} for run_id in starting}
            wanted.update({run_id: queue_progress(position, len(queued), self.max_concurrent)
                           for position, run_id in enumerate(queued, start=1)})
            for run_id, progress in wanted.items():
                try:
                    record = self.store.get_run(run_id)
                    if record is not None and record.status == "queued" and record.progress != progress:
                        self.store.update_progress(run_id, progress)
                except (sqlite3.Error, OSError, ValueError):
                    pass  # a busy store: the next change writes it

    def _ended(self, run_id: str) -> None:
        with self._lock:
            ended = self._active.pop(run_id, None)
            self._starting.discard(run_id)
            waiting = len(self._queue)
            self._start_queued()
            moved = len(self._queue) != waiting
        if ended is not None:
            ended.set()
        if moved:
            self._publish()
