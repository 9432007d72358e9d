"""The lectures' plain dense network (a multi-layer perceptron): Flatten, 300 and 100 units.

Source: deck 002's batch-normalization example, after A. Géron, Hands-On Machine Learning
with Scikit-Learn, Keras and TensorFlow (O'Reilly, 2019), ch. 11: Flatten -> BN ->
Dense(300) -> BN -> Dense(100) -> BN -> Dense(10) on 28x28 images. With batch norm after
the activation (which keeps the dense biases) it has the deck's 271,346 parameters, 2,368
of them non-trainable: the moving means and variances of the 784 + 300 + 100 normalized
features. Batch norm before the activation drops the two hidden biases (270,946).

Why the input is normalized too: the deck's network starts with a BatchNormalization
layer in place of scaling the pixels by hand; it comes and goes with the dense batch norm.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# Units of the hidden dense layers, as in the deck.
DENSE_UNITS = (300, 100)


def build_mlp(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
) -> keras.Model:
    """Build the deck's dense network: Flatten, [BN], 300 and 100 hidden units, the head.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit for a binary problem.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
            `batch_norm_dense` normalizes the flattened input and every hidden layer.
    """
    tricks = blocks.resolve_tricks(tricks)
    inputs = keras.Input(shape=input_shape, name="input")
    x = blocks.flatten(inputs)
    if tricks.batch_norm_dense:
        x = blocks.batch_normalization("input_bn", tricks)(x)
    for index, units in enumerate(DENSE_UNITS, start=1):
        x = blocks.dense_block(x, units, name=f"fc{index}", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="mlp")
