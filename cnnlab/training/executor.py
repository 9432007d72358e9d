"""Executors: where the job manager's runs train. What one must do, and the one of threads.

The job manager (`cnnlab.training.runner`) decides which runs train and when; an executor
only trains the runs it is handed and says when each has ended. Every run reports through
the store, never through the executor, so a reader sees a run the same way whichever
executor trains it. Two exist: `ThreadExecutor` here (a thread of this process: the CLI,
tests, benchmarks of the training loop) and `ProcessExecutor` in `cnnlab.training.workers`
(recycled worker processes: the app's server). Another kind (a cluster) is one more class
with these five methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from cnnlab.config import ExperimentConfig
from cnnlab.training.job import execute_run


class Executor(Protocol):
    """What the job manager asks of the place where runs train."""

    def start(self, run_id: str, config: ExperimentConfig, on_end: Callable[[str], None]) -> bool:
        """Train `run_id` (queued in the store) and call `on_end(run_id)` once it has ended.

        Returns whether it starts at once (False: it waits for a worker still starting,
        which the manager tells the run's readers). Raises OSError when nothing can be
        started to train it.
        """

    def stop(self, run_id: str) -> None:
        """Ask a run it was handed to stop (within one batch; at once if not started)."""

    def pids(self) -> list[int]:
        """The process ids training runs, other than this process (for tests, benchmarks)."""

    def ready_idle(self) -> int:
        """How many places could start a run at once (for benchmarks)."""

    def shutdown(self, timeout: float | None = None) -> None:
        """Release what it holds, once the manager has stopped and waited for its runs."""


class ThreadExecutor:
    """Trains each run in a daemon thread of this process.

    Args:
        store: the RunStore the runs are written to.
    """

    def __init__(self, store):
        self.store = store
        self._events: dict[str, threading.Event] = {}

    def start(self, run_id: str, config: ExperimentConfig, on_end: Callable[[str], None]) -> bool:
        event = self._events[run_id] = threading.Event()

        def work() -> None:
            try:
                execute_run(self.store, run_id, config, event)
            finally:
                self._events.pop(run_id, None)
                on_end(run_id)

        threading.Thread(target=work, name=f"cnnlab-run-{run_id}", daemon=True).start()
        return True

    def stop(self, run_id: str) -> None:
        event = self._events.get(run_id)
        if event is not None:
            event.set()

    def pids(self) -> list[int]:
        return []

    def ready_idle(self) -> int:
        return 0

    def shutdown(self, timeout: float | None = None) -> None:
        """Nothing to do: the manager has waited for the runs' threads."""
