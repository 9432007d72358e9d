"""MobileNet and MobileNetV2: depthwise separable convolutions for small, fast networks.

Papers: A. G. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto
and H. Adam, "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017 (arXiv:1704.04861); M. Sandler, A. Howard, M. Zhu, A. Zhmoginov and
L.-C. Chen, "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018
(arXiv:1801.04381).

Why: a k x k convolution from C to F channels costs k^2 C F multiply-adds per pixel; a
depthwise k x k convolution (one filter per channel) followed by a 1x1 "pointwise"
convolution costs k^2 C + C F, about 8 to 9 times less for 3x3 kernels, for a small loss of
accuracy. MobileNet is a 3x3 convolution and 13 such pairs; the width multiplier `alpha`
thins every layer (cost and parameters fall about as alpha^2). MobileNetV2 turns the block
inside out: a 1x1 convolution *expands* the channels (6x), the depthwise convolution
filters them, a linear 1x1 convolution projects back to a narrow bottleneck (a ReLU there
would destroy information in so few channels), and a shortcut joins the narrow ends.

At 224x224x3 with 1,000 classes and batch normalization on, `build_mobilenet` with the
paper's stride-2 stem has exactly the parameters of `keras.applications.MobileNet`
(4,253,864 for alpha = 1.0) and `build_mobilenet_v2` those of
`keras.applications.MobileNetV2` (3,538,984), whose layer widths they follow, including
MobileNetV2's rounding of widths to multiples of 8.

Scaled for the lab's small images: the first convolution has stride 1 instead of 2 (as in
CIFAR versions of these networks), so a 32 px image ends at 2x2 maps instead of 1x1.
ReLU6 is the architectures' own activation (the trick's replaces it); batch normalization
(in the papers after every convolution) is the lab's trick; the trick's dropout goes in
front of the output layer, where keras.applications.MobileNet puts its own, or after each
stage ("spatial").
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# MobileNet's 13 depthwise separable layers: (pointwise filters, depthwise stride), Table 1.
MOBILENET_LAYERS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
# MobileNetV2's stages: (expansion t, filters c, repeats n, first stride s), Table 2.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
# Filters of the first convolution (both networks) and of MobileNetV2's last 1x1.
STEM_FILTERS = 32
MOBILENET_V2_TOP_FILTERS = 1280
# The stem's stride for the lab's small images; the papers' is 2.
STEM_STRIDES = 1
ACTIVATION = "relu6"


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a width to the nearest multiple of `divisor`, but never below 90% of it.

    Why: MobileNetV2 (and keras.applications, whose rule this is) keeps channel counts
    hardware-friendly when `alpha` scales them.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def depthwise_separable_block(x, filters: int, *, name: str, tricks: Tricks, strides: int = 1):
    """A depthwise 3x3 convolution, then a pointwise 1x1 one, each with BN and ReLU6.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: the pointwise convolution's filters.
        name: a prefix, e.g. "block2"; layers are "block2_dwconv", "block2_dwbn",
            "block2_dwact", "block2_pwconv", "block2_pwbn" and "block2_pwact".
        tricks: the training tricks to apply.
        strides: the depthwise convolution's stride; defaults to 1.
    """
    x = blocks.depthwise_conv_block(
        x, 3, strides=strides, name=f"{name}_dwconv", tricks=tricks, activation=ACTIVATION
    )
    return blocks.conv_block(
        x, filters, 1, name=f"{name}_pwconv", tricks=tricks, activation=ACTIVATION
    )


def inverted_residual_block(
    x,
    filters: int,
    *,
    name: str,
    tricks: Tricks,
    expansion: int = 6,
    strides: int = 1,
    kernel_size: int = 3,
    se_filters: int = 0,
    activation: str = ACTIVATION,
):
    """MobileNetV2's block: expand (1x1), filter (depthwise), project (linear 1x1), add.

    EfficientNet's MBConv is this block with squeeze-and-excitation (`se_filters` > 0)
    between the depthwise and the projecting convolution.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: the output's channels (the bottleneck width).
        name: a prefix, e.g. "block3"; layers are "block3_expand_conv", "block3_dwconv",
            "block3_se_..." (with SE), "block3_project_conv" and "block3_add", with "bn" and
            "act" siblings.
        tricks: the training tricks to apply.
        expansion: channels of the middle layers as a multiple of the input's; 1 means no
            expanding convolution; defaults to 6.
        strides: the depthwise convolution's stride; defaults to 1.
        kernel_size: the depthwise kernel's side; defaults to 3.
        se_filters: channels of the squeeze-and-excitation's middle layer, 0 for none;
            defaults to 0.
        activation: the activation of the expanding and depthwise convolutions; defaults
            to "relu6".
    """
    channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = blocks.conv_block(
            y, expansion * channels, 1, name=f"{name}_expand_conv", tricks=tricks,
            activation=activation,
        )
    y = blocks.depthwise_conv_block(
        y, kernel_size, strides=strides, name=f"{name}_dwconv", tricks=tricks, activation=activation
    )
    if se_filters:
        y = squeeze_excite(
            y, se_filters, name=f"{name}_se", tricks=tricks, activation=activation
        )
    y = blocks.conv_block(
        y, filters, 1, name=f"{name}_project_conv", tricks=tricks, activation=None
    )
    if strides == 1 and channels == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def squeeze_excite(x, filters: int, *, name: str, tricks: Tricks, activation: str = "swish"):
    """Squeeze-and-excitation: rescale each feature map by a gate computed from all maps.

    Why: a convolution sees only a small neighbourhood; the squeeze (global average pooling)
    gives each block a summary of the whole image, and the excitation (two 1x1
    convolutions, the second with a sigmoid) learns which maps matter for it (Hu et al.,
    2018). The reducing convolution takes the trick's activation; the sigmoid is a gate in
    [0, 1], not a hidden activation, so it stays.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: the number of channels in the squeezed middle layer.
        name: a prefix, e.g. "block2a_se"; the layers are "block2a_se_squeeze",
            "block2a_se_reduce_conv", "block2a_se_reduce_act", "block2a_se_expand_conv" and
            "block2a_se_excite".
        tricks: the training tricks to apply (initializer, L1/L2, activation).
        activation: the reducing convolution's activation; defaults to "swish".
    """
    channels = x.shape[-1]
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    gate = keras.layers.Conv2D(
        filters,
        1,
        kernel_initializer=blocks.kernel_initializer(tricks),
        kernel_regularizer=blocks.kernel_regularizer(tricks),
        name=f"{name}_reduce_conv",
    )(gate)
    gate = keras.layers.Activation(tricks.activation or activation, name=f"{name}_reduce_act")(gate)
    gate = keras.layers.Conv2D(
        channels,
        1,
        activation="sigmoid",
        kernel_initializer=blocks.kernel_initializer(tricks),
        kernel_regularizer=blocks.kernel_regularizer(tricks),
        name=f"{name}_expand_conv",
    )(gate)
    return keras.layers.Multiply(name=f"{name}_excite")([x, gate])


def build_mobilenet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    alpha: float = 1.0,
    stem_strides: int = STEM_STRIDES,
) -> keras.Model:
    """Build MobileNet: a 3x3 convolution, 13 depthwise separable blocks, global pooling.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        alpha: the width multiplier, > 0; every layer has int(alpha * filters) filters, as
            in keras.applications; defaults to 1.0.
        stem_strides: the first convolution's stride; defaults to 1 (the paper: 2).
    """
    tricks = blocks.resolve_tricks(tricks)
    if not alpha > 0:
        raise ValueError(f"Invalid `alpha`. Expected a width multiplier > 0. Received: {alpha!r}.")
    inputs = keras.Input(shape=input_shape, name="input")
    x = blocks.conv_block(
        inputs, int(STEM_FILTERS * alpha), 3, strides=stem_strides, name="stem_conv1",
        tricks=tricks, activation=ACTIVATION,
    )
    for index, (filters, strides) in enumerate(MOBILENET_LAYERS, start=1):
        x = depthwise_separable_block(
            x, int(filters * alpha), name=f"block{index}", tricks=tricks, strides=strides
        )
        stage_ends = index == len(MOBILENET_LAYERS) or MOBILENET_LAYERS[index][1] == 2
        if stage_ends:
            x = blocks.spatial_dropout(x, name=f"block{index}_spatial_dropout", tricks=tricks)
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    name = "mobilenet" if alpha == 1.0 else f"mobilenet_{alpha:g}"
    return keras.Model(inputs, outputs, name=name)


def build_mobilenet_half(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build MobileNet at width 0.5: about a quarter of the cost; see `build_mobilenet`."""
    return build_mobilenet(input_shape, num_classes, tricks=tricks, alpha=0.5)


