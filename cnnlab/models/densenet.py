"""DenseNet: every layer of a block sees the feature maps of all layers before it.

Paper: G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, "Densely Connected
Convolutional Networks", CVPR 2017 (arXiv:1608.06993).

Why: where ResNet adds a block's input to its output, a dense block *concatenates*: layer
l receives the maps of the block's input and of layers 1 .. l-1, and adds only `growth_rate`
(k) new maps of its own. Short paths to every earlier layer help the gradient, features are
reused instead of relearned, and the layers can be very narrow (k = 12). Each layer is
BN-ReLU-Conv (pre-activation); in the "BC" variant a 1x1 bottleneck convolution with 4k
filters comes first, and the transitions between blocks (BN-ReLU, 1x1 convolution, 2x2
average pool) compress the channels by `compression` (0.5).

`build_densenet` defaults to the paper's DenseNet-BC for CIFAR with 40 layers and k = 12
(three blocks of six bottleneck layers after a 3x3 convolution with 2k filters):
176,122 trainable parameters for 10 classes with batch normalization on, as
osmr/imgclsmob's `densenet40_k12_bc_cifar10` counts. `DENSENET121_BLOCKS` with
`growth_rate=32` and `stem="imagenet"` is DenseNet-121 (8,062,504 parameters at 224x224x3
and 1,000 classes, as `keras.applications.DenseNet121` counts).

Batch normalization is the lab's trick: on, this is the paper's network; off, the layers
are ReLU-Conv with a bias. The paper's dropout (0.2 after each convolution, used without
augmentation) is not placed; the trick's dropout goes in front of the output layer, or
after each transition ("spatial").
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# DenseNet-BC-40: three dense blocks of (40 - 4) / 6 = 6 bottleneck layers.
BLOCKS = (6, 6, 6)
GROWTH_RATE = 12
# DenseNet-121's four dense blocks (Table 1 of the paper).
DENSENET121_BLOCKS = (6, 12, 24, 16)
# The BC variant's transition keeps this share of the channels.
COMPRESSION = 0.5
# A bottleneck layer's 1x1 convolution has this many times `growth_rate` filters.
BOTTLENECK_WIDTH = 4


def dense_layer(x, growth_rate: int, *, name: str, tricks: Tricks, bottleneck: bool = True):
    """One layer of a dense block: [BN-ReLU-Conv1x1(4k)] BN-ReLU-Conv3x3(k), concatenated.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        growth_rate: k, the number of maps the layer adds.
        name: a prefix, e.g. "block1_layer2"; layers are "block1_layer2_bn1", "_act1",
            "_conv1" (the bottleneck), "_bn2", "_act2", "_conv2" and "_concat".
        tricks: the training tricks to apply.
        bottleneck: whether the 1x1 bottleneck comes first (DenseNet-B); defaults to True.
    """
    y = x
    if bottleneck:
        y = blocks.preactivation_conv_block(
            y, BOTTLENECK_WIDTH * growth_rate, 1, name=f"{name}_conv1", tricks=tricks
        )
    y = blocks.preactivation_conv_block(y, growth_rate, 3, name=f"{name}_conv2", tricks=tricks)
    return keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def transition(x, *, name: str, tricks: Tricks, compression: float = COMPRESSION):
    """BN-ReLU, a 1x1 convolution keeping `compression` of the maps, a 2x2 average pool.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        name: a prefix, e.g. "transition1"; layers "_bn", "_act", "_conv" and "_pool".
        tricks: the training tricks to apply.
        compression: the share of the channels kept; defaults to 0.5 (DenseNet-C).
    """
    filters = int(x.shape[-1] * compression)
    x = blocks.preactivation_conv_block(x, filters, 1, name=f"{name}_conv", tricks=tricks)
    return blocks.pool(x, name=f"{name}_pool", tricks=tricks, kind="average", padding="same")


def build_densenet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    dense_blocks: tuple[int, ...] = BLOCKS,
    growth_rate: int = GROWTH_RATE,
    compression: float = COMPRESSION,
    bottleneck: bool = True,
    stem: str = "cifar",
) -> keras.Model:
    """Build a DenseNet: a stem, dense blocks joined by transitions, BN-ReLU, global pooling.

    Convolutions use "same" padding and pools round up, so it builds from 8x8 images up.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        dense_blocks: layers per dense block; defaults to (6, 6, 6), DenseNet-BC-40.
        growth_rate: k, the maps each layer adds; defaults to 12.
        compression: share of the channels a transition keeps; defaults to 0.5.
        bottleneck: 1x1 bottleneck convolutions in each layer; defaults to True.
        stem: "cifar" (a 3x3 convolution with 2k filters) or "imagenet" (a 7x7/2
            convolution with 2k filters, BN-ReLU and a 3x3/2 max pool); defaults to "cifar".
    """
    tricks = blocks.resolve_tricks(tricks)
    if stem not in ("cifar", "imagenet"):
        raise ValueError(f"Invalid `stem`. Expected 'cifar' or 'imagenet'. Received: {stem!r}.")
    inputs = keras.Input(shape=input_shape, name="input")
    if stem == "imagenet":
        x = blocks.conv_block(
            inputs, 2 * growth_rate, 7, strides=2, name="stem_conv1", tricks=tricks
        )
        x = blocks.pool(x, name="stem_pool", tricks=tricks, pool_size=3, strides=2, padding="same")
    else:
        # The first dense layer normalizes and activates this convolution's output itself.
        x = blocks.conv2d(inputs, 2 * growth_rate, 3, name="stem_conv1", tricks=tricks)
    for block, layers in enumerate(dense_blocks, start=1):
        for layer in range(1, layers + 1):
            x = dense_layer(
                x, growth_rate, name=f"block{block}_layer{layer}", tricks=tricks,
                bottleneck=bottleneck,
            )
        if block < len(dense_blocks):
            x = transition(x, name=f"transition{block}", tricks=tricks, compression=compression)
    x = blocks.normalize_and_activate(x, name="final", tricks=tricks)
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name="densenet")
