"""Worker processes that train runs, one run at a time each, recycled once they have grown.

Why processes: TensorFlow keeps part of every graph it traces for the life of the process
(an open upstream leak: keras-team/tf-keras#286, tensorflow/tensorflow#61791). Measured
here (benchmarks/memory.py), 50 sequential runs of a tiny experiment in one process grew
its resident memory by 15 to 30 MB a run, from 894 MB after the 5th to 1,659 MB after the
50th, and `keras.backend.clear_session()` cannot be called while other runs train. So the
server trains each run in a worker process; a worker that has grown by more than
`max_growth` since its first run is retired after its run and a fresh one takes its place,
and the server's memory stays flat. A worker that dies (killed for lack of memory, a crash
in native code) fails only its own run; the server and the other runs go on.

The store stays the only channel for results: a worker writes its run's metrics and status
there itself, exactly as a training thread would, with the server process as the run's
owner (so runs whose server is killed become `interrupted` at the next start). The pipe
carries only orders ("run", "stop", "exit") and the worker's "done" reports.
A worker whose server dies exits within `PARENT_POLL_S`.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from cnnlab.config import ExperimentConfig

# A worker checks this often whether the server that started it is still alive.
PARENT_POLL_S = 0.5
# A worker is retired after a run that left it this much larger than its first run did.
DEFAULT_MAX_GROWTH = 0.05


def resident_bytes() -> int | None:
    """This process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class ProcessExecutor:
    """Trains runs in recycled worker processes, one run per worker at a time.

    The JobManager decides how many runs train at once; this class only keeps that many
    workers and hands each run to an idle one (or to a new one, whose start-up the run
    then waits for: a few seconds to import TensorFlow).

    Args:
        home: the run store's home folder; workers open their own store on it.
        owner: the owner recorded for runs ("host:pid" of the server process).
        max_growth: retire a worker once its resident memory after a run exceeds that
            after its first run by this fraction (default 0.05).
        max_runs: also retire a worker after this many runs (default None: no limit).
    """

    def __init__(self, home, owner: str, *, max_growth: float = DEFAULT_MAX_GROWTH,
                 max_runs: int | None = None):
        if not max_growth >= 0 or (max_runs is not None and max_runs < 1):
            raise ValueError(
                "Invalid worker recycling. Expected `max_growth` >= 0 and `max_runs` None or "
                f">= 1. Received: max_growth={max_growth!r}, max_runs={max_runs!r}.")
        self.home = str(home)
        self.owner = owner
        self.max_growth = max_growth
        self.max_runs = max_runs
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self.retired = 0  # workers recycled so far
        # (run id, the resident bytes of its worker right after it), for the last runs.
        self.memory_after_runs: deque[tuple[str, int | None]] = deque(maxlen=100)
        self._keep_ready = 0
        self._max_workers = 0

    def prestart(self, count: int = 1, *, max_workers: int | None = None) -> None:
        """Keep `count` idle workers ready: start them now, and start another whenever one
        takes a run or ends, as long as there are fewer than `max_workers` (default
        `count`) workers in all.

        Why again after each start: the next run (the second of an ablation grid, the
        next student's) then finds a worker that has loaded TensorFlow and the default
        data set already, instead of waiting seconds for a new process.
        """
        with self._lock:
            self._keep_ready = count
            self._max_workers = count if max_workers is None else max(count, max_workers)
            self._replenish()

    def start(self, run_id: str, config: ExperimentConfig, on_end: Callable[[str], None]) -> bool:
        """Train `run_id` in an idle worker (or a new one); call `on_end(run_id)` after.

        Returns whether that worker was ready (TensorFlow loaded): if not, the run waits
        for it to start, which the job manager tells the run's readers.
        """
        with self._lock:
            idle = [w for w in self._workers if w.run_id is None]
            # A ready worker first; among those still starting, the oldest.
            worker = next((w for w in idle if w.ready.is_set()), idle[0] if idle else None)
            if worker is None:
                worker = self._spawn()
                self._workers.append(worker)
            worker.assign(run_id, config.to_dict(), on_end)
            self._replenish()
            return worker.ready.is_set()

    def stop(self, run_id: str) -> None:
        with self._lock:
            for worker in self._workers:
                if worker.run_id == run_id:
                    worker.send(("stop", run_id))

    def pids(self) -> list[int]:
        """The process ids of the live workers (for tests and benchmarks)."""
        with self._lock:
            return [worker.process.pid for worker in self._workers]

    def ready_idle(self) -> int:
        """How many workers are idle with TensorFlow loaded."""
        with self._lock:
            return sum(w.run_id is None and w.ready.is_set() for w in self._workers)

    def shutdown(self, timeout: float | None = None) -> None:
        """Ask every worker to exit after its run (the manager has stopped the runs)."""
        with self._lock:
            workers, self._workers = self._workers, []
            for worker in workers:
                worker.send(("exit",))
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in workers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                worker.process.wait(left)
            except subprocess.TimeoutExpired:
                worker.process.kill()

    # -- internals -----------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        # Called with the lock held.
        return _Worker(self)

    def _replenish(self) -> None:
        """Start workers until `_keep_ready` are idle or `_max_workers` exist (lock held).

        A worker that cannot be started (no memory, no processes left) is not retried
        here: the next run that needs one starts it, and fails with a message if it cannot.
        """
        idle = sum(worker.run_id is None for worker in self._workers)
        while idle < self._keep_ready and len(self._workers) < self._max_workers:
            try:
                self._workers.append(self._spawn())
            except OSError:
                return
            idle += 1

    def _finished(self, worker: _Worker, rss: int | None) -> None:
        """After a run: retire the worker if it has grown too much or trained enough runs."""
        with self._lock:
            worker.runs += 1
            if rss is not None and worker.first_rss is None:
                worker.first_rss = rss
            grown = (rss is not None and worker.first_rss is not None
                     and rss > worker.first_rss * (1 + self.max_growth))
            done = self.max_runs is not None and worker.runs >= self.max_runs
            if (grown or done) and worker in self._workers:
                self._workers.remove(worker)
                worker.send(("exit",))
                self.retired += 1
                self._replenish()

    def _died(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)


