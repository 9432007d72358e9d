"""What the lab's instrumentation costs: bare model.fit against a run through the runner.

The runner's run carries everything the lab records: per-batch loss and learning rate,
per-layer gradient, weight and update norms every step, the validation predictions behind
the confusion matrix and the dead-ReLU probe every epoch, and the store writes. Since all
of it is always on, `ratio` (the spine's figure) and `ratio_full` (the insight issue's)
are the same measurement.

Both sides train the same model on the same data with the same batch size, side by side in
this one process, interleaved, best of five each (this machine's run-to-run noise is about 20%). Throughput is measured over epochs 2..N
(epoch 1 pays for tracing the train function, the same on both sides), validation included
on both sides. Also measured: the time from `submit` to the first stored batch metric for
the default experiment: the process's first run and the next one.

Keys of the last line (one JSON object): `ratio` (lab / bare images/s; target >= 0.95),
`ratio_full` (the same figure), `first_metric_s` (the process's first run),
`first_metric_warm_s` (the next), `bare_images_per_s`, `lab_images_per_s`.

Usage: python benchmarks/overhead.py [--epochs 6] [--repeats 5]
       python benchmarks/overhead.py --quick   (seconds: LeNet-5, 2 epochs of 64 digits at
           8 px, one try; checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlab.config import ExperimentConfig  # noqa: E402
from cnnlab.store import RunStore  # noqa: E402
from cnnlab.training import JobManager  # noqa: E402

# --quick: the smallest experiment that still times an epoch 2, one try.
QUICK = {"epochs": 2, "repeats": 1, "architecture": "lenet5", "train_size": 64, "image_size": 8}


def first_metric_seconds(manager: JobManager, config: ExperimentConfig) -> float:
    """Seconds from submit() to the first batch metric readable in the store."""
    start = time.perf_counter()
    run_id = manager.submit(config)
    while not manager.store.metrics(run_id, names=["batch/loss"]):
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    manager.stop(run_id)
    manager.wait(run_id)
    return elapsed


def bare_throughput(config: ExperimentConfig) -> float:
    """Images/s of plain keras.Model.fit, no callbacks, over epochs 2..N."""
    import keras

    from cnnlab.data import load_dataset
    from cnnlab.models import build_model

    data = load_dataset(config.dataset, image_size=config.image_size, train_size=config.train_size,
                        validation_fraction=config.validation_fraction, seed=config.seed)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.architecture, data.input_shape, data.num_classes, tricks=config.tricks)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = dict(batch_size=config.batch_size, validation_data=(data.x_val, data.y_val),
               shuffle=True, verbose=0)
    model.fit(data.x_train, data.y_train, epochs=1, **fit)  # traces, like the lab's epoch 1
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=config.epochs - 1, **fit)
    return (config.epochs - 1) * len(data.x_train) / (time.perf_counter() - start)


def lab_throughput(manager: JobManager, config: ExperimentConfig) -> float:
    """Images/s of a run through the job manager, from its own epoch timings, epochs 2..N."""
    run_id = manager.submit(config)
    record = manager.wait(run_id)
    assert record.status == "completed", record.error
    times = [row.value for row in manager.store.metrics(run_id, names=["epoch_time_s"])][1:]
    return (config.epochs - 1) * config.planned_train_count() / sum(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--architecture", default=None,
                        help="the architecture (default: the default experiment's)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images (default: the default experiment's)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="image side in pixels (default: the default experiment's)")
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
    config = ExperimentConfig(epochs=args.epochs, **experiment)
    with tempfile.TemporaryDirectory() as home:
        manager = JobManager(RunStore(home), max_concurrent=1)
        cold = first_metric_seconds(manager, ExperimentConfig())
        warm = first_metric_seconds(manager, ExperimentConfig())
        bare, lab = [], []
        for _ in range(args.repeats):
            bare.append(bare_throughput(config))
            lab.append(lab_throughput(manager, config))
        manager.shutdown()

    best_bare, best_lab = max(bare), max(lab)
    ratio = best_lab / best_bare
    print(f"experiment: {config.summary()}, {config.planned_train_count()} training images, "
          f"epochs 2..{config.epochs} timed, best of {args.repeats}")
    print(f"{'side':<28} {'images/s (each try)':<32} {'best':>8}")
    print(f"{'(a) bare model.fit':<28} {', '.join(f'{v:.0f}' for v in bare):<32} {best_bare:8.0f}")
    print(f"{'(b) lab runner + callbacks':<28} {', '.join(f'{v:.0f}' for v in lab):<32} {best_lab:8.0f}")
    print(f"ratio b/a: {ratio:.3f} (target >= 0.95), all insight recording on")
    print(f"submit -> first stored batch metric: {cold:.2f} s for the process's first run "
          f"(TensorFlow's first trace), {warm:.2f} s for the next")
    print(json.dumps({"ratio": round(ratio, 4), "ratio_full": round(ratio, 4), "first_metric_s": round(cold, 3),
                      "first_metric_warm_s": round(warm, 3),
                      "bare_images_per_s": round(best_bare, 1), "lab_images_per_s": round(best_lab, 1)}))


if __name__ == "__main__":
    main()
