"""Runs in recycled worker processes: the server's way of training (cnnlab.training.workers).

Each test starts real worker processes (each imports TensorFlow: a few seconds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.store.owners import child_pids, pid_alive, this_owner
from cnnlab.training import JobManager
from cnnlab.training.workers import ProcessExecutor

ROOT = Path(__file__).resolve().parents[1]


def _config(seed=0, *, epochs=1, train_size=128):
    return ExperimentConfig(dataset="digits", image_size=16, train_size=train_size,
                            epochs=epochs, batch_size=32, seed=seed)


def _wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_runs_train_in_workers_recycled_after_max_runs(store):
    manager = JobManager(store, max_concurrent=1, isolation="process", worker_max_runs=1)
    try:
        pids = []
        for seed in range(2):
            run_id = manager.submit(_config(seed))
            [pid] = _wait_until(manager.worker_pids, 300, "a worker")  # the only one
            pids.append(pid)
            record = manager.wait(run_id, timeout=300)
            assert record.status == "completed", record.error
            # The server owns the run (so a server killed -9 leaves it to recovery), and
            # the metrics the worker wrote are in the store for every reader.
            assert record.owner == this_owner()
            assert store.metrics(run_id, names=["val_accuracy"])
            assert record.final_metrics["test_accuracy"] > 0.1
            # It retires once it has reported the run, a moment after the store shows it
            # ended (on a loaded machine, maybe seconds later).
            _wait_until(lambda: pid not in manager.worker_pids(), 300, "the worker to retire")
        assert os.getpid() not in pids
        assert pids[0] != pids[1], "one run per worker: the second run had a fresh process"
        assert manager._executor.retired == 2
    finally:
        manager.shutdown(60)
    assert manager.worker_pids() == []


def test_stop_reaches_the_run_in_its_worker(store):
    manager = JobManager(store, max_concurrent=1, isolation="process")
    try:
        run_id = manager.submit(_config(epochs=50, train_size=512))
        _wait_until(lambda: store.get_run(run_id).progress.get("step"), 120, "training to start")
        assert manager.stop(run_id)
        record = manager.wait(run_id, timeout=60)
        assert record.status == "stopped"
        assert record.progress["epoch"] < 50
    finally:
        manager.shutdown(60)


def test_a_killed_worker_fails_its_run_and_the_queue_goes_on(store):
    manager = JobManager(store, max_concurrent=1, isolation="process")
    try:
        doomed = manager.submit(_config(epochs=50, train_size=512))
        after = manager.submit(_config(1))
        _wait_until(lambda: store.get_run(doomed).progress.get("step"), 120, "training to start")
        os.kill(manager.worker_pids()[0], signal.SIGKILL)
        record = manager.wait(doomed, timeout=60)
        assert record.status == "failed"
        assert "killed by signal 9" in record.error and "Other runs are not affected" in record.error
        assert manager.wait(after, timeout=300).status == "completed"
    finally:
        manager.shutdown(60)


class _StubWorker:
    def __init__(self):
        self.first_rss, self.runs, self.sent = None, 0, []

    def send(self, message):
        self.sent.append(message)


@pytest.mark.parametrize(("rss_after_runs", "max_growth", "retired_after"), [
    ([1000, 1040, 1049], 0.05, None),  # within 5% of the first run: kept
    ([1000, 1030, 1051], 0.05, 3),  # past 5%: retired after the third run
    ([1000, 1200], 0.25, None),
    ([1000, 1200], 0.1, 2),
    ([None, None, None], 0.05, None),  # memory unknown (no /proc): growth never retires
])
def test_a_worker_is_retired_when_it_has_grown(rss_after_runs, max_growth, retired_after):
    executor = ProcessExecutor("unused", "host:1", max_growth=max_growth)
    worker = _StubWorker()
    executor._workers.append(worker)
    for number, rss in enumerate(rss_after_runs, start=1):
        executor._finished(worker, rss)
        if worker.sent:
            break
    assert (number if worker.sent else None) == retired_after
    assert worker.sent == ([("exit",)] if retired_after else [])


@pytest.mark.parametrize("options", [{"max_growth": -0.1}, {"max_runs": 0}])
def test_bad_recycling_options_are_refused(options):
    with pytest.raises(ValueError, match="Invalid worker recycling"):
        ProcessExecutor("unused", "host:1", **options)


SERVER = textwrap.dedent("""
    import sys, time
    from cnnlab.config import ExperimentConfig
    from cnnlab.store import RunStore
    from cnnlab.training import JobManager
    manager = JobManager(RunStore(sys.argv[1]), max_concurrent=1, isolation="process")
    run_id = manager.submit(ExperimentConfig(dataset="digits", image_size=16, train_size=512,
                                             epochs=50, batch_size=32))
    print(run_id, flush=True)
    time.sleep(600)
