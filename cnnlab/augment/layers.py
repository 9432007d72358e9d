"""Augmentation layers Keras does not have in the form the lab's config needs.

`RandomAffine` (flips, rotation, shear, shift and zoom composed into one matrix per image,
so each image is resampled once instead of once per Keras layer), `RandomAngleShear`
(keras.layers.RandomShear caps its factor at 1, i.e. 45 degrees, and shears about the
top-left corner, which also shifts the picture; the pipeline now shears inside
`RandomAffine`, and the layer stays so that saved models and code exported before still
load), `ChannelShift` (Keras has no such layer), `RandomPadCrop` (keras.layers.RandomCrop
cuts every image of a batch at the same place), `CutMix` (Keras' samples alpha itself, caps
it at 1 and weights labels by the continuous box area rather than the pixels actually
pasted) and `MixBatch`, which applies MixUp or CutMix to each image of a batch.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

# The lab's images are float32 in [0, 1]; colour layers must know it (Keras assumes 0-255).
VALUE_RANGE = (0.0, 1.0)


def layer_seeds(seed, count: int) -> list[int]:
    """`count` decorrelated 31-bit seeds from one: layers seeded alike would draw alike."""
    if seed is None:
        return [None] * count
    return [int(s) >> 1 for s in np.random.SeedSequence(seed).generate_state(count)]


# -- layers Keras does not have in the form the config needs -----------------------------
# Registered, so a model that takes them in (as students may do with the exported code)
# saves and loads.


def affine_matrices(height, width, *, flip_x, flip_y, angle, shear, shift_x, shift_y, zoom):
    """Per-image transforms for `ops.image.affine_transform`: flip, rotate, shear, shift, zoom.

    Each keyword is a float tensor of shape (batch,): `flip_x` and `flip_y` are 1 (keep) or
    -1 (mirror), `angle` and `shear` are in radians, the shifts in pixels, `zoom` a factor
    (below 1 zooms in). The result, shape (batch, 8), sends an output pixel to the input
    pixel it samples, by the product

        flip @ rotation @ shear @ shift @ zoom

    of the matrices keras.layers.RandomFlip, RandomRotation, our RandomAngleShear,
    keras.layers.RandomTranslation and RandomZoom use, in the order the pipeline applied those
    layers: the image those five layers in a row would make, resampled once. All but the
    shift act about the centre c = ((width - 1) / 2, (height - 1) / 2); there the product is
    p -> zoom * L (p - c) - L shift + c, with L = flip @ rotation @ shear (2x2), written out
    below (the multiplication of five 3x3 matrices costs more ops than the resampling saves).
    """
    cx = (ops.cast(width, "float32") - 1.0) / 2.0
    cy = (ops.cast(height, "float32") - 1.0) / 2.0
    cos, sin, slope = ops.cos(angle), ops.sin(angle), ops.tan(shear)
    # L = diag(flip_x, flip_y) @ [[cos, -sin], [sin, cos]] @ [[1, slope], [0, 1]]
    l00, l01 = flip_x * cos, flip_x * (slope * cos - sin)
    l10, l11 = flip_y * sin, flip_y * (slope * sin + cos)
    a0, a1, b0, b1 = zoom * l00, zoom * l01, zoom * l10, zoom * l11
    a2 = cx - a0 * cx - a1 * cy - l00 * shift_x - l01 * shift_y
    b2 = cy - b0 * cx - b1 * cy - l10 * shift_x - l11 * shift_y
    zero = ops.zeros_like(angle)
    return ops.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)


@keras.saving.register_keras_serializable(package="cnnlab")
class RandomAffine(keras.layers.Layer):
    """Random flips, rotation, shear, shift and zoom, as ImageDataGenerator's options, in one pass.

    Why one layer: five Keras layers in a row resample every image once each, which costs
    about a millisecond a batch per layer, blurs a little more each time, and fills each
    layer's border from the previous layer's fill. Composing the five transforms into one
    matrix per image (`affine_matrices`) resamples once, as ImageDataGenerator did.

    Per image, independently: a coin for each flip; an angle from [-rotation_range,
    rotation_range] degrees about the centre; a shear angle from [-shear_range, shear_range]
    degrees along x about the centre row; shifts from [-range, range] times the width and
    the height; a zoom factor from [1 - zoom_range, 1 + zoom_range] about the centre (below
    1 zooms in), the same for both axes. Pixels from outside are filled as `fill_mode` says.
    With only flips on, the images are mirrored exactly, without resampling. At inference
    it passes images through unchanged.
    """

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0,
                 shear_range=0.0, zoom_range=0.0, horizontal_flip=False, vertical_flip=False,
                 fill_mode="reflect", fill_value=0.0, interpolation="bilinear", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rotation_range = float(rotation_range)
        self.width_shift_range = float(width_shift_range)
        self.height_shift_range = float(height_shift_range)
        self.shear_range = float(shear_range)
        self.zoom_range = float(zoom_range)
        self.horizontal_flip = bool(horizontal_flip)
        self.vertical_flip = bool(vertical_flip)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.interpolation = interpolation
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    @property
    def resamples(self) -> bool:
        """Whether any transform other than a flip is on (only flips need no resampling)."""
        return bool(self.rotation_range or self.shear_range or self.width_shift_range
                    or self.height_shift_range or self.zoom_range)

    def get_random_transformation(self, images):
        """Each image's draws, a dict of (batch,) float tensors named as `affine_matrices`' arguments.

        One uniform draw of seven numbers per image, every column drawn whether its transform
        is on or not, so switching one transform on leaves the others' draws as they were.
        """
        shape = ops.shape(images)
        u = 2.0 * keras.random.uniform((shape[0], 7), seed=self.generator) - 1.0  # in [-1, 1)

        def coin(column, on):
            return ops.where(u[:, column] < 0.0, -1.0, 1.0) if on else ops.ones_like(u[:, column])

        return {
            "flip_x": coin(0, self.horizontal_flip),
            "flip_y": coin(1, self.vertical_flip),
            "angle": u[:, 2] * math.radians(self.rotation_range),
            "shear": u[:, 3] * math.radians(self.shear_range),
            "shift_x": u[:, 4] * self.width_shift_range * ops.cast(shape[2], "float32"),
            "shift_y": u[:, 5] * self.height_shift_range * ops.cast(shape[1], "float32"),
            "zoom": 1.0 + u[:, 6] * self.zoom_range,
        }

    def transform_images(self, images, transformation):
        """`images` transformed as `transformation` (from `get_random_transformation`) says."""
        if not self.resamples:  # mirror exactly; flip_x and flip_y are then the only draws
            flip_x = transformation["flip_x"][:, None, None, None] < 0
            flip_y = transformation["flip_y"][:, None, None, None] < 0
            images = ops.where(flip_x, ops.flip(images, axis=2), images) if self.horizontal_flip else images
            return ops.where(flip_y, ops.flip(images, axis=1), images) if self.vertical_flip else images
        shape = ops.shape(images)
        return ops.image.affine_transform(images, affine_matrices(shape[1], shape[2], **transformation),
                                          interpolation=self.interpolation, fill_mode=self.fill_mode,
                                          fill_value=self.fill_value)

    def call(self, images, training=True):
        if not training or not (self.resamples or self.horizontal_flip or self.vertical_flip):
            return images
        return self.transform_images(images, self.get_random_transformation(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation_range": self.rotation_range,
                "width_shift_range": self.width_shift_range, "height_shift_range": self.height_shift_range,
                "shear_range": self.shear_range, "zoom_range": self.zoom_range,
                "horizontal_flip": self.horizontal_flip, "vertical_flip": self.vertical_flip,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation, "seed": self.seed}


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
class RandomBrightnessScale(keras.layers.Layer):
    """Multiply each image by one factor drawn from [lower, upper], then clip.

    ImageDataGenerator's `brightness_range=[lower, upper]` (deck 004: [0.2, 1.5]): a factor
    below 1 darkens, above 1 brightens, and the range need not be symmetric about 1, which
    keras.layers.RandomBrightness (an added offset, symmetric) cannot express.
    """

    def __init__(self, lower, upper, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.lower, self.upper = float(lower), float(upper)
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        factor = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), self.lower, self.upper,
                                      seed=self.generator)
        return ops.clip(images * factor, *self.value_range)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper,
                "value_range": self.value_range, "seed": self.seed}


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
        seeds = layer_seeds(seed, 3)
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


CUSTOM_LAYERS = {cls.__name__: cls for cls in (RandomAffine, RandomPadCrop, RandomAngleShear, ChannelShift,
                                                RandomBrightnessScale)}
