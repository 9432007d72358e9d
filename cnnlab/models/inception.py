"""Inception (GoogLeNet): parallel 1x1, 3x3, 5x5 and pooling branches, with 1x1 reductions.

Paper: C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan,
V. Vanhoucke and A. Rabinovich, "Going Deeper with Convolutions", CVPR 2015
(arXiv:1409.4842).

Why: an inception module lets the network choose its filter size per layer by running
1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side and concatenating their
maps. That would be ruinously expensive, so 1x1 convolutions first reduce the channels the
3x3 and 5x5 convolutions see, and project the pooling branch (the "#3x3 reduce", "#5x5
reduce" and "pool proj" columns of the paper's Table 1). The 1x1 convolutions are
Network-in-Network's idea used for economy.

`GOOGLENET_STAGES` with `stem="imagenet"` is the paper's Table 1: the stem (7x7/2
convolution, 3x3/2 max pool, 1x1 and 3x3 convolutions, 3x3/2 max pool), modules 3a-3b, a
max pool, 4a-4e, a max pool, 5a-5b, global average pooling (where the trick's dropout goes;
the paper used 40%) and the output layer. Its multiply-adds per module match the table's
"ops" column at 224x224 (tests/test_architectures.py), all but 5a's, whose 54M the table's
own filter counts contradict (they give 51M).

Left out: local response normalization after the stem's pool and 3x3 convolution
(batch normalization, a lab trick, replaced it in Inception v2).

Auxiliary classifiers (`auxiliary=True`, the "inception_aux" architecture): small heads on
the outputs of 4a (and 4d, in the paper's stages) whose losses, weighted by 0.3, are added
during training to push gradient into the middle of the network; at inference they are
discarded (the lab's train step, cnnlab.training.train_step, does both). Each is the
paper's: a 5x5/3 average pool, a 1x1 convolution with 128 filters, a dense layer of 1024
ReLU units (256 in the scaled network), 70% dropout and a softmax. The paper found their
effect small (about 0.5%); the per-layer gradient view shows what they do to the lower
layers' gradients.

Scaled for the lab's small images (`STAGES`, `stem="small"`): one 3x3 convolution with
64 filters and a 3x3/2 max pool as the stem, then modules with half the filters of the
paper's 3a, 3b | 4a, 4b | 5b, with a max pool between the groups. Convolutions use "same"
padding and pools round up, so it builds from 8x8 images up.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# One module: its name, then #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
# The paper's Table 1, in three groups with a 3x3/2 max pool between them.
GOOGLENET_STAGES = (
    (("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64))),
    (
        ("4a", (192, 96, 208, 16, 48, 64)),
        ("4b", (160, 112, 224, 24, 64, 64)),
        ("4c", (128, 128, 256, 24, 64, 64)),
        ("4d", (112, 144, 288, 32, 64, 64)),
        ("4e", (256, 160, 320, 32, 128, 128)),
    ),
    (("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128))),
)
# The lab's default: half the filters of 3a, 3b | 4a, 4b | 5b.
STAGES = (
    (("3a", (32, 48, 64, 8, 16, 16)), ("3b", (64, 64, 96, 16, 48, 32))),
    (("4a", (96, 48, 104, 8, 24, 32)), ("4b", (80, 56, 112, 12, 32, 32))),
    (("5b", (192, 96, 192, 24, 64, 64)),),
)
# Filters of the small stem's 3x3 convolution.
SMALL_STEM_FILTERS = 64
# Auxiliary classifiers follow these modules (the paper's 4a and 4d).
AUX_AFTER = ("4a", "4d")


def inception_module(x, filters: tuple[int, int, int, int, int, int], *, name: str, tricks: Tricks):
    """Four branches, concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max pool -> 1x1.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5 and pool proj, as in the
            paper's Table 1.
        name: a prefix, e.g. "inception3a"; layers are "inception3a_1x1_conv",
            "_3x3_reduce_conv", "_3x3_conv", "_5x5_reduce_conv", "_5x5_conv", "_pool",
            "_pool_proj_conv" and "_concat". The module's output has #1x1 + #3x3 + #5x5 +
            pool proj channels.
        tricks: the training tricks to apply.
    """
    ones, reduce3, threes, reduce5, fives, projection = filters
    branch1 = blocks.conv_block(x, ones, 1, name=f"{name}_1x1_conv", tricks=tricks)
    branch3 = blocks.conv_block(x, reduce3, 1, name=f"{name}_3x3_reduce_conv", tricks=tricks)
    branch3 = blocks.conv_block(branch3, threes, 3, name=f"{name}_3x3_conv", tricks=tricks)
    branch5 = blocks.conv_block(x, reduce5, 1, name=f"{name}_5x5_reduce_conv", tricks=tricks)
    branch5 = blocks.conv_block(branch5, fives, 5, name=f"{name}_5x5_conv", tricks=tricks)
    # No tricks here: spatial dropout belongs after a stage, not inside a branch.
    pooled = blocks.pool(x, name=f"{name}_pool", pool_size=3, strides=1, padding="same")
    pooled = blocks.conv_block(pooled, projection, 1, name=f"{name}_pool_proj_conv", tricks=tricks)
    return keras.layers.Concatenate(name=f"{name}_concat")([branch1, branch3, branch5, pooled])


def build_inception(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    stages=STAGES,
    stem: str = "small",
    auxiliary: bool = False,
) -> keras.Model:
    """Build an Inception network: a stem, groups of inception modules, global pooling.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        stages: groups of (name, filters) modules, with a 3x3/2 max pool between groups;
            defaults to `STAGES` (`GOOGLENET_STAGES` is the paper's).
        stem: "small" (one 3x3 convolution, a max pool) or "imagenet" (the paper's);
            defaults to "small".
        auxiliary: add the auxiliary classifiers after the modules in `AUX_AFTER`; the
            model's outputs are then [prediction, auxiliary predictions...]. Defaults to
            False.
    """
    tricks = blocks.resolve_tricks(tricks)
    if stem not in ("small", "imagenet"):
        raise ValueError(f"Invalid `stem`. Expected 'small' or 'imagenet'. Received: {stem!r}.")

    def max_pool(x, name):
        return blocks.pool(x, name=name, tricks=tricks, pool_size=3, strides=2, padding="same")

    inputs = keras.Input(shape=input_shape, name="input")
    if stem == "imagenet":
        x = blocks.conv_block(inputs, 64, 7, strides=2, name="block1_conv1", tricks=tricks)
        x = max_pool(x, "block1_pool")
        x = blocks.conv_block(x, 64, 1, name="block2_conv1", tricks=tricks)
        x = blocks.conv_block(x, 192, 3, name="block2_conv2", tricks=tricks)
        x = max_pool(x, "block2_pool")
    else:
        x = blocks.conv_block(inputs, SMALL_STEM_FILTERS, 3, name="block1_conv1", tricks=tricks)
        x = max_pool(x, "block1_pool")
    heads = []
    for index, modules in enumerate(stages):
        for module, filters in modules:
            x = inception_module(x, filters, name=f"inception{module}", tricks=tricks)
            if auxiliary and module in AUX_AFTER:
                dense = 1024 if stem == "imagenet" else 256
                heads.append(auxiliary_head(x, num_classes, dense, name=f"aux{module}", tricks=tricks))
        if index < len(stages) - 1:
            x = max_pool(x, f"block{modules[-1][0][0]}_pool")
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, [outputs, *heads] if heads else outputs, name="inception")


def build_inception_aux(input_shape, num_classes: int, *, tricks: Tricks | None = None) -> keras.Model:
    """The scaled Inception network with its auxiliary classifier (see `build_inception`)."""
    return build_inception(input_shape, num_classes, tricks=tricks, auxiliary=True)


def auxiliary_head(x, num_classes: int, units: int, *, name: str, tricks: Tricks):
    """GoogLeNet's auxiliary classifier: 5x5/3 average pool, 1x1 conv (128), dense
    (`units`, ReLU), 70% dropout, softmax. Layers are named "<name>_pool" ... "<name>_predictions"."""
    # The paper's 14x14 maps pool to 4x4 ("valid"); a scaled network's smaller maps keep
    # at least one cell.
    padding = "valid" if min(x.shape[1], x.shape[2]) >= 5 else "same"
    x = keras.layers.AveragePooling2D(5, strides=3, padding=padding, name=f"{name}_pool")(x)
    x = blocks.conv_block(x, 128, 1, name=f"{name}_conv", tricks=tricks)
    x = blocks.flatten(x, name=f"{name}_flatten")
    x = keras.layers.Dense(units, activation="relu", name=f"{name}_fc",
                           kernel_initializer=blocks.kernel_initializer(tricks),
                           kernel_regularizer=blocks.kernel_regularizer(tricks))(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return blocks.classifier_head(x, num_classes, tricks=tricks, name=f"{name}_predictions")
