"""What the Inspect page costs, and whether its Grad-CAM points at the object.

1. Warm time of one image's whole inspection: the top-5 prediction, every feature map
   (all layers with a spatial output, one sub-model), Grad-CAM at the default layer and
   vanilla saliency; no cache. For the small convnet at 32 px and for MobileNetV2 at
   224 px, random weights (the time does not depend on them). Median of `--repeats`.
2. Training throughput of a run (in its worker process, as the app trains) while this
   process inspects a new image every `--pace` seconds (a student clicking through
   images; each one misses the cache), against the same run with no inspection.
   Images/s are taken from the run's stored per-batch rows, epochs 2 and on.
3. Grad-CAM on the shapes data set: the small convnet trained on 32 px shapes; the mean
   share of Grad-CAM mass inside each test image's shape box, at the default layer and at
   the last conv block, against a uniform map's (the box's area share).

4. What recording the weight distributions costs a run (cnnlab.training.distributions):
   the callback's work at one epoch end (histograms of every weight, the probe batch's
   gradients, the file written) for the default experiment's model.

Keys of the last line (one JSON object): inspect_small_ms, inspect_224_ms,
inspect_training_ratio (targets 300 ms, 2000 ms, >= 0.8), training_images_per_s_alone,
training_images_per_s_inspected, inspect_pace_s, gradcam_inside,
gradcam_inside_last_block, gradcam_uniform (target: inside > 0.6, the issue's), gradcam_test_accuracy,
distributions_epoch_ms.

Usage: python benchmarks/inspection.py [--repeats 5] [--pace 1.0]
       python benchmarks/inspection.py --quick   (seconds: 16 and 64 px, 1 repeat, two tiny
           runs in a thread, a few shapes; checks that it runs)
"""

from __future__ import annotations

import sys
from pathlib import Path

import argparse
import json
import os
import tempfile
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnlab.config import ExperimentConfig  # noqa: E402
from cnnlab.inspect import feature_maps, grad_cam, inspectable_layers, predict_top_k, saliency  # noqa: E402
from cnnlab.models import build_model  # noqa: E402


def inspect_once(model, image) -> None:
    """Everything the page computes for a new image (its Grad-CAM and saliency tab open)."""
    predict_top_k(model, image, 5)
    feature_maps(model, image, inspectable_layers(model))
    grad_cam(model, image)
    saliency(model, image)


def warm_ms(model, side: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (repeats + 1, side, side, 3)).astype("float32")
    inspect_once(model, images[0])  # builds the sub-models and traces: not timed
    times = []
    for image in images[1:]:
        start = time.perf_counter()
        inspect_once(model, image)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def run_throughput(store, manager, config: ExperimentConfig) -> float:
    """Images/s of one run from the end of its first epoch to the end of its last (each
    epoch's rows are written when it ends; the first epoch pays for tracing)."""
    run_id = manager.submit(config)
    record = manager.wait(run_id, timeout=1800)
    assert record.status == "completed", record.error
    ends = {row.epoch: row.time for row in store.metrics(run_id, names=["loss"])}
    return (config.epochs - 1) * config.train_size / (ends[config.epochs] - ends[1])


def training_ratio(config: ExperimentConfig, pace: float, side: int, *,
                   quick: bool = False) -> tuple[float, float]:
    """(images/s alone, images/s while this process inspects a new image every `pace` s).

    `quick` trains in a thread of this process and skips the warm-up run: no figure."""
    from cnnlab.store import RunStore
    from cnnlab.training import JobManager

    keras.utils.set_random_seed(0)
    model = build_model("small_convnet", (side, side, 3), 10)
    inspect_once(model, np.zeros((side, side, 3), "float32"))
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        manager = JobManager(store, max_concurrent=1, isolation="thread" if quick else "process",
                             prestart=0 if quick else 1)
        try:
            if not quick:
                run_throughput(store, manager, config)  # the worker's first run pays its start-up
            alone = run_throughput(store, manager, config)
            stop = threading.Event()

            def student():
                rng = np.random.default_rng(1)
                while not stop.is_set():
                    inspect_once(model, rng.uniform(0, 1, (side, side, 3)).astype("float32"))
                    stop.wait(pace)

            thread = threading.Thread(target=student, daemon=True)
            thread.start()
            try:
                inspected = run_throughput(store, manager, config)
            finally:
                stop.set()
                thread.join()
        finally:
            manager.shutdown(timeout=60)
            store.close()
    return alone, inspected


