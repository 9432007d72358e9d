"""VGG: depth from stacks of small 3x3 convolutions.

Paper: K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (arXiv:1409.1556).

Why 3x3 only: two stacked 3x3 convolutions see a 5x5 window and three see 7x7, with fewer
parameters than one large kernel (3 * 9 C^2 against 49 C^2) and a non-linearity between
each. The network is five blocks of such convolutions, each closed by a 2x2 max pool, then
two dense layers of 4,096 units and the output. Configurations A, B and D of the paper's
Table 1 are VGG-11, -13 and -16 (8, 10 and 13 convolutions plus 3 dense layers).

Scaled for the lab: half the paper's filters (32 to 256 instead of 64 to 512) and 256 dense
units instead of 4,096, so that a VGG-16 trains on a laptop CPU. Below 32 pixels the pools
round up ("same"), so that the five blocks build from 8x8 images up (28 -> 14 -> 7 -> 4 ->
2 -> 1).
`build_vgg` with `widths=PAPER_WIDTHS, dense_units=PAPER_DENSE_UNITS` at 224x224x3 and
1,000 classes is the paper's network: 138,357,544 parameters for VGG-16, as
`keras.applications.VGG16` counts. The paper's dropout (0.5 on the first two dense
layers) is the lab's dropout trick, off by default; the paper predates batch
normalization, which the trick adds after every convolution.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# Convolutions per block, Table 1 of the paper: configurations A, B, D and E.
CONVOLUTIONS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
# The paper's filters per block and dense units.
PAPER_WIDTHS = (64, 128, 256, 512, 512)
PAPER_DENSE_UNITS = 4096
# The lab's defaults: half the filters, 1/16 of the dense units.
WIDTHS = (32, 64, 128, 256, 256)
DENSE_UNITS = 256


def build_vgg(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    depth: int = 16,
    widths: tuple[int, int, int, int, int] = WIDTHS,
    dense_units: int = DENSE_UNITS,
) -> keras.Model:
    """Build a VGG network of the paper's depth 11, 13, 16 or 19.

    Layers are named as in `keras.applications.VGG16`: "block3_conv2", "block3_pool",
    then "fc1", "fc2" and "predictions".

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        depth: 11, 13, 16 or 19 weight layers; defaults to 16.
        widths: filters of the five blocks; defaults to `WIDTHS`, half the paper's.
        dense_units: units of each of the two hidden dense layers; defaults to 256.
    """
    tricks = blocks.resolve_tricks(tricks)
    if depth not in CONVOLUTIONS:
        raise ValueError(
            f"Invalid `depth` for VGG. Expected one of {sorted(CONVOLUTIONS)}. "
            f"Received: {depth!r}."
        )
    # From 32 px up five "valid" pools still leave a map (and match keras.applications:
    # 150 px gives the lectures' 4x4x512 VGG16 base output); below, they round up.
    padding = "valid" if min(input_shape[:2]) >= 32 else "same"
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, (count, filters) in enumerate(zip(CONVOLUTIONS[depth], widths), start=1):
        for index in range(1, count + 1):
            x = blocks.conv_block(x, filters, 3, name=f"block{block}_conv{index}", tricks=tricks)
        x = blocks.pool(x, name=f"block{block}_pool", tricks=tricks, padding=padding)
    x = blocks.flatten(x)
    x = blocks.dense_block(x, dense_units, name="fc1", tricks=tricks)
    x = blocks.dense_block(x, dense_units, name="fc2", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name=f"vgg{depth}")


def build_vgg11(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build the lab's VGG-11 (configuration A); see `build_vgg`."""
    return build_vgg(input_shape, num_classes, tricks=tricks, depth=11)


def build_vgg13(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build the lab's VGG-13 (configuration B); see `build_vgg`."""
    return build_vgg(input_shape, num_classes, tricks=tricks, depth=13)


def build_vgg16(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build the lab's VGG-16 (configuration D); see `build_vgg`."""
    return build_vgg(input_shape, num_classes, tricks=tricks, depth=16)
