"""The augmentation pipeline: Keras preprocessing layers built from an AugmentationConfig.

Why one builder: the training input pipeline, the previewer's grid and cost estimate
(`cnnlab.augment.preview`) and the exported Keras code (`cnnlab.augment.code`) all come
from `layer_specs`, so what a student sees on the Augment page is exactly what the network
is fed, and the code shown is exactly what runs.

Placement: augmentation runs in the tf.data pipeline (`make_training_dataset`), on whole
batches (so every layer vectorizes), in a map followed by prefetch, and not as layers
inside the model. The choice rests on design: MixUp and CutMix need the labels, which a
model's layers never see; validation and test data bypass augmentation by construction; a
saved model carries no training-only layers; and the Augment page shows the very pipeline
training runs. On the development machine, a shared 2-core CPU, no core is idle for tf.data
to overlap with, so the augmentation's own cost per batch, against about 19 ms of training,
bounds the throughput either way; on a GPU, or more cores, the map runs on otherwise idle CPU.

Speed: flips, rotation, shear, shift and zoom are one layer, `RandomAffine`, which composes
them into one matrix per image and resamples once. `benchmarks/augmentation.py` (the small
convnet on 2,000 `shapes` images, 32 px, rotation, shift, zoom, flip and contrast) measured
the augmentation alone at 1.7 ms a batch of 32 (2.2 to 4 ms while other jobs loaded the
machine, 6.7 at the worst), where the five Keras layers it replaced (RandomFlip, RandomRotation, our
RandomAngleShear, RandomTranslation, RandomZoom) took 4.3 to 7 ms. Throughput with
augmentation in tf.data, as a fraction of none, best of five: 0.98, 0.97, 0.90 and 0.87
in four runs, 0.76, 0.73, 0.73 and 0.68 in four others, with other jobs loading the
machine (load average 2 to 10; the old pipeline, in a run beside them: 0.73). Best-of
figures there scatter by about 20% whatever the pipeline; one epoch each way back to back,
the median of 25 such ratios was 0.87 to 0.91 in three measurements. Resampling once also blurs less and
fills the border from the image itself, as ImageDataGenerator did, where each of the
separate layers filled from the previous one's fill.

Three transforms are small layers of our own, each for a stated reason: `RandomAffine` (speed,
above; its shear is an angle about the centre, as ImageDataGenerator's was, where
keras.layers.RandomShear caps its factor at 1, i.e. 45 degrees, and shears about the
top-left corner, which also shifts the picture; `RandomAngleShear`, the pipeline's shear
before, stays so that saved models and exported code load), `ChannelShift` (Keras has no
such layer) and `RandomPadCrop` (keras.layers.RandomCrop cuts every image of a batch at the
same place, and at inference would leave ZeroPadding2D's padded images at the padded size);
it stays a layer of its own, after the others, since it pads the transformed picture.
CutMix is ours too: keras.layers.CutMix samples alpha itself, caps it at 1, and weights the
labels by the continuous box area rather than by the pixels actually pasted. MixUp is
keras.layers.MixUp.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cnnlab.augment.layers import CUSTOM_LAYERS, VALUE_RANGE, MixBatch, layer_seeds
from cnnlab.config import AugmentationConfig

# -- the pipeline ----------------------------------------------------------------------------

# The config's fields that RandomAffine takes, under the same names, in the order it composes them.
GEOMETRY = ("horizontal_flip", "vertical_flip", "rotation_range", "shear_range", "width_shift_range",
            "height_shift_range", "zoom_range")


def layer_specs(augmentation: AugmentationConfig) -> list[tuple[str, dict]]:
    """The per-image layers, in order, as (class name, constructor arguments without seed).

    Geometry first, colour last, as ImageDataGenerator ordered them; colour last also keeps
    the filled-in border pixels subject to the same brightness as the rest. The random crop
    stays a layer of its own after the rest of the geometry: it pads the transformed image.
    """
    a = augmentation
    fill = {"fill_mode": a.fill_mode}
    specs = []
    # Flips, rotation, shear, shift and zoom: one RandomAffine, which composes them into one
    # matrix and resamples each image once, where five Keras layers resampled it up to four
    # times. Only the transforms switched on are passed, so the exported code reads as the config.
    geometry = {field: getattr(a, field) for field in GEOMETRY if getattr(a, field)}
    if geometry:
        specs.append(("RandomAffine", {**geometry, **fill}))
    if a.crop_padding:
        specs.append(("RandomPadCrop", {"padding": a.crop_padding, **fill}))
    if a.brightness_range:
        specs.append(("RandomBrightness", {"factor": a.brightness_range, "value_range": VALUE_RANGE}))
    if a.contrast_range:
        specs.append(("RandomContrast", {"factor": a.contrast_range, "value_range": VALUE_RANGE}))
    if a.channel_shift_range:
        specs.append(("ChannelShift", {"factor": a.channel_shift_range}))
    if a.brightness_scaled:
        specs.append(("RandomBrightnessScale", {"lower": a.brightness_scale_low,
                                                "upper": a.brightness_scale_high}))
    # Noise last: on the picture as the network would otherwise see it.
    if a.noise_stddev:
        specs.append(("GaussianNoise", {"stddev": a.noise_stddev}))
    return specs


def check_input_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in shape):
        raise ValueError(
            "Invalid `input_shape`. Expected (height, width, channels), three positive integers, "
            f"e.g. (32, 32, 3). Received: input_shape={input_shape!r}."
        )
    return tuple(int(v) for v in shape)


def check_augmentation(augmentation) -> AugmentationConfig:
    if not isinstance(augmentation, AugmentationConfig):
        raise ValueError(  # noqa: TRY004 - Keras-style: a wrong argument is a ValueError here too
            "Invalid `augmentation`. Expected an AugmentationConfig (config.augmentation). "
            f"Received: {type(augmentation).__name__} {augmentation!r:.80}."
        )
    return augmentation


def build_augmenter(augmentation: AugmentationConfig, input_shape, *, seed: int,
                    training_side: int | None = None):
    """The per-image transforms as a keras.Sequential, or None when none is switched on.

    Why seeded: every random layer gets its own seed derived from `seed`, so a fresh
    augmenter built with the same seed draws the same transforms (a reproducible grid).
    The layers act only when called with training=True; at inference they pass images through.
    MixUp and CutMix act on labelled batches and are built by `build_mixer`.

    Args:
        augmentation: the transforms and their strengths.
        input_shape: (height, width, channels) of one image.
        seed: the seed the layers' seeds are drawn from.
        training_side: for a preview at another size than training's: the side training
            sees. The random crop's padding, the one setting in pixels, is then scaled to
            the preview (4 px of a 32 px image is 32 px of a 256 px one); rotation and
            shear are angles, shifts and zoom fractions, colour and mixing act on values.
            Default None: `input_shape` is the training size.
    """
    specs = layer_specs(check_augmentation(augmentation))
    input_shape = check_input_shape(input_shape)
    if not specs:
        return None
    if training_side is not None and training_side != input_shape[0]:
        scale = input_shape[0] / training_side
        specs = [(name, {**arguments, "padding": max(1, round(arguments["padding"] * scale))})
                 if name == "RandomPadCrop" else (name, arguments) for name, arguments in specs]
    seeds = layer_seeds(seed, len(specs))
    layers = [_layer_class(name)(**arguments, seed=s) for (name, arguments), s in zip(specs, seeds)]
    return keras.Sequential([keras.Input(shape=input_shape), *layers], name="augmentation")


def _layer_class(name: str):
    return CUSTOM_LAYERS.get(name) or getattr(keras.layers, name)


def build_mixer(augmentation: AugmentationConfig, *, seed: int):
    """The batch-level label mixing (MixUp and/or CutMix) as a layer, or None when both are off."""
    a = check_augmentation(augmentation)
    if not (a.mixup_alpha or a.cutmix_alpha):
        return None
    return MixBatch(mixup_alpha=a.mixup_alpha, cutmix_alpha=a.cutmix_alpha, seed=seed)


def check_arrays(x, y, num_classes, batch_size):
    if not isinstance(x, np.ndarray) or x.ndim != 4 or np.ndim(y) != 1 or len(x) != len(y) or not len(x):
        raise ValueError(
            "Invalid training arrays. Expected images of shape (N, H, W, C) and N integer labels "
            f"in a 1-D array, N > 0. Received: x.shape={np.shape(x)}, y.shape={np.shape(y)}."
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Invalid `batch_size`. Expected an integer >= 1. Received: {batch_size!r}.")
    y = np.asarray(y)
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1 or y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"Labels out of range. Expected class indices from 0 to num_classes - 1 = "
            f"{num_classes - 1 if isinstance(num_classes, int) else '?'}. Received: labels from "
            f"{y.min()} to {y.max()} with num_classes={num_classes!r}. Pass the data set's num_classes."
        )


def one_hot_batches(x, y, *, num_classes, batch_size, shuffle_seed=None):
    """Batches of (images, one-hot labels), gathered by index from tensors made once.

    Why indices: shuffling a range and gathering each batch keeps one copy of the images,
    where a shuffle buffer of images would hold a second one.
    """
    images = tf.convert_to_tensor(np.asarray(x, np.float32))
    labels = tf.convert_to_tensor(np.asarray(y), tf.int32)
    dataset = tf.data.Dataset.range(len(x))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).map(
        lambda index: (tf.gather(images, index), tf.one_hot(tf.gather(labels, index), num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def make_training_dataset(x, y, *, num_classes: int, batch_size: int,
                          augmentation: AugmentationConfig, seed: int, shuffle: bool = True):
    """The tf.data pipeline model.fit trains on: shuffled, augmented, mixed, one-hot, prefetched.

    Why here and only here: validation and test images must never be augmented, so the
    transforms live in the training pipeline alone (see the module docstring for why not in
    the model). Each epoch reshuffles from `seed`; each batch is gathered in a parallel map,
    augmented in an ordered one (so a seed repeats the run exactly), then MixUp/CutMix mix it
    with soft labels, which categorical cross-entropy takes as is; prefetch overlaps it all
    with training.

    Args:
        x: float32 images (N, H, W, C) in [0, 1].
        y: int class indices (N,).
        num_classes: length of the one-hot labels.
        batch_size: images per batch; the last batch may be smaller.
        augmentation: the transforms; a config with nothing on gives plain batches.
        seed: seeds the shuffle order and every random layer.
        shuffle: reshuffle every epoch. Defaults to True.
    """
    check_arrays(x, y, num_classes, batch_size)
    dataset = one_hot_batches(x, y, num_classes=num_classes, batch_size=batch_size,
                       shuffle_seed=seed if shuffle else None)
    augmenter = build_augmenter(augmentation, x.shape[1:], seed=seed)
    mixer = build_mixer(augmentation, seed=seed + 1)
    if augmenter is not None or mixer is not None:
        def transform(images, labels):
            if augmenter is not None:
                images = augmenter(images, training=True)
            if mixer is not None:
                mixed = mixer({"images": images, "labels": labels}, training=True)
                images, labels = mixed["images"], mixed["labels"]
            return images, labels

        # One call at a time, in order: the layers' seed generators are variables that each
        # call advances, and parallel calls would race for them, so the same seed would not
        # give the same augmented epoch twice. The map still runs beside the training step,
        # in tf.data's own thread, and each op inside it uses TensorFlow's thread pool.
        dataset = dataset.map(transform)
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(x, y, *, num_classes: int, batch_size: int):
    """Batches of (images, one-hot labels) for validation and testing: in order, never augmented."""
    check_arrays(x, y, num_classes, batch_size)
    return one_hot_batches(x, y, num_classes=num_classes, batch_size=batch_size).prefetch(tf.data.AUTOTUNE)
