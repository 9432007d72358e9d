"""EfficientNet: MBConv blocks with squeeze-and-excitation, scaled in width and depth together.

Paper: M. Tan and Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019 (arXiv:1905.11946).

Why: the paper's B0 baseline, found by architecture search, is a stack of MBConv blocks
(MobileNetV2's inverted residual block with squeeze-and-excitation, Hu et al. 2018, and the
swish activation); its point is *compound scaling*: a bigger or smaller network scales the
width (filters, `width_coefficient`) and the depth (blocks per stage, `depth_coefficient`)
and the resolution together, instead of one of them, which buys more accuracy per FLOP.

`build_efficientnet` with both coefficients 1.0 and the paper's stride-2 stem is B0: at
224x224x3 with 1,000 classes and batch normalization on it has 5,288,548 trainable
parameters, as keras.applications.EfficientNetB0 (and torchvision) count them; widths and
repeats are rounded by the paper's rules (filters to multiples of 8, repeats up), as in
keras.applications.

The lab's "efficientnet_small" scales B0 *down* by the same rule, width 0.5 and depth 0.5
(stages of 1, 1, 1, 2, 2, 2, 1 blocks with 8 to 160 filters), and its stem has stride 1 for
32 px images. Left out: B0's stochastic depth (dropping whole blocks in training) and its
built-in 20% dropout, for which the lab's dropout trick stands in front of the output
layer; batch normalization, after every convolution in the paper, is the lab's trick.
"""

from __future__ import annotations

import math

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks
from cnnlab.models.mobilenet import inverted_residual_block, make_divisible

# B0's stages: (kernel size, repeats, filters, expansion, first stride), the paper's Table 1.
B0_STAGES = (
    (3, 1, 16, 1, 1),
    (3, 2, 24, 6, 2),
    (5, 2, 40, 6, 2),
    (3, 3, 80, 6, 2),
    (5, 3, 112, 6, 1),
    (5, 4, 192, 6, 2),
    (3, 1, 320, 6, 1),
)
STEM_FILTERS = 32
TOP_FILTERS = 1280
# The squeeze-and-excitation keeps this share of a block's *input* channels.
SE_RATIO = 0.25
ACTIVATION = "swish"
# The lab's small network: B0 scaled down by the compound rule.
SMALL_WIDTH_COEFFICIENT = 0.5
SMALL_DEPTH_COEFFICIENT = 0.5
SMALL_STEM_STRIDES = 1


def build_efficientnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    width_coefficient: float = 1.0,
    depth_coefficient: float = 1.0,
    stem_strides: int = 2,
) -> keras.Model:
    """Build an EfficientNet: B0's stages scaled in width and depth.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        width_coefficient: multiplies every layer's filters (rounded to multiples of 8);
            defaults to 1.0 (B0).
        depth_coefficient: multiplies every stage's blocks (rounded up); defaults to 1.0.
        stem_strides: the first convolution's stride; defaults to 2 (B0's).
    """
    tricks = blocks.resolve_tricks(tricks)
    coefficients = {"width_coefficient": width_coefficient, "depth_coefficient": depth_coefficient}
    for name, value in coefficients.items():
        if not value > 0:
            raise ValueError(f"Invalid `{name}`. Expected a number > 0. Received: {value!r}.")

    def width(filters):
        return make_divisible(filters * width_coefficient)

    inputs = keras.Input(shape=input_shape, name="input")
    x = blocks.conv_block(
        inputs, width(STEM_FILTERS), 3, strides=stem_strides, name="stem_conv1", tricks=tricks,
        activation=ACTIVATION,
    )
    for stage, (kernel_size, repeats, filters, expansion, strides) in enumerate(B0_STAGES, start=1):
        for index in range(1, math.ceil(depth_coefficient * repeats) + 1):
            x = inverted_residual_block(
                x, width(filters), name=f"stage{stage}_block{index}", tricks=tricks,
                expansion=expansion, strides=strides if index == 1 else 1,
                kernel_size=kernel_size, se_filters=max(1, int(x.shape[-1] * SE_RATIO)),
                activation=ACTIVATION,
            )
        x = blocks.spatial_dropout(x, name=f"stage{stage}_spatial_dropout", tricks=tricks)
    x = blocks.conv_block(
        x, width(TOP_FILTERS), 1, name="top_conv1", tricks=tricks, activation=ACTIVATION
    )
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="efficientnet")


def build_efficientnet_small(
    input_shape, num_classes, *, tricks: Tricks | None = None
) -> keras.Model:
    """Build the lab's EfficientNet: B0 at width 0.5 and depth 0.5, stride-1 stem.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    return build_efficientnet(
        input_shape, num_classes, tricks=tricks, width_coefficient=SMALL_WIDTH_COEFFICIENT,
        depth_coefficient=SMALL_DEPTH_COEFFICIENT, stem_strides=SMALL_STEM_STRIDES,
    )
