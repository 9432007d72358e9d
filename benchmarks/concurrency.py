"""Concurrent runs: aggregate and per-run throughput with 1, 2 and 4 runs at once.

The default experiment (digits, the small convnet, 6 epochs) is started N times at once
(seeds 0..N-1) through one JobManager allowing N concurrent runs, as the app's server
would: in worker processes by default (`--isolation thread`: in threads of this process).
Per run: images/s over its epochs 2..N from its own stored epoch times (epoch 1 traces the
train function). Aggregate: the sum of the runs' own images/s,
which holds because they start together and train side by side (checked: their timed
spans overlap; if they did not, all images over the whole span are used). The levels are interleaved and repeated;
the best aggregate of each level counts (this machine's noise is about 20%).
Targets: 4 concurrent runs give >= 1.5x the aggregate throughput of one (`speedup_4`);
no run gets less than 0.7x the mean of the others (`fairness`: min per-run / mean, worst
repeat of 4). Also `compare_render_s`: the Compare page's server-side render time with 20
stored runs of 50 epochs (benchmarks/compare_render.py's `measure`; target <= 1 s), unless
--skip-render.

Keys of the last line (one JSON object): `speedup_4`, `speedup_2`, `fairness`,
`aggregate_images_per_s` (runs at once -> best images/s), `isolation`, and
`compare_render_s` unless --skip-render.

Usage: python benchmarks/concurrency.py [--repeats 2] [--epochs 6] [--skip-render]
                                        [--isolation process|thread]
       python benchmarks/concurrency.py --quick   (seconds: LeNet-5, 2 epochs of 64 digits
           at 8 px, in threads, one try; a Compare render of 2 runs of 2 epochs; checks
           that it runs)
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

LEVELS = (1, 2, 4)
# --quick: the smallest runs that still time an epoch 2, in threads (no worker to start:
# tests/test_workers.py and the soak and kill benchmarks cover runs in workers).
QUICK = {"repeats": 1, "epochs": 2, "architecture": "lenet5", "train_size": 64, "image_size": 8,
         "isolation": "thread", "render_runs": 2, "render_epochs": 2, "render_repeats": 1}


def measure(level: int, epochs: int, isolation: str = "process", **experiment) -> dict:
    """Start `level` runs at once; return aggregate and per-run images/s.

    `experiment`: ExperimentConfig fields other than the defaults (e.g. `train_size`).
    """
    with tempfile.TemporaryDirectory() as home:
        manager = JobManager(RunStore(home), max_concurrent=level, isolation=isolation)
        configs = [ExperimentConfig(epochs=epochs, seed=seed, **experiment)
                   for seed in range(level)]
        run_ids = [manager.submit(config) for config in configs]
        for run_id in run_ids:
            record = manager.wait(run_id)
            assert record.status == "completed", record.error
        per_run, spans, images = [], [], 0
        for run_id, config in zip(run_ids, configs):
            rows = manager.store.metrics(run_id, names=["epoch_time_s"])
            count = config.planned_train_count()
            timed = rows[1:]
            per_run.append(len(timed) * count / sum(row.value for row in timed))
            # Epoch 2 starts when epoch 1's row is written; the last ends with the last row.
            spans.append((rows[0].time, rows[-1].time))
            images += len(timed) * count
        manager.shutdown()
    start, end = max(s for s, _ in spans), min(e for _, e in spans)
    if end > start:
        aggregate = sum(per_run)  # all ran together across the timed span
    else:  # no common span (a queued run): all images over the whole span
        aggregate = images / (max(e for _, e in spans) - min(s for s, _ in spans))
    mean = sum(per_run) / len(per_run)
    return {"aggregate": aggregate, "per_run": per_run, "fairness": min(per_run) / mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--architecture", default=None,
                        help="the runs' architecture (default: the default experiment's)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images per run (default: the default experiment's)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="image side in pixels (default: the default experiment's)")
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--render-runs", type=int, default=20)
    parser.add_argument("--render-epochs", type=int, default=50)
    parser.add_argument("--render-repeats", type=int, default=5)
    parser.add_argument("--isolation", choices=("process", "thread"), default="process",
                        help="where runs train: worker processes (the app's server) or threads")
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:  # the quick values, unless given on the command line
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (epoch 1 traces; epochs 2.. are timed)")

    experiment = {key: value for key, value in
                  (("architecture", args.architecture), ("train_size", args.train_size),
                   ("image_size", args.image_size))
                  if value is not None}
    results: dict[int, list[dict]] = {level: [] for level in LEVELS}
    for _ in range(args.repeats):
        for level in LEVELS:
            results[level].append(measure(level, args.epochs, args.isolation, **experiment))
    best = {level: max(r["aggregate"] for r in results[level]) for level in LEVELS}
    fairness = min(r["fairness"] for r in results[4])
    config = ExperimentConfig(epochs=args.epochs, **experiment)
    print(f"{config.summary()}, {config.planned_train_count()} training images, epochs "
          f"2..{args.epochs} timed, best of {args.repeats}, in "
          f"{'worker processes' if args.isolation == 'process' else 'threads'}, "
          f"{os.cpu_count()} cores")
    print(f"{'runs at once':<14} {'aggregate images/s (each try)':<34} {'best':>7} {'per-run images/s (best try)'}")
    for level in LEVELS:
        tries = ", ".join(f"{r['aggregate']:.0f}" for r in results[level])
        top = max(results[level], key=lambda r: r["aggregate"])
        print(f"{level:<14} {tries:<34} {best[level]:7.0f} {', '.join(f'{v:.0f}' for v in top['per_run'])}")
    speedup = best[4] / best[1]
    print(f"speedup of 4 over 1: {speedup:.2f} (target >= 1.5); fairness of 4: {fairness:.2f} "
          "(target >= 0.7)")
    figures = {"speedup_4": round(speedup, 3), "speedup_2": round(best[2] / best[1], 3),
               "fairness": round(fairness, 3),
               "aggregate_images_per_s": {str(k): round(v, 1) for k, v in best.items()},
               "isolation": args.isolation}
    if not args.skip_render:
        from benchmarks.compare_render import measure as measure_render

        render = measure_render(runs=args.render_runs, epochs=args.render_epochs,
                                repeats=args.render_repeats)
        figures["compare_render_s"] = render["compare_render_s"]
        print(f"Compare page, {args.render_runs} runs x {args.render_epochs} epochs, server "
              f"render: {figures['compare_render_s']:.2f} s, median of {args.render_repeats} "
              "(target <= 1 s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
