"""Network-in-Network: 1x1 convolutions as tiny per-pixel MLPs, and global average pooling.

Paper: M. Lin, Q. Chen and S. Yan, "Network In Network", ICLR 2014 (arXiv:1312.4400).

Why it matters: an "mlpconv" block is a convolution followed by 1x1 convolutions, i.e. a
small multilayer perceptron slid over the image, a more expressive local feature detector
than one linear filter. And instead of large dense layers the network averages each of its
last feature maps into one number per class (global average pooling), which has no
parameters to overfit. Both ideas run through GoogLeNet, ResNet and MobileNet.

The paper's CIFAR-10 network: three mlpconv blocks, 192-160-96 (5x5), 192-192-192 (5x5)
and 192-192-10 (3x3), a 3x3/2 max pool after the first and an average pool after the
second, dropout after both, global average pooling and softmax: 966,986 parameters for
32x32x3 and 10 classes.

One change, for the lab's shared output layer: here the last 1x1 convolution (to one map
per class) comes after the global pooling, as the Dense output layer. Averaging and a
linear 1x1 convolution are both linear and commute, so this is the paper's network with
the same parameter count, minus the ReLU the paper's code put on the class maps; and the
output layer stays a softmax, or one sigmoid unit for a binary problem.

Scaled for the lab: half the paper's filters by default (`PAPER_WIDTHS` restores them).
The paper's dropout is the dropout trick with "spatial" placement (after each pool).
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# Filters of the three mlpconv blocks, as in the paper; the last block's class-map layer
# is the output layer (see the module docstring).
PAPER_WIDTHS = ((192, 160, 96), (192, 192, 192), (192, 192))
# The lab's default: half the filters.
WIDTHS = ((96, 80, 48), (96, 96, 96), (96, 96))
# Kernel size of each block's first convolution; the others are 1x1.
KERNEL_SIZES = (5, 5, 3)
# The pools after blocks 1 and 2 (3x3, stride 2, rounding up as the paper's Caffe did).
POOL_KINDS = ("max", "average")


def mlpconv_block(x, filters: tuple[int, ...], kernel_size: int, *, name: str, tricks: Tricks):
    """A convolution followed by 1x1 convolutions: a small MLP applied at every pixel.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: filters of the convolution and of each 1x1 convolution after it.
        kernel_size: side of the first convolution's kernels.
        name: a prefix, e.g. "block1"; layers are "block1_conv1", "block1_conv2", ...
        tricks: the training tricks to apply.
    """
    for index, width in enumerate(filters, start=1):
        x = blocks.conv_block(
            x, width, kernel_size if index == 1 else 1, name=f"{name}_conv{index}", tricks=tricks
        )
    return x


def build_nin(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    widths: tuple[tuple[int, ...], ...] = WIDTHS,
) -> keras.Model:
    """Build Network-in-Network: three mlpconv blocks, two pools, global average pooling.

    Convolutions use "same" padding and pools round up, so it builds from 8x8 images up.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        widths: filters of each mlpconv block; defaults to `WIDTHS`, half the paper's.
    """
    tricks = blocks.resolve_tricks(tricks)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, (filters, kernel_size) in enumerate(zip(widths, KERNEL_SIZES), start=1):
        x = mlpconv_block(x, filters, kernel_size, name=f"block{block}", tricks=tricks)
        if block <= len(POOL_KINDS):
            x = blocks.pool(
                x, name=f"block{block}_pool", tricks=tricks, kind=POOL_KINDS[block - 1],
                pool_size=3, strides=2, padding="same",
            )
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="nin")
