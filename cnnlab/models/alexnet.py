"""AlexNet, the network that won ImageNet 2012 and started the deep-learning era in vision.

Paper: A. Krizhevsky, I. Sutskever and G. E. Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012.

The paper's network: an 11x11 convolution with stride 4 (96 filters), a 5x5 (256), three
3x3 (384, 384, 256), overlapping 3x3/2 max pools after the first, second and fifth, two
dense layers of 4,096 units with dropout, and a 1,000-way softmax; ReLU throughout, which
the paper showed trains several times faster than tanh.

What is left out, and why: local response normalization (batch normalization, a lab
trick, took its place in later networks) and the split over two GPUs (convolutions 2, 4
and 5 saw only half of the previous maps), which was a memory workaround. Without the
split the paper's widths give 62,378,344 parameters at 227x227x3 (60,965,224 with it, the
paper's "60 million"); with the widths of the one-GPU variant (A. Krizhevsky, "One weird
trick for parallelizing convolutional neural networks", 2014), which torchvision ships,
61,100,840.

Scaled for the lab's 28 to 64 pixel images: the first convolution is 5x5 with stride 1
(an 11x11/4 filter would reduce a 32 px image to 8 px at once), the filters are half the
paper's (48, 128, 192, 192, 128) and the dense layers have 512 units. The pools round up
("same") below 64 pixels, so the network builds from 8x8 images up, and are the paper's
"valid" overlapping pools from 64 pixels up.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# The paper's filters (no GPU split), first kernel, first stride and dense units.
PAPER_WIDTHS = (96, 256, 384, 384, 256)
# The one-GPU variant's filters (torchvision's AlexNet).
ONE_GPU_WIDTHS = (64, 192, 384, 256, 256)
PAPER_FIRST_KERNEL_SIZE = 11
PAPER_FIRST_STRIDES = 4
PAPER_DENSE_UNITS = 4096
# The lab's defaults: half the filters, a small first kernel without stride.
WIDTHS = (48, 128, 192, 192, 128)
FIRST_KERNEL_SIZE = 5
FIRST_STRIDES = 1
DENSE_UNITS = 512
# From this image side up the pools are the paper's "valid" ones.
MIN_VALID_POOL_SIZE = 64
# Kernel sizes of convolutions 2 to 5.
KERNEL_SIZES = (5, 3, 3, 3)


def build_alexnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    widths: tuple[int, int, int, int, int] = WIDTHS,
    first_kernel_size: int = FIRST_KERNEL_SIZE,
    first_strides: int = FIRST_STRIDES,
    dense_units: int = DENSE_UNITS,
) -> keras.Model:
    """Build AlexNet: five convolutions, three overlapping max pools, two dense layers.

    Layers: block1_conv1 .. block5_conv1 ("block" counts convolutions), pools
    "block1_pool", "block2_pool" and "block5_pool", then "fc1", "fc2" and "predictions".
    The paper's dropout on fc1 and fc2 is the dropout trick with "every_dense" placement.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        widths: filters of the five convolutions; defaults to `WIDTHS`, half the paper's.
        first_kernel_size: side of the first convolution's kernels; defaults to 5 (the
            paper: 11).
        first_strides: stride of the first convolution; defaults to 1 (the paper: 4).
        dense_units: units of each hidden dense layer; defaults to 512 (the paper: 4,096).
    """
    tricks = blocks.resolve_tricks(tricks)
    padding = "valid" if min(input_shape[:2]) >= MIN_VALID_POOL_SIZE else "same"

    def overlapping_pool(x, block):
        return blocks.pool(
            x, name=f"block{block}_pool", tricks=tricks, pool_size=3, strides=2, padding=padding
        )

    inputs = keras.Input(shape=input_shape, name="input")
    x = blocks.conv_block(
        inputs, widths[0], first_kernel_size, strides=first_strides, name="block1_conv1",
        tricks=tricks,
    )
    x = overlapping_pool(x, 1)
    for block, (filters, kernel_size) in enumerate(zip(widths[1:], KERNEL_SIZES), start=2):
        x = blocks.conv_block(x, filters, kernel_size, name=f"block{block}_conv1", tricks=tricks)
        if block in (2, 5):
            x = overlapping_pool(x, block)
    x = blocks.flatten(x)
    x = blocks.dense_block(x, dense_units, name="fc1", tricks=tricks)
    x = blocks.dense_block(x, dense_units, name="fc2", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="alexnet")