class _Worker:
    """The server's side of one worker process: its pipe and the run it is training."""

    def __init__(self, executor: ProcessExecutor):
        self.executor = executor
        # A socket pair, not multiprocessing's spawn: spawn re-imports the server's main
        # module in the child, which a Streamlit script or a plain script cannot bear.
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnnlab.training.workers", "--fd", str(theirs.fileno()),
             "--home", executor.home, "--owner", executor.owner, "--parent", str(os.getpid())],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.run_id: str | None = None
        self.on_end: Callable[[str], None] | None = None
        # Set when the worker reports that TensorFlow and the default data set are loaded.
        self.ready = threading.Event()
        self.first_rss: int | None = None
        self.runs = 0
        self._send_lock = threading.Lock()
        threading.Thread(target=self._listen, name=f"cnnlab-worker-{self.process.pid}",
                         daemon=True).start()

    def assign(self, run_id: str, config: dict, on_end: Callable[[str], None]) -> None:
        self.run_id, self.on_end = run_id, on_end
        self.send(("run", run_id, config))

    def send(self, message: tuple) -> None:
        with self._send_lock:
            try:
                self.conn.send(message)
            except (OSError, ValueError):  # the worker is gone: _listen reports it
                pass

    def _listen(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "ready":
                self.ready.set()
            elif message[0] == "done":
                _, run_id, _status, rss = message
                self.executor.memory_after_runs.append((run_id, rss))
                self.executor._finished(self, rss)
                self._end(run_id)
        # The worker process has ended: normally after "exit", else it died.
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # its pipe broke, yet it lives: end it
            self.process.kill()
            self.process.wait()
        self.executor._died(self)
        run_id = self.run_id
        if run_id is not None:
            _fail_lost_run(self.executor.home, run_id, self.process.returncode)
            self._end(run_id)
        self.conn.close()

    def _end(self, run_id: str) -> None:
        on_end, self.run_id, self.on_end = self.on_end, None, None
        if on_end is not None:
            on_end(run_id)


def _fail_lost_run(home: str, run_id: str, exitcode: int | None) -> None:
    """Mark a run whose worker died as failed, unless the worker finished it first."""
    from cnnlab.store import RunStore

    if exitcode is not None and exitcode < 0:
        how = f"was killed by signal {-exitcode}"
        if -exitcode == 9:
            how += " (often the system's out-of-memory killer)"
    else:
        how = f"ended unexpectedly (exit code {exitcode})"
    store = RunStore(home)
    try:
        record = store.get_run(run_id)
        if record is not None and record.is_active:
            store.finish_run(run_id, "failed", error=(
                f"The worker process training this run {how}. Other runs are not affected. "
                "If memory ran out, lower the batch size or the image size, or run fewer "
                "runs at once; then start the run again."))
    finally:
        store.close()


# -- the worker process --------------------------------------------------------------------


def worker_main(conn, home: str, owner: str, parent_pid: int) -> None:
    """The body of a worker process: train the runs the server sends, one at a time.

    The orders are read from the start, so a stop that comes while TensorFlow loads is
    known before its run begins (and the run then never starts). Once TensorFlow, the
    training modules and the default data set are loaded (`warm_up`), the worker tells
    the server it is ready.
    """
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    orders: queue.Queue = queue.Queue()
    lock = threading.Lock()
    state = {"run_id": None, "event": None, "stopped": set()}

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                orders.put(("exit",))
                return
            if message[0] == "stop":
                with lock:  # a stop may come before its run has started here
                    state["stopped"].add(message[1])
                    if state["run_id"] == message[1]:
                        state["event"].set()
            else:
                orders.put(message)

    threading.Thread(target=listen, name="cnnlab-worker-orders", daemon=True).start()
    from cnnlab.store import RunStore
    from cnnlab.training.job import execute_run, warm_up

    warm_up()
    store = RunStore(home)
    try:
        conn.send(("ready",))
    except (OSError, ValueError):
        store.close()
        return
    while True:
        message = orders.get()
        if message[0] != "run":
            break
        _, run_id, config = message
        event = threading.Event()
        with lock:
            state["run_id"], state["event"] = run_id, event
            if run_id in state["stopped"]:
                event.set()
        status = execute_run(store, run_id, ExperimentConfig.from_dict(config), event,
                             owner=owner)
        with lock:
            state["run_id"], state["event"] = None, None
            state["stopped"].discard(run_id)
        try:
            conn.send(("done", run_id, status, resident_bytes()))
        except (OSError, ValueError):
            break
    store.close()


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker soon after its server dies (killed -9, it cannot tell us)."""
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent_pid:
            sys.stderr.write("cnnlab worker: the server process is gone; exiting.\n")
            os._exit(70)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A cnnlab worker process (started by the server).")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args()
    worker_main(Connection(args.fd), args.home, args.owner, args.parent)
    # Its runs are recorded and its store closed: skip TensorFlow's slow teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
