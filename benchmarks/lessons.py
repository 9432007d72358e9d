"""Does every lesson hold? Each lesson's runs over 3 seeds, its claimed effect against the noise.

Why: the Lessons page tells a class what it is about to see (issue 14); each lesson's claim
must be one real runs on this machine confirm beyond seed-to-seed noise, within the 3
minutes a class can wait. For each lesson and each seed, all of the lesson's runs are
started as the page starts them (`cnnlab.lessons.start_lesson` through a JobManager, two
runs training at a time, as the lab's default `CNNLAB_MAX_CONCURRENT`), into a fresh run
store, and waited for; then the lesson's metric (`cnnlab.lessons.metrics`) is read from
each run's stored history. Printed per lesson: the metric, the better and the worse run's
mean +- standard deviation over the seeds, the effect (how much better the better one is),
whether it exceeds twice the larger standard deviation ("holds"), every run's value per
seed, and the wall time of one seed's runs together (mean over the seeds; target <= 180 s
on 2 quiet cores).

A lesson whose data set is not in Keras' cache (transfer needs Fashion-MNIST) is skipped,
with the reason, and left out of the last line.

Usage: python benchmarks/lessons.py [--seeds 0,1,2] [--only NAME,NAME] [--quick]
(--quick: the learning-rate lesson at 8 px, 64 images, 1 epoch, one seed: checks that it
works, no figure to quote.)
The last line printed is one JSON object. Keys of the last line: `lessons` (per lesson
name: `holds`, `effect`, `sd`, `seconds`, `metric`, `values`), `held`, `total`, `seeds`.
Target (issue 14): every lesson holds, each within 180 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

QUICK = {"image_size": 8, "train_size": 64, "epochs": 1}
RUN_TIMEOUT_S = 1800.0


def run_lesson(lesson, seed: int, extra: dict | None, concurrent: int) -> tuple[dict, float]:
    """Train every run of `lesson` with `seed`; return ({label: metric value}, seconds)."""
    from cnnlab.lessons import lesson_figures, start_lesson, start_waiting
    from cnnlab.store import RunStore
    from cnnlab.training.runner import JobManager

    store = RunStore(tempfile.mkdtemp(prefix="cnnlab-lessons-"))
    manager = JobManager(store, max_concurrent=concurrent, isolation="thread")
    try:
        started_at = time.perf_counter()
        started = start_lesson(manager, lesson, seed=seed, extra=extra)
        while True:
            for run_id in list(started.values()):
                manager.wait(run_id, timeout=RUN_TIMEOUT_S)
            more = start_waiting(manager, lesson, started, seed=seed, extra=extra)
            if not more:
                break
            started.update(more)
        seconds = time.perf_counter() - started_at
        statuses = {label: store.get_run(run_id).status for label, run_id in started.items()}
        figures = lesson_figures(lesson, started, store)
    finally:
        manager.shutdown(timeout=60)
        store.close()
    for label, status in statuses.items():
        if status != "completed":
            print(f"    ({lesson.name}, seed {seed}: '{label}' ended {status})", flush=True)
    return figures, seconds


def _mean_sd(values: list[float]) -> str:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return "-"
    deviation = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):.4g} +- {deviation:.2g}"


def main() -> None:
    from cnnlab.lessons import LESSONS, METRICS, Outcome, get_lesson, missing_data

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default="", help="comma-separated lesson names")
    parser.add_argument("--concurrent", type=int, default=2, help="runs training at once")
    parser.add_argument("--quick", action="store_true", help="one tiny lesson, one seed")
    args = parser.parse_args()
    seeds = [int(part) for part in args.seeds.split(",") if part.strip()]
    lessons = [get_lesson(name) for name in args.only.split(",") if name] or list(LESSONS)
    extra = None
    if args.quick:
        seeds, lessons, extra = [0], [get_lesson("learning_rate")], QUICK
    results = {}
    for lesson in lessons:
        if missing_data(lesson):
            print(f"{lesson.name:<25} | skipped: {missing_data(lesson)}", flush=True)
            continue
        metric = METRICS[lesson.measure.metric]
        values: dict[str, list[float]] = {run.label: [] for run in lesson.compared}
        times = []
        for seed in seeds:
            figures, seconds = run_lesson(lesson, seed, extra, args.concurrent)
            times.append(seconds)
            for label, value in figures.items():
                values[label].append(value)
            print(f"  {lesson.name} seed {seed} ({seconds:.0f} s): "
                  + "; ".join(f"{label} {metric.format(value)}" for label, value in figures.items()),
                  flush=True)
        outcome = Outcome(tuple(values[lesson.measure.better]), tuple(values[lesson.measure.worse]),
                          metric.lower_is_better)
        effect, sd = outcome.effect, outcome.sd
        results[lesson.name] = {
            "holds": outcome.holds, "effect": _round(effect), "sd": _round(sd),
            "seconds": round(statistics.fmean(times), 1), "metric": lesson.measure.metric,
            "values": {label: [_round(value) for value in series] for label, series in values.items()},
        }
        print(f"{lesson.name:<25} | {metric.title} | {lesson.measure.better}: "
              f"{_mean_sd(values[lesson.measure.better])} | {lesson.measure.worse}: "
              f"{_mean_sd(values[lesson.measure.worse])} | effect {effect:.4g} | 2 sd "
              f"{2 * sd:.3g} | {'holds' if outcome.holds else 'DOES NOT HOLD'} | "
              f"{statistics.fmean(times):.0f} s (max {max(times):.0f} s)", flush=True)
    held = sum(result["holds"] for result in results.values())
    print(json.dumps({"lessons": results, "held": held, "total": len(results), "seeds": seeds}))


def _round(value: float) -> float | None:
    return float(f"{value:.4g}") if math.isfinite(value) else None


if __name__ == "__main__":
    main()
