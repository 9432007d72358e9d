"""The lectures' small convnet: four conv + max-pool blocks and one dense layer.

Source: F. Chollet, Deep Learning with Python (Manning, 2017), section 5.2, "Training a
convnet from scratch on a small dataset" — the cats-vs-dogs model that overfits 2,000
images (train 99%, validation 72%) until dropout and augmentation close the gap. For
150x150x3 inputs and one sigmoid output it has exactly the book's 3,453,121 parameters.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# Filters of the four conv blocks, as in the book.
FILTERS = (32, 64, 128, 128)
# Units of the hidden dense layer, as in the book.
DENSE_UNITS = 512
# The smallest side for which four "valid" 3x3 convolutions, each followed by a 2x2 max
# pool, still leave a 1x1 map: 46 -> 44 -> 22 -> 20 -> 10 -> 8 -> 4 -> 2 -> 1.
MIN_VALID_SIZE = 46


def build_small_convnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
) -> keras.Model:
    """Build the lectures' small convnet, scaled to the input size.

    Layers: Conv32-Pool-Conv64-Pool-Conv128-Pool-Conv128-Pool-Flatten-Dense512-head, with
    3x3 ReLU convolutions and 2x2 max pooling; dropout, when on, sits after Flatten, in
    front of the dense layer, as in the book.

    Padding rule: when the smaller image side is at least 46 pixels, the convolutions and
    pools use "valid" padding exactly as in the book. Smaller images would shrink to
    nothing, so then every convolution uses "same" padding and every pool rounds up
    ("same"), which keeps the four blocks working down to 8x8 (8 -> 4 -> 2 -> 1 -> 1).

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit (binary, as in the book).
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    tricks = blocks.resolve_tricks(tricks)
    padding = "valid" if min(input_shape[:2]) >= MIN_VALID_SIZE else "same"

    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, filters in enumerate(FILTERS, start=1):
        x = blocks.conv_block(
            x, filters, 3, name=f"block{block}_conv1", tricks=tricks, padding=padding
        )
        x = blocks.pool(x, name=f"block{block}_pool", tricks=tricks, kind="max", padding=padding)
    x = blocks.flatten(x)
    x = blocks.dense_block(x, DENSE_UNITS, name="fc1", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="small_convnet")
