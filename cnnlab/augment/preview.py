"""What the Augment page shows of the pipeline: a grid of augmented versions, a mixed batch
with its soft labels, the pipeline's cost per batch, and the pipeline as JSON.

Every picture is drawn by the pipeline training uses (`cnnlab.augment.pipeline`), built
afresh from a seed, so the same seed gives the same grid.
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import tensorflow as tf
from keras import ops

from cnnlab.augment.pipeline import (
    build_augmenter,
    build_mixer,
    check_arrays,
    check_augmentation,
    check_input_shape,
)
from cnnlab.config import AugmentationConfig, from_dict


def preview_grid(image: np.ndarray, augmentation: AugmentationConfig, *, count: int = 9,
                 seed: int = 0, training_side: int | None = None) -> np.ndarray:
    """`count` augmented versions of one (H, W, C) image in [0, 1], as (count, H, W, C) float32.

    Drawn by the very `build_augmenter` pipeline training uses, built afresh from `seed`, so
    the same seed gives the same grid. With no per-image transform on, the copies are equal.
    `training_side`: the side training sees, for a preview at another size (a photo at
    `preview_side`); see `build_augmenter`.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 3:
        raise ValueError(f"Invalid `image`. Expected one image of shape (H, W, C). Received: shape {image.shape}.")
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"Invalid `count`. Expected an integer >= 1. Received: {count!r}.")
    batch = np.repeat(image[None], count, axis=0)
    augmenter = build_augmenter(augmentation, image.shape, seed=seed, training_side=training_side)
    if augmenter is None:
        return batch
    return np.asarray(augmenter(batch, training=True), np.float32)


# A photo is previewed at its own detail, within these sides in pixels: below 128 px a
# transform is hard to see on a projector (a 32 px photo is blocks), above 256 px the grid
# costs more than it shows.
PREVIEW_MIN_SIDE, PREVIEW_MAX_SIDE = 128, 256


def preview_side(height: int, width: int) -> int:
    """The side a photo of `height` x `width` pixels is previewed at: its own shorter side,
    brought within [PREVIEW_MIN_SIDE, PREVIEW_MAX_SIDE]."""
    return int(min(max(min(int(height), int(width)), PREVIEW_MIN_SIDE), PREVIEW_MAX_SIDE))


def preview_mix(images: np.ndarray, labels, augmentation: AugmentationConfig, *, num_classes: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One training batch as the pipeline makes it: augmented, then MixUp/CutMix with soft labels.

    Returns (mixed images (N, H, W, C), mixed one-hot labels (N, num_classes)), so the page
    can write "0.62 cat + 0.38 dog" under each image.
    """
    images = np.asarray(images, np.float32)
    check_arrays(images, labels, num_classes, 1)
    augmenter = build_augmenter(augmentation, images.shape[1:], seed=seed)
    if augmenter is not None:
        images = augmenter(images, training=True)
    onehot = ops.one_hot(np.asarray(labels, np.int32), num_classes)
    mixer = build_mixer(augmentation, seed=seed + 1)
    if mixer is not None:
        mixed = mixer({"images": images, "labels": onehot}, training=True)
        images, onehot = mixed["images"], mixed["labels"]
    return np.asarray(images, np.float32), np.asarray(onehot, np.float32)


def mix_caption(label_row, class_names, *, threshold: float = 0.005) -> str:
    """A soft label as words, largest weight first: "0.62 cat + 0.38 dog"."""
    order = np.argsort(-np.asarray(label_row), kind="stable")
    parts = [f"{label_row[i]:.2f} {class_names[i]}" for i in order if label_row[i] > threshold]
    return " + ".join(parts)


def augmentation_to_json(augmentation: AugmentationConfig) -> str:
    """The config as JSON, the same fields an ExperimentConfig stores under "augmentation"."""
    return json.dumps(dataclasses.asdict(check_augmentation(augmentation)), indent=2, sort_keys=True)


def augmentation_from_json(text: str) -> AugmentationConfig:
    """An AugmentationConfig from JSON written by `augmentation_to_json`, validated."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(
            "Could not parse the augmentation config. Expected a JSON object such as "
            f'{{"rotation_range": 15, "horizontal_flip": true}}. Received invalid JSON: {error}. '
            "Fix the syntax at that position."
        ) from None
    return from_dict(AugmentationConfig, data)


def pipeline_cost_ms(augmentation: AugmentationConfig, input_shape, *, batch_size: int = 32,
                     repeats: int = 5) -> float:
    """Milliseconds the augmentation takes per batch, compiled as in tf.data, after warm-up.

    Why compiled: the training pipeline runs the layers as a traced graph, which is far
    faster than calling them eagerly; timing eager calls would overstate the cost. Returns
    the median of `repeats` timed batches; 0.0 when nothing is switched on.
    """
    input_shape = check_input_shape(input_shape)
    augmenter = build_augmenter(augmentation, input_shape, seed=0)
    mixer = build_mixer(augmentation, seed=1)
    if augmenter is None and mixer is None:
        return 0.0

    @tf.function
    def step(images, labels):
        if augmenter is not None:
            images = augmenter(images, training=True)
        if mixer is not None:
            images = mixer({"images": images, "labels": labels}, training=True)["images"]
        return images

    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch_size, *input_shape), dtype=np.float32))
    labels = tf.one_hot(rng.integers(0, 10, batch_size), 10)
    step(images, labels).numpy()  # traces
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        step(images, labels).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)