""")


def test_workers_end_with_a_killed_server_and_its_runs_become_interrupted(lab_home):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(lab_home)], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        run_id = server.stdout.readline().strip()
        store = RunStore(lab_home)
        _wait_until(lambda: store.get_run(run_id).progress.get("step"), 180, "training to start")
        workers = child_pids(server.pid)
        assert workers, "the run trains in a worker process of the server"
        server.kill()
        server.wait(10)
        # The worker notices within PARENT_POLL_S and exits; the deadline allows for a
        # loaded machine (how fast it is: benchmarks/kill_trials.py).
        _wait_until(lambda: not any(pid_alive(pid, time.time()) for pid in workers), 60,
                    "the workers to exit")
        recovered = JobManager(store)  # a restarted server
        assert store.get_run(run_id).status == "interrupted"
        recovered.shutdown()
        store.close()
    finally:
        server.kill()


def test_a_worker_that_cannot_start_fails_its_run_not_the_submit(store, monkeypatch):
    import subprocess as subprocess_module

    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    manager = JobManager(store, max_concurrent=1, isolation="process")
    monkeypatch.setattr(subprocess_module, "Popen", no_process)
    run_id = manager.submit(_config())
    record = manager.wait(run_id, timeout=120)
    assert record.status == "failed" and "could not start a process" in record.error
    assert manager.active_ids() == [] and manager.queued_ids() == []
    manager.shutdown(10)


def test_a_ready_worker_is_kept_while_runs_take_the_others(store):
    """With prestart=1 the manager keeps one idle worker ready: it waits idle for the
    first run; when that run takes it, a spare starts at once, and the next run finds it.
    Retiring a grown worker is another test's subject: here no worker may be retired, or
    a second run on the first worker (memory grows a few percent) would replace it."""
    manager = JobManager(store, max_concurrent=2, isolation="process", prestart=1,
                         worker_max_growth=100.0)
    try:
        [prestarted] = manager.worker_pids()
        first = manager.submit(_config(seed=1))
        spare = set(manager.worker_pids()) - {prestarted}
        assert len(spare) == 1, "a spare worker starts when the ready one takes a run"
        assert manager.wait(first, timeout=300).status == "completed"
        second = manager.submit(_config(seed=2))
        assert manager.wait(second, timeout=300).status == "completed"
        # Never more than max_concurrent workers, and no new process for the second run.
        assert set(manager.worker_pids()) == {prestarted, *spare}
    finally:
        manager.shutdown(60)


def test_a_run_stopped_while_its_worker_starts_ends_at_once_and_never_trains(store):
    manager = JobManager(store, max_concurrent=1, isolation="process")  # no worker ahead
    try:
        run_id = manager.submit(_config(epochs=5))
        # Handed to a worker that is loading TensorFlow: readers are told so.
        assert store.get_run(run_id).progress == {"stage": "starting_worker"}
        assert manager.stop(run_id)
        assert store.get_run(run_id).status == "stopped"  # now, not once the worker is up
        _wait_until(lambda: not manager.active_ids(), 300, "the worker to report the run")
        record = store.get_run(run_id)
        assert (record.status, record.started_at) == ("stopped", None)
        assert store.metrics(run_id) == []
    finally:
        manager.shutdown(60)
