"""Does the learning-rate finder's suggestion train well? The suggestion against 1e-5 and 3.0.

Why: the Train page's "Find learning rate" suggests a rate (the smaller of steepest descent
and minimum / 10 on the smoothed loss); a suggestion is only worth the button if a short run
at it beats a rate far too small and one far too large, on every seed.

For each seed: one finder run of the default experiment (digits, small convnet, Adam,
batch 32) through the lab's own `execute_run`, then three short runs of the same
experiment (`--epochs`, default 3) at the suggested rate, at 1e-5 and at 3.0. Printed per
seed: the suggestion, its rule, the finder's batches and seconds, and each run's final
validation accuracy; then each rate's mean +- standard deviation.

Usage: python benchmarks/lr_finder.py [--seeds 0,1,2] [--epochs 3]
(on 2 CPU cores a seed takes about 40 s; --quick: 16 px digits, 480 images, 1 epoch, one seed.)
The last line printed is one JSON object. Keys of the last line: `seeds`, `suggestions` (one per seed),
`rules`, `descents` (how far the smoothed loss fell, a fraction), `finder_seconds`, `validation` (per rate label "suggested", "1e-05", "3": `values`,
`mean`, `sd`), `holds` (the suggestion's mean validation accuracy exceeds both others' by
more than twice the largest standard deviation).
Target (issue 14): `holds` on the default experiment, with every suggestion in [1e-4, 1].
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time

import _lab_runs  # noqa: F401 - puts the checkout on sys.path, quiets TensorFlow
from _lab_runs import seeds_argument

FIXED_RATES = {"1e-05": 1e-5, "3": 3.0}


def _run(store, config) -> tuple[str, dict, float]:
    from cnnlab.training.job import execute_run

    run_id = store.create_run(config.to_dict(), config.summary())
    started = time.perf_counter()
    status = execute_run(store, run_id, config, threading.Event())
    return status, store.get_run(run_id).final_metrics, time.perf_counter() - started


def _stats(values: list[float]) -> dict:
    return {"values": [round(v, 4) for v in values], "mean": round(statistics.mean(values), 4),
            "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=seeds_argument, default=seeds_argument("0,1,2"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="16 px digits, 480 images, 1 epoch, one seed")
    args = parser.parse_args()
    from cnnlab.config import ExperimentConfig
    from cnnlab.store import RunStore

    base = {"epochs": args.epochs}
    if args.quick:
        args.seeds, base = [0], {"image_size": 16, "train_size": 480, "epochs": 1}
    store = RunStore(tempfile.mkdtemp(prefix="cnnlab-lr-finder-"))
    suggestions, rules, seconds, descents = [], [], [], []
    accuracy: dict[str, list[float]] = {"suggested": [], **{label: [] for label in FIXED_RATES}}
    print(f"{'seed':>4}  {'suggested':>9}  {'rule':<16} {'batches':>7} {'finder s':>8}  "
          f"{'val acc at suggestion':>21} {'at 1e-5':>8} {'at 3.0':>8}")
    try:
        for seed in args.seeds:
            config = ExperimentConfig().with_overrides({**base, "seed": seed})
            status, final, took = _run(store, ExperimentConfig().with_overrides(
                {**base, "seed": seed, "kind": "lr_find"}))
            assert status == "completed", (status, final)
            rate = final["lr_find_suggestion"]
            from cnnlab.training.lr_finder import MINIMUM_OVER_10, STEEPEST

            rule = STEEPEST if rate == final["lr_find_steepest"] else MINIMUM_OVER_10
            suggestions.append(float(f"{rate:.3g}"))
            rules.append(rule)
            seconds.append(round(took, 1))
            descents.append(round(final["lr_find_descent"], 4))
            row = {}
            for label, value in {"suggested": float(f"{rate:.2g}"), **FIXED_RATES}.items():
                _, metrics, _ = _run(store, config.with_overrides({"learning_rate": value}))
                row[label] = float(metrics.get("val_accuracy", float("nan")))
                accuracy[label].append(row[label])
            print(f"{seed:>4}  {rate:>9.2g}  {rule:<16} {int(final['lr_find_batches']):>7} {took:>8.1f}  "
                  f"{row['suggested']:>21.1%} {row['1e-05']:>8.1%} {row['3']:>8.1%}", flush=True)
    finally:
        store.close()
    validation = {label: _stats(values) for label, values in accuracy.items()}
    worst_sd = max(stats["sd"] for stats in validation.values())
    holds = all(validation["suggested"]["mean"] - validation[label]["mean"] > 2 * worst_sd
                for label in FIXED_RATES)
    for label, stats in validation.items():
        print(f"validation accuracy at {label:>9}: {100 * stats['mean']:.1f} +- {100 * stats['sd']:.1f} %")
    print(json.dumps({"seeds": args.seeds, "suggestions": suggestions, "rules": rules,
                      "descents": descents, "finder_seconds": seconds, "validation": validation, "holds": holds}))


if __name__ == "__main__":
    main()
