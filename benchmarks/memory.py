"""Memory over many sequential runs: does the lab's resident memory stay flat?

N small runs (digits, 16 px, 256 images, 1 epoch, seeds 0..N-1) are trained one after
another through one JobManager, as a classroom server trains them over a day. After each
run the lab's resident memory is read from /proc:
- isolation "process" (the app's server): the server process, plus the worker that
  trained the run, as it reported itself right after the run (workers are recycled once
  they have grown 5% past their first run: cnnlab.training.workers);
- isolation "thread": the one process that trains everything.
Target (issue "Hardening for a shared classroom server"): after the last run, within 10%
of after the fifth (`ratio` = last / fifth <= 1.10). The thread figures show why the server
trains in worker processes: TensorFlow keeps part of every traced graph for good.

Keys of the last line (one JSON object): one object per isolation measured ("process",
"thread"), each with `isolation`, `runs`, `at`, `total_mb_after_<at>`,
`total_mb_after_<runs>`, `ratio`, `max_ratio` (the largest total after run `at` over
that at `at`), `server_mb_after_<at>`, `server_mb_after_<runs>`, `workers_retired`.

Usage: python benchmarks/memory.py [--runs 50] [--at 5] [--isolation process thread]
       python benchmarks/memory.py --quick   (seconds: 2 runs in a worker process, the
           ratio of run 2 over run 1; checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlab.config import ExperimentConfig  # noqa: E402
from cnnlab.store import RunStore  # noqa: E402
from cnnlab.training import JobManager  # noqa: E402
from cnnlab.training.workers import resident_bytes  # noqa: E402

MB = 2**20
# --quick: two runs in the app's isolation (one worker process).
QUICK = {"runs": 2, "at": 1, "isolation": ["process"]}


def sequential_memory(runs: int, *, isolation: str, at: int = 5, log=print) -> dict:
    """Train `runs` runs one after another; the lab's memory after run `at` and the last."""
    if not 1 <= at <= runs:
        raise ValueError(f"Invalid `at`. Expected 1 <= at <= runs ({runs}). Received: {at}.")
    totals, servers, workers = [], [], []
    with tempfile.TemporaryDirectory(prefix="cnnlab-memory-") as home:
        manager = JobManager(RunStore(home), max_concurrent=1, isolation=isolation)
        try:
            for seed in range(runs):
                config = ExperimentConfig(dataset="digits", image_size=16, train_size=256,
                                          epochs=1, batch_size=32, seed=seed)
                run_id = manager.submit(config)
                record = manager.wait(run_id, timeout=600)
                if record.status != "completed":
                    raise RuntimeError(f"Run {seed} ended {record.status}: {record.error}")
                server = resident_bytes()
                worker = 0
                if isolation == "process":
                    reported = dict(manager._executor.memory_after_runs)
                    worker = reported[run_id]
                servers.append(server)
                workers.append(worker)
                totals.append(server + worker)
                log(f"run {seed + 1:3d}: server {server / MB:7.0f} MB, worker {worker / MB:7.0f} "
                    f"MB, total {(server + worker) / MB:7.0f} MB")
            retired = getattr(manager._executor, "retired", 0)
        finally:
            manager.shutdown(60)
    first, last = totals[at - 1], totals[-1]
    return {
        "isolation": isolation,
        "runs": runs,
        "at": at,
        f"total_mb_after_{at}": round(first / MB),
        f"total_mb_after_{runs}": round(last / MB),
        "ratio": round(last / first, 3),
        "max_ratio": round(max(totals[at - 1:]) / first, 3),
        f"server_mb_after_{at}": round(servers[at - 1] / MB),
        f"server_mb_after_{runs}": round(servers[-1] / MB),
        "workers_retired": retired,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--at", type=int, default=5)
    parser.add_argument("--isolation", nargs="+", choices=("process", "thread"),
                        default=["process", "thread"])
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:  # the quick values, unless given on the command line
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    figures = {}
    for isolation in args.isolation:
        print(f"-- {args.runs} sequential runs, isolation {isolation!r}", flush=True)
        result = sequential_memory(args.runs, isolation=isolation, at=args.at,
                                   log=lambda line: print(line, flush=True))
        print(f"{isolation}: ratio {result['ratio']} (target <= 1.10), max ratio "
              f"{result['max_ratio']}", flush=True)
        figures[isolation] = result
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
