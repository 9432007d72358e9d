"""What each architecture costs: parameters, multiply-adds, training throughput, efficiency.

Every registered architecture of the lab's own (the pretrained keras.applications backbones
are left out) is built and compiled as a run builds and compiles it, by the engine's own
code (`transfer.build_run_model`, `train_step.wrap`, `train_step.compile_for_training`):
the default experiment's tricks and optimizer (Adam), categorical cross-entropy on one-hot
labels, accuracy, and the lab's instrumented train step (per-layer norms every step; the
auxiliary heads' losses for `inception_aux`, whose two outputs a copy of the compile call
once failed on). It trains on the `shapes` data set (32x32x3, 8 classes) with `model.fit`
at batch 32.

Figures:
  params        `model.count_params()`.
  macs          multiply-adds per image of one forward pass, counted from the layers by
                the lab's own `cnnlab.models.summary.summarize` (the figure the Train page shows):
                Conv2D out_h * out_w * k_h * k_w * (in_channels / groups) * filters;
                DepthwiseConv2D out_h * out_w * k_h * k_w * in_channels * depth_multiplier;
                Dense in_features * units (times the positions, for a Dense applied to
                maps). Biases, batch normalization, activations, pooling, additions and
                concatenations are not counted: a few percent of the work at most.
  images/s      training throughput. One batch of real images, held in memory and repeated
                by tf.data, so the figure is the network's cost and not the input
                pipeline's (the same for every network, and for the ceiling, whose inputs
                are 40 times larger). For each network a `fit` of 2 steps traces the train
                function and a second one times a step, which sets how many steps make a
                timed fit last `--seconds` (at least 3). Then `--repeats` rounds go over
                all networks and the ceiling's layers, one timed fit each, and each one's
                fastest fit counts: other programs on a shared machine only ever slow a fit
                down, and taking turns spreads their interference over all networks.
  GFLOP/s       2 * macs * 3 * images/s / 1e9: two FLOPs per multiply-add, and a training
                step costs about three forward passes (forward, gradient with respect to
                the inputs, gradient with respect to the weights).
  fraction      GFLOP/s over the ceiling: the best GFLOP/s that bare Keras reaches, timed
                the same way, training one Conv2D layer (3x3, batch 32, mean squared error)
                of the same 151M multiply-adds in three shapes: 64 -> 64 filters on 64x64
                maps, 128 -> 128 on 32x32 and 256 -> 256 on 16x16. That layer's input is
                the model's input, so TensorFlow computes no input gradient for it: its
                step is two forward passes, not three, and the ceiling counts 2 * macs * 2
                * images/s. (The first layer of every network has the same exemption; its
                share of the work is small, so the 3x rule stands there.)

Depthwise convolutions, small maps and many small layers run far below the ceiling on a
CPU: the fraction shows how much of the hardware each design can use, next to how much
work it needs (macs).

Keys of the last line (one JSON object): `families` (architecture -> `params`, `macs`,
`images_per_s`, `gflops_fraction`), `ceiling_gflops` (the best ceiling) and `ceilings`
(shape -> GFLOP/s). Target: none to meet; the figures describe the architectures (the
README's table), and every registered architecture must build, compile and train here.

Usage: python benchmarks/architectures.py [--seconds 1.5] [--repeats 3] [--only resnet20,vgg16]
       python benchmarks/architectures.py --quick   (seconds: one round, lenet5 and
           inception_aux, one ceiling shape, the shortest fits; checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH_SIZE = 32
SEED = 0
# The ceiling's single convolutions: (side, filters), each with 151M multiply-adds.
CEILING_SHAPES = ((64, 64), (32, 128), (16, 256))
# The fewest steps a timed fit runs.
MIN_STEPS = 3
# --quick: the smallest network, and the one with two outputs (auxiliary classifier).
QUICK = {"seconds": 0.0, "repeats": 1, "only": "lenet5,inception_aux", "ceilings": 1}


def timed_fit(model, x, y, *, seconds: float):
    """Trace `model`'s train step on one batch of (x, y); return a function timing one fit.

    The function runs a fit of enough steps to last about `seconds` and returns its
    training images per second (method in the module docstring).
    """
    import tensorflow as tf

    batch = tf.data.Dataset.from_tensors((x[:BATCH_SIZE], y[:BATCH_SIZE])).repeat()

    def fit(steps: int) -> float:
        start = time.perf_counter()
        model.fit(batch, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        return time.perf_counter() - start

    fit(2)  # traces the train function
    steps = max(MIN_STEPS, math.ceil(seconds / fit(1)))
    return lambda: steps * BATCH_SIZE / fit(steps)


def gflops(macs: int, images_per_s: float) -> float:
    """Achieved training GFLOP/s: 2 FLOPs per multiply-add, 3 forward passes per step."""
    return 2 * macs * 3 * images_per_s / 1e9


def ceiling_layers(seconds: float, count: int = len(CEILING_SHAPES)):
    """For each of the first `count` `CEILING_SHAPES`: its label, multiply-adds and
    `timed_fit` function.

    Bare Keras training one large Conv2D layer: the practical ceiling of the machine.
    """
    import keras
    import numpy as np

    from cnnlab.models.summary import summarize

    for side, filters in CEILING_SHAPES[:count]:
        keras.utils.set_random_seed(SEED)
        shape = (side, side, filters)
        inputs = keras.Input(shape=shape)
        outputs = keras.layers.Conv2D(filters, 3, padding="same")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        rng = np.random.default_rng(SEED)
        x = rng.standard_normal((BATCH_SIZE, *shape), dtype=np.float32)
        y = rng.standard_normal((BATCH_SIZE, *shape), dtype=np.float32)
        label = f"{filters}->{filters} 3x3 on {side}x{side}"
        yield label, summarize(model).macs, timed_fit(model, x, y, seconds=seconds)


def architecture(name: str, data, *, seconds: float):
    """A registered architecture's parameters, multiply-adds and `timed_fit` function.

    Built, wrapped and compiled by the same calls as a run's (module docstring), so a
    network the lab can train is one this benchmark can time, and the other way round.
    """
    import keras

    from cnnlab.config import ExperimentConfig
    from cnnlab.models.summary import summarize
    from cnnlab.training.train_step import compile_for_training, wrap
    from cnnlab.training.transfer import build_run_model

    config = ExperimentConfig(dataset="shapes", architecture=name, seed=SEED)
    keras.utils.set_random_seed(SEED)
    built, _ = build_run_model(config, data, store=None)  # no transfer: no store needed
    model = wrap(built)
    compile_for_training(model, config)
    labels = keras.utils.to_categorical(data.y_train[:BATCH_SIZE], data.num_classes)
    run = timed_fit(model, data.x_train, labels, seconds=seconds)
    return model.count_params(), summarize(model).macs, run


def own_architectures() -> list[str]:
    """The registered architectures built by the lab itself (no pretrained backbones)."""
    from cnnlab.models import ARCHITECTURES

    return [
        name for name, info in ARCHITECTURES.items()
        if not info.builder.startswith("cnnlab.models.pretrained:")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of timed fits")
    parser.add_argument("--only", default="", help="comma-separated architecture names")
    parser.add_argument("--ceilings", type=int, default=len(CEILING_SHAPES),
                        choices=range(1, len(CEILING_SHAPES) + 1),
                        help="how many of the ceiling's layer shapes to time")
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:  # the quick values, unless given on the command line
        parser.set_defaults(**QUICK)
        args = parser.parse_args()

    from cnnlab.data import load_dataset
    from cnnlab.training.device import configure_tensorflow

    device = configure_tensorflow()  # the lab's thread pools, as a run gets them
    names = [name for name in args.only.split(",") if name] or own_architectures()
    data = load_dataset("shapes", train_size=512)
    print(f"device: {device}, {os.cpu_count()} cores; shapes {data.input_shape}, "
          f"{data.num_classes} classes; batch {BATCH_SIZE}; timed fits of >= {args.seconds} s, "
          f"best of {args.repeats} rounds", flush=True)

    # Build and trace everything first, then time in rounds (see the module docstring).
    ceilings = {label: (macs, run)
                for label, macs, run in ceiling_layers(args.seconds, args.ceilings)}
    families = {}
    for name in names:
        families[name] = architecture(name, data, seconds=args.seconds)
        print(f"traced {name}", file=sys.stderr, flush=True)
    runs = {label: run for label, (_, run) in ceilings.items()}
    runs.update({name: run for name, (_, _, run) in families.items()})
    best = dict.fromkeys(runs, 0.0)
    for round_ in range(args.repeats):
        for key, run in runs.items():
            best[key] = max(best[key], run())
        print(f"round {round_ + 1} done", file=sys.stderr, flush=True)

    ceiling_gflops = {
        label: 2 * macs * 2 * best[label] / 1e9 for label, (macs, _) in ceilings.items()
    }
    top = max(ceiling_gflops.values())
    print("ceiling, one Conv2D layer (GFLOP/s): " + ", ".join(
        f"{label} {value:.1f}" for label, value in ceiling_gflops.items()))
    header = (f"{'architecture':20s} {'params':>12s} {'MMACs':>8s} {'images/s':>9s} "
              f"{'GFLOP/s':>8s} {'fraction':>8s}")
    print(header)
    print("-" * len(header))
    results = {}
    for name, (params, macs, _) in families.items():
        achieved = gflops(macs, best[name])
        results[name] = {"params": params, "macs": macs, "images_per_s": best[name],
                         "gflops_fraction": achieved / top}
        print(f"{name:20s} {params:>12,} {macs / 1e6:>8.1f} {best[name]:>9.1f} "
              f"{achieved:>8.1f} {achieved / top:>8.2f}")
    print(json.dumps({"families": results, "ceiling_gflops": top, "ceilings": ceiling_gflops}))


if __name__ == "__main__":
    main()
