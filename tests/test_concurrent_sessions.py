"""A classroom pressing Train at the same moment: every run is queued, none is lost, and no
one sees "database is locked".

Sixteen threads play sixteen browser sessions: each has a RunStore of its own on the same
home (as a page's reads do) and submits through the one process-wide JobManager, all
released together by a barrier. At that very moment four other processes (a CLI, a second
server) create runs in the same database. The limit of two training runs is sampled all
along and also checked exactly, from the stored start and end times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.training import JobManager
from tests.apptest import ROOT

SESSIONS, PROCESSES, RUNS_PER_PROCESS, MAX_CONCURRENT = 16, 4, 5, 2
TINY = ExperimentConfig(dataset="digits", image_size=16, train_size=64, epochs=1, batch_size=32)

# Another process writing to the same store at `start_at` (unix time).
_OTHER_PROCESS = """
import json, sys, time
from cnnlab.store import RunStore
home, start_at, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
store = RunStore(home)
config = {"dataset": "digits", "epochs": 1}
time.sleep(max(0.0, start_at - time.time()))
ids = [store.create_run(config, name=f"from another process {i}") for i in range(count)]
for run_id in ids:
    store.finish_run(run_id, "stopped")
print(json.dumps(ids))
"""


def _max_overlap(intervals) -> int:
    """The most intervals (start, end) open at one instant; an end at t closes before a start at t."""
    events = sorted([(end, -1) for _, end in intervals] + [(start, 1) for start, _ in intervals])
    most = running = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_a_classroom_submitting_at_once_is_queued_and_every_run_completes(lab_home):
    manager = JobManager(RunStore(lab_home), max_concurrent=MAX_CONCURRENT)
    start_at = time.time() + 4.0  # time for the other processes to start and import
    others = [subprocess.Popen([sys.executable, "-c", _OTHER_PROCESS, str(lab_home),
                                str(start_at), str(RUNS_PER_PROCESS)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(PROCESSES)]
    barrier = threading.Barrier(SESSIONS, action=lambda: time.sleep(max(0.0, start_at - time.time())))
    submitted: dict[int, str] = {}
    errors: list[BaseException] = []

    def session(number: int) -> None:
        try:
            own = RunStore(lab_home)
            barrier.wait(timeout=60)
            run_id = manager.submit(TINY.with_overrides({"seed": number}), session=f"student {number}")
            submitted[number] = run_id
            while own.get_run(run_id).is_active:  # the page polls, as a fragment does
                own.list_runs(limit=20)
                own.metrics(run_id, names=["batch/loss"])
                time.sleep(0.2)
            own.close()
        except BaseException as error:  # noqa: BLE001 - every error fails the test below
            errors.append(error)

    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        watcher = RunStore(lab_home)
        while not done.is_set():
            samples.append((len(watcher.list_runs(statuses=["running"])), len(manager.active_ids())))
            time.sleep(0.05)
        watcher.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=session, args=(number,)) for number in range(SESSIONS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=900)
    finally:
        done.set()
        sampler.join()
        manager.shutdown(timeout=60)
    outputs = [process.communicate(timeout=120) for process in others]

    assert errors == [], errors
    assert not any(thread.is_alive() for thread in threads)
    for process, (stdout, stderr) in zip(others, outputs):
        assert process.returncode == 0, stderr[-2000:]
        assert "locked" not in stderr
    from_processes = [run_id for stdout, _ in outputs for run_id in json.loads(stdout)]
    ours = list(submitted.values())
    assert len(ours) == SESSIONS and len(from_processes) == PROCESSES * RUNS_PER_PROCESS
    assert len(set(ours) | set(from_processes)) == SESSIONS + PROCESSES * RUNS_PER_PROCESS

    store = RunStore(lab_home)
    records = [store.get_run(run_id) for run_id in ours]
    assert [record.status for record in records] == ["completed"] * SESSIONS, \
        [(record.run_id, record.status, record.error) for record in records]
    assert {record.session for record in records} == {f"student {n}" for n in range(SESSIONS)}
    assert all(store.get_run(run_id).status == "stopped" for run_id in from_processes)
    # Queued, never over the limit: sampled while it ran, and exactly from the stored times.
    assert samples and max(running for running, _ in samples) <= MAX_CONCURRENT
    assert max(active for _, active in samples) == MAX_CONCURRENT  # the limit was reached
    assert _max_overlap([(r.started_at, r.finished_at) for r in records]) == MAX_CONCURRENT
