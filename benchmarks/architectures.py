"""What each architecture costs: parameters, multiply-adds, training throughput, efficiency.

Every registered architecture of the lab's own (the pretrained keras.applications backbones
are left out) is built at its default size for the `shapes` data set (32x32x3, 8 classes,
512 training images) with the default tricks, compiled as the lab compiles (Adam, sparse
categorical cross-entropy, accuracy), and trained with `model.fit` at batch 32.

Figures:
  params        `model.count_params()`.
  macs          multiply-adds per image of one forward pass, counted from the layers by
                the lab's own `cnnlab.summary.summarize` (the figure the Train page shows):
                Conv2D out_h * out_w * k_h * k_w * (in_channels / groups) * filters;
                DepthwiseConv2D out_h * out_w * k_h * k_w * in_channels * depth_multiplier;
                Dense in_features * units (times the positions, for a Dense applied to
                maps). Biases, batch normalization, activations, pooling, additions and
                concatenations are not counted: a few percent of the work at most.
  images/s      training throughput: one `fit` of 2 batches to trace the train function,
                then `--batches` batches timed, best of `--repeats`.
  GFLOP/s       2 * macs * 3 * images/s / 1e9: two FLOPs per multiply-add, and a training
                step costs about three forward passes (forward, gradient with respect to
                the inputs, gradient with respect to the weights).
  fraction      GFLOP/s over the ceiling: the best GFLOP/s that bare Keras reaches, timed
                the same way, training one Conv2D layer (3x3, batch 32, mean squared error)
                with the same multiply-adds in three shapes: 64 -> 64 filters on 64x64
                maps, 128 -> 128 on 32x32 and 256 -> 256 on 16x16 (the first is the
                slowest: moving its 1 MB images costs as much as the arithmetic). That
                layer's input is the model's input, so TensorFlow computes no input
                gradient for it: its step is two forward passes, not three, and the
                ceiling counts 2 * macs * 2 * images/s. (The first layer of every network
                has the same exemption; its share of the work is small, so the 3x rule
                stands there.)

Depthwise convolutions, small maps and many small layers run far below the ceiling on a
CPU: the fraction shows how much of the hardware each design can use, next to how much
work it needs (macs).

Usage: python benchmarks/architectures.py [--batches 6] [--repeats 3] [--only resnet20,vgg16]
The last line printed is one JSON object with the figures.
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


def images_per_second(model, x, y, *, batches: int, repeats: int) -> float:
    """Training images per second of `model.fit` at batch 32, after a tracing warm-up."""
    size = batches * BATCH_SIZE
    fit = dict(batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    model.fit(x[: 2 * BATCH_SIZE], y[: 2 * BATCH_SIZE], **fit)  # traces the train function
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x[:size], y[:size], **fit)
        best = min(best, time.perf_counter() - start)
    return size / best


def gflops(macs: int, images_per_s: float) -> float:
    """Achieved training GFLOP/s: 2 FLOPs per multiply-add, 3 forward passes per step."""
    return 2 * macs * 3 * images_per_s / 1e9


def ceiling(batches: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of bare Keras training one large Conv2D layer, for each of `CEILING_SHAPES`.

    Two forward passes per step, not three: TensorFlow computes no gradient with respect
    to a model's input (see the module docstring).
    """
    import keras
    import numpy as np

    from cnnlab.summary import summarize

    results = {}
    for side, filters in CEILING_SHAPES:
        keras.utils.set_random_seed(SEED)
        shape = (side, side, filters)
        inputs = keras.Input(shape=shape)
        outputs = keras.layers.Conv2D(filters, 3, padding="same")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        rng = np.random.default_rng(SEED)
        x = rng.standard_normal((batches * BATCH_SIZE, *shape), dtype=np.float32)
        y = rng.standard_normal((batches * BATCH_SIZE, *shape), dtype=np.float32)
        rate = images_per_second(model, x, y, batches=batches, repeats=repeats)
        macs = summarize(model).macs
        results[f"{filters}->{filters} 3x3 on {side}x{side}"] = 2 * macs * 2 * rate / 1e9
    return results


def measure(name: str, data, *, batches: int, repeats: int) -> dict:
    """Parameters, multiply-adds and training throughput of one registered architecture."""
    import keras

    from cnnlab.models import build_model
    from cnnlab.summary import summarize

    keras.utils.set_random_seed(SEED)
    model = build_model(name, data.input_shape, data.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    macs = summarize(model).macs
    rate = images_per_second(model, data.x_train, data.y_train, batches=batches, repeats=repeats)
    return {"params": model.count_params(), "macs": macs, "images_per_s": rate}


def own_architectures() -> list[str]:
    """The registered architectures built by the lab itself (no pretrained backbones)."""
    from cnnlab.models import ARCHITECTURES

    return [
        name for name, info in ARCHITECTURES.items()
        if not info.builder.startswith("cnnlab.models.pretrained:")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="timed batches per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits; the best counts")
    parser.add_argument("--only", default="", help="comma-separated architecture names")
    args = parser.parse_args()

    from cnnlab.data import load_dataset
    from cnnlab.training.device import configure_tensorflow

    device = configure_tensorflow()  # the lab's thread pools, as a run gets them
    names = [name for name in args.only.split(",") if name] or own_architectures()
    data = load_dataset("shapes", train_size=max(512, args.batches * BATCH_SIZE))
    print(f"device: {device}; shapes {data.input_shape}, {data.num_classes} classes; "
          f"batch {BATCH_SIZE}, {args.batches} timed batches, best of {args.repeats}", flush=True)
    ceilings = ceiling(args.batches, args.repeats)
    top = max(ceilings.values())
    print("ceiling, one Conv2D layer: " + ", ".join(
        f"{shape} {value:.1f}" for shape, value in ceilings.items()) + f" GFLOP/s; best {top:.1f}",
        flush=True)

    header = f"{'architecture':20s} {'params':>12s} {'MMACs':>9s} {'images/s':>9s} {'GFLOP/s':>8s} {'fraction':>8s}"
    print(header)
    print("-" * len(header))
    families = {}
    for name in names:
        row = measure(name, data, batches=args.batches, repeats=args.repeats)
        achieved = gflops(row["macs"], row["images_per_s"])
        row["gflops_fraction"] = achieved / top
        families[name] = row
        print(f"{name:20s} {row['params']:>12,} {row['macs'] / 1e6:>9.1f} "
              f"{row['images_per_s']:>9.1f} {achieved:>8.2f} {row['gflops_fraction']:>8.3f}",
              flush=True)
    print(json.dumps({"families": families, "ceiling_gflops": top, "ceilings": ceilings}))


if __name__ == "__main__":
    main()
