"""Stopping runs that have not started: an ablation grid stopped while its workers start.

As the app's server does it: one JobManager training in worker processes (two at a time,
one worker started ahead and ready), four runs of the default experiment submitted at once
(an ablation grid), then, as soon as they are submitted, all four stopped ("Stop 4
active"). Two of them wait in the queue, two are handed to workers, one of which is still
loading TensorFlow. The clock runs from the first stop to the moment the store shows every
run ended (what every page reads). Before issue 12 a run handed to a starting worker ended
only once that worker had loaded TensorFlow and begun it (25 s in the issue's report).

Keys of the last line: `stop_all_s` (the median over the repeats), `stop_all_each_s`,
`statuses` (of the last repeat: all "stopped"), `trained_rows` (training metric rows the
stopped runs wrote, epoch >= 1: 0 when none trained), `load_avg_1m`. Target (issue 12): immediate, under 1 s.

Usage: python benchmarks/stop_queued.py [--repeats 3] [--quick]   (--quick: one repeat)
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlab.config import ExperimentConfig  # noqa: E402
from cnnlab.store import RunStore  # noqa: E402
from cnnlab.training import JobManager  # noqa: E402

RUNS = 4
TIMEOUT_S = 600.0


def one_repeat() -> tuple[float, list[str], int]:
    """(seconds from the first stop until all runs ended, their statuses, rows they wrote)."""
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        manager = JobManager(store, max_concurrent=2, isolation="process", prestart=1)
        try:
            # The worker started ahead is ready, as on a server that has been up a while.
            deadline = time.monotonic() + TIMEOUT_S
            while not manager.ready_workers():
                if time.monotonic() > deadline:
                    raise RuntimeError("the prestarted worker never became ready")
                time.sleep(0.05)
            ids = [manager.submit(ExperimentConfig(seed=seed)) for seed in range(RUNS)]
            started = time.monotonic()
            for run_id in ids:
                manager.stop(run_id)
            while any(store.get_run(run_id).is_active for run_id in ids):
                if time.monotonic() - started > TIMEOUT_S:
                    raise RuntimeError("the runs did not end")
                time.sleep(0.01)
            seconds = time.monotonic() - started
            statuses = [store.get_run(run_id).status for run_id in ids]
            # Rows of training (epoch >= 1). The untrained point (epoch 0, the curves' first
            # point) is measured before training, and a stop that lands while a run builds its
            # model may come after it: that run did not train.
            rows = sum(row.epoch >= 1 for run_id in ids for row in store.metrics(run_id))
        finally:
            manager.shutdown(timeout=120)
            store.close()
    return seconds, statuses, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    load_before = os.getloadavg()[0]
    results = [one_repeat() for _ in range(repeats)]
    load_after = os.getloadavg()[0]
    each = [seconds for seconds, _, _ in results]
    figure = statistics.median(each)
    print(f"{RUNS} runs submitted, then stopped at once (2 slots, 1 worker ready): all ended "
          f"after {', '.join(f'{s:.2f}' for s in each)} s (median {figure:.2f} s, target "
          f"< 1 s); statuses {results[-1][1]}; rows written {results[-1][2]}; load average "
          f"{load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    print(json.dumps({"stop_all_s": round(figure, 3), "stop_all_each_s": [round(s, 3) for s in each],
                      "statuses": results[-1][1], "trained_rows": results[-1][2],
                      "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
                      "target_s": 1.0, "met": figure < 1.0}))


if __name__ == "__main__":
    main()
