"""A deep, narrow plain network: ten weight layers and no shortcut, to watch gradients vanish.

Source: X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward
neural networks", AISTATS 2010: with sigmoid units the gradients shrink layer by layer on
their way back to the input, so the first layers barely learn; ReLU, He initialization
(K. He et al., ICCV 2015) and batch normalization (S. Ioffe and C. Szegedy, ICML 2015)
undo it.

Why narrow: going back through one sigmoid layer of width n with N(0, 1) weights scales the
gradient by about 0.094 * sqrt(n) (n weights times the mean squared slope of a saturated
sigmoid, about 0.067 / sqrt(n / 2)). Below about 110 units that factor is under one and
compounds over the layers; wide layers would hide the lectures' effect. With Keras' default
Glorot weights the slope alone (at most 0.25) makes sigmoid gradients vanish even faster.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# Two 3x3 conv blocks, each closed by a 2x2 pool.
CONV_FILTERS = (8, 8)
# Seven hidden dense layers: with the two convolutions and the head, ten weight layers.
DENSE_UNITS = (16,) * 7


def build_deep_plain(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
) -> keras.Model:
    """Build the ten-layer plain network: 2 convolutions, 7 narrow dense layers, the head.

    Convolutions use "same" padding and the pools round up, so it builds from 8x8 up.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    tricks = blocks.resolve_tricks(tricks)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, filters in enumerate(CONV_FILTERS, start=1):
        x = blocks.conv_block(x, filters, 3, name=f"block{block}_conv1", tricks=tricks)
        x = blocks.pool(x, name=f"block{block}_pool", tricks=tricks, padding="same")
    x = blocks.flatten(x)
    for index, units in enumerate(DENSE_UNITS, start=1):
        x = blocks.dense_block(x, units, name=f"fc{index}", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="deep_plain")
