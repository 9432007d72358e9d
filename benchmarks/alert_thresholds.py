"""The figures behind each health-alert threshold in cnnlab/alerts.py, from real runs.

Each case is trained through the lab's own `execute_run` over a few seeds, and for every
run the figures the alerts compare with their thresholds are printed beside the alerts
that fired:
  peak      the largest finite batch loss over the start (the first batch's loss, or
            ln(classes) if larger): LOSS_EXPLOSION;
  train     the last epoch's training accuracy, and its skill (0 at chance, 1 perfect):
            CHANCE_SKILL, TRAINED_SKILL;
  val       the last epoch's validation accuracy and its skill: VALIDATION_CHANCE_SKILL;
  gap       training minus validation accuracy, the mean of the last two epochs:
            OVERFITTING_GAP, OVERFITTING_LARGE_GAP;
  dead      the largest fraction of a ReLU layer's units that never fire, last epoch:
            DEAD_FRACTION;
  ratio     the first layer's gradient over the last layer's, median of the last
            WINDOW recorded steps: VANISHING_RATIO, EXPLODING_RATIO.

Usage: python benchmarks/alert_thresholds.py [--cases NAME,NAME] [--seeds 0,1,2] [--quick]
(all cases with three seeds: about 15 minutes on 2 CPU cores; --quick: the case "adam-1",
one seed, seconds.)
The last line printed is one JSON object. Keys of the last line: `seeds`, `runs` (one object
per run: `case`, `seed`, `status`, `alerts`, and the figures above).
Target: each case fires the alerts its comment in CASES names, and the healthy cases none.
"""

from __future__ import annotations

import argparse
import json

from _lab_runs import seeds_argument, train

# Tiny runs: digits at 16 pixels, 480 training images, 15 steps an epoch.
TINY = {"image_size": 16, "train_size": 480, "epochs": 3}
CASES = {
    # Healthy: no alert expected.
    "default": {},
    "default-batch-norm": {"tricks.batch_norm": True},
    "sgd-0.1": {"optimizer": "sgd", "learning_rate": 0.1},
    "sgd-0.1-batch-norm": {"optimizer": "sgd", "learning_rate": 0.1, "tricks.batch_norm": True,
                           "epochs": 2},
    "shapes": {"dataset": "shapes"},
    # The learning rate far too high: the loss explodes, or training stalls with dead ReLUs.
    "adam-1": {**TINY, "epochs": 1, "learning_rate": 1.0},
    "adam-0.03": {"learning_rate": 0.03},
    "adam-0.01": {"learning_rate": 0.01, "epochs": 3},
    "adam-0.01-tiny": {**TINY, "learning_rate": 0.01},
    "sgd-1": {"optimizer": "sgd", "learning_rate": 1.0},
    "sgd-0.3-batch-norm": {"optimizer": "sgd", "learning_rate": 0.3, "tricks.batch_norm": True},
    "sgd-100": {**TINY, "epochs": 1, "optimizer": "sgd", "learning_rate": 100.0},
    # Dead ReLUs in a network that still learns.
    "adam-0.005-batch-norm": {"learning_rate": 0.005, "tricks.batch_norm": True, "epochs": 2},
    # Gradients: vanishing in deep sigmoid and plain networks (a stall at chance that is not
    # the learning rate's), exploding in deep tanh networks with N(0, 1) weights.
    "deep-sigmoid-normal": {**TINY, "architecture": "deep_plain", "epochs": 2,
                            "tricks.activation": "sigmoid",
                            "tricks.initializer": "standard_normal"},
    "plain20": {**TINY, "epochs": 1, "architecture": "plain20"},
    "deep-tanh-glorot": {**TINY, "architecture": "deep_plain", "tricks.activation": "tanh"},
    "deep-tanh-normal": {"architecture": "deep_plain", "tricks.activation": "tanh",
                         "tricks.initializer": "standard_normal"},
    "plain20-tanh-normal": {**TINY, "train_size": 320, "epochs": 1, "architecture": "plain20",
                            "tricks.activation": "tanh",
                            "tricks.initializer": "standard_normal"},
    # Batch norm's moving statistics, and overfitting.
    "batch-norm-0.99-tiny": {**TINY, "tricks.batch_norm": True,
                             "tricks.batch_norm_momentum": 0.99},
    "digits-10-images": {**TINY, "train_size": 10, "batch_size": 2, "epochs": 15},
}


def line(name: str, run: dict) -> str:
    chance = run["chance"] or 0.0
    skill = lambda value: (value - chance) / (1 - chance)  # noqa: E731
    train_acc = run["accuracy"][-1] if run["accuracy"] else None
    val = run["val_accuracy"][-1] if run["val_accuracy"] else None
    gaps = [a - v for a, v in zip(run["accuracy"], run["val_accuracy"])][-2:]
    dead = run["dead_fraction_by_epoch"][-1] if run["dead_fraction_by_epoch"] else None
    parts = [
        f"{name:<32} seed {run['seed']}", f"{run['status']:<9}",
        f"peak {run['peak_loss_over_start']:.3g}" if run["peak_loss_over_start"] else "peak -",
        f"train {train_acc:.3f} ({skill(train_acc):+.2f})" if train_acc is not None else "train -",
        f"val {val:.3f} ({skill(val):+.2f})" if val is not None else "val -",
        f"gap {sum(gaps) / len(gaps):+.3f}" if gaps else "gap -",
        f"dead {dead:.2f}" if dead is not None else "dead -",
        f"ratio {run['first_to_last_gradient']:.3g}" if run["first_to_last_gradient"] is not None
        else "ratio -",
        f"alerts {run['alerts']}",
    ]
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seeds", type=seeds_argument, default=seeds_argument("0,1,2"))
    parser.add_argument("--quick", action="store_true", help='the case "adam-1", seed 0')
    args = parser.parse_args()
    if args.quick:
        args.cases, args.seeds = "adam-1", [0]
    runs = []
    for name in args.cases.split(","):
        for seed in args.seeds:
            run = train(CASES[name], seed)
            runs.append({"case": name, **run})
            print(line(name, run), flush=True)
    print(json.dumps({"seeds": args.seeds, "runs": runs}))


if __name__ == "__main__":
    main()