def shapes_grad_cam(side: int, count: int, epochs: int) -> dict:
    from cnnlab.data.shapes import make_shapes, shape_boxes
    from cnnlab.inspect.localization import grad_cam_localization
    from cnnlab.inspect.views import block_output, conv_layers

    keras.utils.set_random_seed(0)
    x, y = make_shapes(count, side, 1)
    x_test, y_test = make_shapes(200, side, 2)
    boxes = shape_boxes(200, side, 2)
    model = build_model("small_convnet", (side, side, 3), 8)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    inside, uniform = grad_cam_localization(model, x_test, boxes)
    last = block_output(model, conv_layers(model)[-1])
    inside_last, _ = grad_cam_localization(model, x_test, boxes, layer_name=last)
    return {"gradcam_inside": round(inside, 3), "gradcam_inside_last_block": round(inside_last, 3),
            "gradcam_uniform": round(uniform, 3), "gradcam_test_accuracy": round(float(accuracy), 3)}


def distributions_epoch_ms(repeats: int) -> float:
    """The distribution callback's time at one epoch end, default experiment's model."""
    from cnnlab.data import load_dataset
    from cnnlab.store import RunStore
    from cnnlab.training.distributions import DistributionCallback

    config = ExperimentConfig()
    data = load_dataset(config.dataset, image_size=config.image_size)
    model = build_model(config.architecture, data.input_shape, data.num_classes)
    labels = keras.utils.to_categorical(data.y_train[:32], data.num_classes)
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        run_id = store.create_run(config.to_dict())
        callback = DistributionCallback(store, run_id, probe=(data.x_train[:32], labels))
        callback.set_model(model)
        times = []
        for epoch in range(repeats + 1):
            start = time.perf_counter()
            callback.on_epoch_end(epoch)
            times.append(time.perf_counter() - start)
        store.close()
    return 1000 * float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    small_side, large_side = (16, 64) if args.quick else (32, 224)

    keras.utils.set_random_seed(0)
    small = build_model("small_convnet", (small_side, small_side, 3), 10)
    small_ms = warm_ms(small, small_side, repeats)
    print(f"small convnet at {small_side} px: {small_ms:.0f} ms per image (target 300)", flush=True)
    large = keras.applications.MobileNetV2(input_shape=(large_side, large_side, 3), weights=None)
    large_ms = warm_ms(large, large_side, repeats)
    print(f"MobileNetV2 at {large_side} px: {large_ms:.0f} ms per image (target 2000)", flush=True)

    config = ExperimentConfig(dataset="digits", image_size=16 if args.quick else 32,
                              train_size=64 if args.quick else 1024,
                              epochs=2 if args.quick else 4, batch_size=32,
                              validation_fraction=0.1)
    alone, inspected = training_ratio(config, args.pace, small_side, quick=args.quick)
    ratio = inspected / alone
    print(f"training {alone:.0f} images/s alone, {inspected:.0f} while inspecting an image "
          f"every {args.pace:g} s: ratio {ratio:.2f} (target >= 0.8)", flush=True)

    cam = shapes_grad_cam(16, 64, 1) if args.quick else shapes_grad_cam(32, 3000, 8)
    print(f"Grad-CAM on shapes: {cam}", flush=True)
    distributions_ms = distributions_epoch_ms(repeats)
    print(f"recording the weight distributions: {distributions_ms:.0f} ms an epoch", flush=True)
    print(json.dumps({"inspect_small_ms": round(small_ms, 1), "inspect_224_ms": round(large_ms, 1),
                      "inspect_training_ratio": round(ratio, 3),
                      "training_images_per_s_alone": round(alone, 1),
                      "training_images_per_s_inspected": round(inspected, 1),
                      "inspect_pace_s": args.pace, **cam,
                      "distributions_epoch_ms": round(distributions_ms, 1)}))


if __name__ == "__main__":
    main()
