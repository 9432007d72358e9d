"""The job manager: runs experiments in background threads, queued past a limit.

One JobManager lives per process (the UI keeps it in `st.cache_resource`). `submit`
validates, writes the run as queued and returns its id at once; a worker thread trains it
when a slot is free. The store is the only channel back to readers, so a page sees a run
the same way whether it trains here, in a CLI process, or elsewhere.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunRecord, RunStore
from cnnlab.training.job import execute_run
from cnnlab.training.transfer import check_transfer

DEFAULT_MAX_CONCURRENT = 2


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
    """

    def __init__(self, store: RunStore | None = None, *, max_concurrent: int | None = None):
        self.store = store or RunStore()
        self.max_concurrent = max_concurrent or _default_max_concurrent()
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, ExperimentConfig]] = deque()
        self._active: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self.store.recover_interrupted()

    def submit(self, config: ExperimentConfig, name: str | None = None, session: str = "") -> str:
        """Queue a run of `config`, started by the browser session `session`; return its id
        at once.

        Raises ValueError, before anything is written, for a config that cannot run.
        """
        if not isinstance(config, ExperimentConfig):
            raise ValueError(
                "Invalid experiment. Expected an ExperimentConfig. "
                f"Received: {type(config).__name__}. Build one with ExperimentConfig(...)."
            )
        config.check_feasible()
        check_transfer(config, self.store)
        run_id = self.store.create_run(config.to_dict(), name or config.summary(), session)
        with self._lock:
            self._queue.append((run_id, config))
            self._start_queued()
        return run_id

    def stop(self, run_id: str) -> bool:
        """Stop a run: a queued one at once, a training one within one batch."""
        with self._lock:
            for item in self._queue:
                if item[0] == run_id:
                    self._queue.remove(item)
                    self.store.finish_run(run_id, "stopped")
                    return True
            if run_id in self._active:
                self._active[run_id][1].set()
                return True
        return False

    def queued_ids(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, _ in self._queue]

    def active_ids(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def wait(self, run_id: str, timeout: float | None = None) -> RunRecord:
        """Block until a run of this manager has ended; return its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.store.get_run(run_id)
            if record is not None and not record.is_active:
                return record
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Run {run_id} still {record.status if record else '?'} after {timeout} s.")
            with self._lock:
                thread = self._active.get(run_id, (None,))[0]
            if thread is not None:
                thread.join(0.1)
            else:
                time.sleep(0.05)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every queued and training run and wait for the threads to end."""
        with self._lock:
            queued = [run_id for run_id, _ in self._queue]
            threads = [thread for thread, _ in self._active.values()]
            for _, event in self._active.values():
                event.set()
        for run_id in queued:
            self.stop(run_id)
        for thread in threads:
            thread.join(timeout)

    def _start_queued(self) -> None:
        # Called with the lock held.
        while self._queue and len(self._active) < self.max_concurrent:
            run_id, config = self._queue.popleft()
            event = threading.Event()
            thread = threading.Thread(target=self._work, args=(run_id, config, event),
                                      name=f"cnnlab-run-{run_id}", daemon=True)
            self._active[run_id] = (thread, event)
            thread.start()

    def _work(self, run_id: str, config: ExperimentConfig, event: threading.Event) -> None:
        try:
            execute_run(self.store, run_id, config, event)
        finally:
            with self._lock:
                self._active.pop(run_id, None)
                self._start_queued()