def build_mobilenet_v2(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    alpha: float = 1.0,
    stem_strides: int = STEM_STRIDES,
) -> keras.Model:
    """Build MobileNetV2: a 3x3 convolution, 17 inverted residual blocks, a 1x1 to 1280.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        alpha: the width multiplier, > 0; widths are rounded to multiples of 8 and the
            last 1x1 keeps 1280 filters unless alpha > 1, as in keras.applications;
            defaults to 1.0.
        stem_strides: the first convolution's stride; defaults to 1 (the paper: 2).
    """
    tricks = blocks.resolve_tricks(tricks)
    if not alpha > 0:
        raise ValueError(f"Invalid `alpha`. Expected a width multiplier > 0. Received: {alpha!r}.")
    inputs = keras.Input(shape=input_shape, name="input")
    x = blocks.conv_block(
        inputs, make_divisible(STEM_FILTERS * alpha), 3, strides=stem_strides, name="stem_conv1",
        tricks=tricks, activation=ACTIVATION,
    )
    for stage, (expansion, filters, repeats, stride) in enumerate(MOBILENET_V2_STAGES, start=1):
        for index in range(1, repeats + 1):
            x = inverted_residual_block(
                x, make_divisible(int(filters * alpha)), name=f"stage{stage}_block{index}",
                tricks=tricks, expansion=expansion, strides=stride if index == 1 else 1,
            )
        x = blocks.spatial_dropout(x, name=f"stage{stage}_spatial_dropout", tricks=tricks)
    top = MOBILENET_V2_TOP_FILTERS
    if alpha > 1.0:
        top = make_divisible(top * alpha)
    x = blocks.conv_block(x, top, 1, name="top_conv1", tricks=tricks, activation=ACTIVATION)
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="mobilenet_v2")
