"""Augmentation layers Keras does not have in the form the lab's config needs.

`RandomAngleShear` (keras.layers.RandomShear caps its factor at 1, i.e. 45 degrees, and
shears about the top-left corner, which also shifts the picture), `ChannelShift` (Keras
has no such layer), `RandomPadCrop` (keras.layers.RandomCrop cuts every image of a batch at
the same place), `CutMix` (Keras' samples alpha itself, caps it at 1 and weights labels by
the continuous box area rather than the pixels actually pasted) and `MixBatch`, which
applies MixUp or CutMix to each image of a batch.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

# The lab's images are float32 in [0, 1]; colour layers must know it (Keras assumes 0-255).
VALUE_RANGE = (0.0, 1.0)


def _seeds(seed, count: int) -> list[int]:
    """`count` decorrelated 31-bit seeds from one: layers seeded alike would draw alike."""
    if seed is None:
        return [None] * count
    return [int(s) >> 1 for s in np.random.SeedSequence(seed).generate_state(count)]


# -- layers Keras does not have in the form the config needs -----------------------------
# Registered, so a model that takes them in (as students may do with the exported code)
# saves and loads.


@keras.saving.register_keras_serializable(package="cnnlab")
class RandomPadCrop(keras.layers.Layer):
    """Pad each image by `padding` pixels on every side, then crop back to its size at random.

    The CIFAR recipe (He et al., 2016). That equals a random whole-pixel shift of up to
    `padding` pixels per axis, so it is computed as one integer translation with nearest-
    pixel sampling (exact, no blur), the padding filled as `fill_mode` says. At inference
    it passes images through unchanged.
    """

    def __init__(self, padding, fill_mode="constant", fill_value=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training or self.padding == 0:
            return images
        batch = ops.shape(images)[0]
        offsets = ops.cast(keras.random.randint((batch, 2), -self.padding, self.padding + 1,
                                                seed=self.generator), "float32")
        ones, zeros = ops.ones((batch,)), ops.zeros((batch,))
        # Output pixel (x, y) samples input (x + dx, y + dy).
        transform = ops.stack([ones, zeros, offsets[:, 0], zeros, ones, offsets[:, 1], zeros, zeros],
                              axis=1)
        return ops.image.affine_transform(images, transform, interpolation="nearest",
                                          fill_mode=self.fill_mode, fill_value=self.fill_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cnnlab")
class RandomAngleShear(keras.layers.Layer):
    """Shear each image along x by an angle drawn from [-max_degrees, max_degrees], about its centre.

    As ImageDataGenerator's `shear_range` did: rows slide sideways by tan(angle) pixels per
    row away from the middle one, so the picture slants without moving.
    """

    def __init__(self, max_degrees, fill_mode="reflect", fill_value=0.0, interpolation="bilinear",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_degrees = float(max_degrees)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.interpolation = interpolation
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        shape = ops.shape(images)
        limit = math.radians(self.max_degrees)
        slope = ops.tan(keras.random.uniform((shape[0],), -limit, limit, seed=self.generator))
        centre = (ops.cast(shape[1], "float32") - 1.0) / 2.0
        ones, zeros = ops.ones_like(slope), ops.zeros_like(slope)
        # Output pixel (x, y) samples input (x + slope * (y - centre), y).
        transform = ops.stack([ones, slope, -slope * centre, zeros, ones, zeros, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transform, interpolation=self.interpolation,
                                          fill_mode=self.fill_mode, fill_value=self.fill_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_degrees": self.max_degrees, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cnnlab")
class ChannelShift(keras.layers.Layer):
    """Add a random offset from [-factor, factor] to each colour channel of each image, then clip.

    ImageDataGenerator's `channel_shift_range`, on the lab's [0, 1] scale: it tints images,
    so a network cannot lean on exact colours.
    """

    def __init__(self, factor, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        shape = ops.shape(images)
        shift = keras.random.uniform((shape[0], 1, 1, shape[3]), -self.factor, self.factor,
                                     seed=self.generator)
        return ops.clip(images + shift, *self.value_range)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="cnnlab")
class CutMix(keras.layers.Layer):
    """CutMix (Yun et al., 2019): paste a box of a batch-mate into each image; mix labels by area.

    Takes and returns {"images", "labels"} with one-hot labels, like keras.layers.MixUp. The
    box has area fraction 1 - lambda, lambda ~ Beta(alpha, alpha), and is clipped at the
    border; the label weight is then the fraction of pixels actually pasted, exactly.
    """

    def __init__(self, alpha=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, data, training=True):
        if not training:
            return data
        images, labels = data["images"], data["labels"]
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        lam = keras.random.beta((batch,), self.alpha, self.alpha, seed=self.generator)
        side = ops.sqrt(1.0 - lam)
        half_h = ops.cast(ops.cast(height, "float32") * side / 2.0, "int32")
        half_w = ops.cast(ops.cast(width, "float32") * side / 2.0, "int32")
        centre_y = keras.random.randint((batch,), 0, height, seed=self.generator)
        centre_x = keras.random.randint((batch,), 0, width, seed=self.generator)
        top, bottom = ops.clip(centre_y - half_h, 0, height), ops.clip(centre_y + half_h, 0, height)
        left, right = ops.clip(centre_x - half_w, 0, width), ops.clip(centre_x + half_w, 0, width)
        rows, cols = ops.arange(height)[None, :], ops.arange(width)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
        in_cols = (cols >= left[:, None]) & (cols < right[:, None])
        mask = in_rows[:, :, None, None] & in_cols[:, None, :, None]
        partner = keras.random.shuffle(ops.arange(batch), seed=self.generator)
        images = ops.where(mask, ops.take(images, partner, axis=0), images)
        pasted = ops.cast((bottom - top) * (right - left), "float32") / ops.cast(height * width, "float32")
        labels = (1.0 - pasted[:, None]) * labels + pasted[:, None] * ops.take(labels, partner, axis=0)
        return {"images": images, "labels": labels}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cnnlab")
class MixBatch(keras.layers.Layer):
    """MixUp, CutMix, or each image one of the two at random when both are on.

    Why per image: with both on, a batch then teaches both kinds of mixing at once, and the
    previewer's grid shows both. Labels stay convex combinations summing to one.
    """

    def __init__(self, mixup_alpha=0.0, cutmix_alpha=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mixup_alpha, self.cutmix_alpha, self.seed = float(mixup_alpha), float(cutmix_alpha), seed
        seeds = _seeds(seed, 3)
        self.mixup = keras.layers.MixUp(alpha=self.mixup_alpha, seed=seeds[0]) if mixup_alpha else None
        self.cutmix = CutMix(alpha=self.cutmix_alpha, seed=seeds[1]) if cutmix_alpha else None
        self.generator = keras.random.SeedGenerator(seeds[2])

    def build(self, input_shape):
        # The sublayers are stateless apart from their seed generators, made in __init__.
        self.built = True

    def call(self, data, training=True):
        if not training:
            return data
        data = {"images": data["images"], "labels": ops.cast(data["labels"], "float32")}
        if self.mixup is None or self.cutmix is None:
            return (self.mixup or self.cutmix)(data, training=True)
        mixed, cut = self.mixup(data, training=True), self.cutmix(data, training=True)
        use_cut = keras.random.uniform((ops.shape(data["images"])[0],), seed=self.generator) < 0.5
        return {"images": ops.where(use_cut[:, None, None, None], cut["images"], mixed["images"]),
                "labels": ops.where(use_cut[:, None], cut["labels"], mixed["labels"])}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mixup_alpha": self.mixup_alpha,
                "cutmix_alpha": self.cutmix_alpha, "seed": self.seed}


CUSTOM_LAYERS = {cls.__name__: cls for cls in (RandomPadCrop, RandomAngleShear, ChannelShift)}
