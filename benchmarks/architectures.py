"""What each architecture costs: parameters, multiply-adds, training throughput, efficiency.

Every registered architecture of the lab's own (the pretrained keras.applications backbones
are left out) is built at its default size for the `shapes` data set (32x32x3, 8 classes,
512 training images) with the default tricks, compiled as the lab compiles (Adam, sparse
categorical cross-entropy, accuracy), and trained with `model.fit` at batch 32.

Figures:
  params        `model.count_params()`.
  macs          multiply-adds per image of one forward pass, counted from the layers
                (`multiply_adds`): Conv2D out_h * out_w * k_h * k_w * (in_channels / groups)
                * filters; DepthwiseConv2D out_h * out_w * k_h * k_w * in_channels *
                depth_multiplier; Dense in_features * units (times the positions, for a
                Dense applied to maps). Biases, batch normalization, activations, pooling,
                additions and concatenations are not counted: they are a few percent of the
                work at most.
  images/s      training throughput: one `fit` of 2 batches to trace the train function,
                then `--batches` batches timed, best of `--repeats`.
  GFLOP/s       2 * macs * 3 * images/s / 1e9: two FLOPs per multiply-add, and a training
                step costs about three forward passes (forward, gradient with respect to
                the inputs, gradient with respect to the weights).
  fraction      GFLOP/s over the ceiling: the GFLOP/s that bare Keras reaches, timed the
                same way, training one Conv2D layer (64 -> 64 filters, 3x3, on 64x64 maps,
                batch 32, mean squared error), about the best a dense convolution does on
                this machine. Caveat: that layer's input is the model's input, so
                TensorFlow skips its input gradient and the "3 forward passes" rule
                overstates its work by up to 1.5x; the first layer of every real network
                has the same exemption, which matters little for them.

Depthwise convolutions, small maps and many small layers run far below the ceiling on a
CPU: the fraction shows how much of the hardware each design can use, next to how much
work it needs (macs).

Usage: python benchmarks/architectures.py [--batches 6] [--repeats 2] [--only resnet20,vgg16]
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
# The ceiling's single convolution.
CEILING_SIDE = 64
CEILING_FILTERS = 64


def multiply_adds(model) -> dict[str, int]:
    """Multiply-adds per image of each Conv2D, DepthwiseConv2D and Dense layer, by name.

    The rule is in the module docstring; layers of other kinds are absent from the result.
    """
    import keras

    counts = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, height, width, _ = layer.output.shape
            channels = layer.input.shape[-1]
            kernel = math.prod(layer.kernel_size)
            counts[layer.name] = height * width * kernel * channels * layer.depth_multiplier
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            channels = layer.input.shape[-1] // layer.groups
            counts[layer.name] = height * width * math.prod(layer.kernel_size) * channels * filters
        elif isinstance(layer, keras.layers.Dense):
            positions = math.prod(layer.input.shape[1:-1])
            counts[layer.name] = positions * layer.input.shape[-1] * layer.units
    return counts


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


def ceiling(batches: int, repeats: int) -> tuple[float, float]:
    """GFLOP/s and images/s of bare Keras training one large Conv2D layer."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(SEED)
    shape = (CEILING_SIDE, CEILING_SIDE, CEILING_FILTERS)
    inputs = keras.Input(shape=shape)
    outputs = keras.layers.Conv2D(CEILING_FILTERS, 3, padding="same")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((batches * BATCH_SIZE, *shape), dtype=np.float32)
    y = rng.standard_normal((batches * BATCH_SIZE, *shape), dtype=np.float32)
    rate = images_per_second(model, x, y, batches=batches, repeats=repeats)
    return gflops(sum(multiply_adds(model).values()), rate), rate


def measure(name: str, data, *, batches: int, repeats: int) -> dict:
    """Parameters, multiply-adds and training throughput of one registered architecture."""
    import keras

    from cnnlab.models import build_model

    keras.utils.set_random_seed(SEED)
    model = build_model(name, data.input_shape, data.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    macs = sum(multiply_adds(model).values())
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
    parser.add_argument("--repeats", type=int, default=2, help="timed fits; the best counts")
    parser.add_argument("--only", default="", help="comma-separated architecture names")
    args = parser.parse_args()

    from cnnlab.data import load_dataset
    from cnnlab.training.device import configure_tensorflow

    device = configure_tensorflow()  # the lab's thread pools, as a run gets them
    names = [name for name in args.only.split(",") if name] or own_architectures()
    data = load_dataset("shapes", train_size=max(512, args.batches * BATCH_SIZE))
    print(f"device: {device}; shapes {data.input_shape}, {data.num_classes} classes; "
          f"batch {BATCH_SIZE}, {args.batches} timed batches, best of {args.repeats}", flush=True)
    top, top_rate = ceiling(args.batches, args.repeats)
    print(f"ceiling: one Conv2D 64->64 3x3 on 64x64, {top_rate:.0f} images/s, "
          f"{top:.1f} GFLOP/s", flush=True)

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
    print(json.dumps({"families": families, "ceiling_gflops": top}))


if __name__ == "__main__":
    main()
