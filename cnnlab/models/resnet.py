"""ResNet: residual blocks whose shortcuts let very deep networks train, and their plain twins.

Paper: K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016 (arXiv:1512.03385).

A residual block learns F(x) and outputs relu(F(x) + x): the identity shortcut carries the
signal and the gradient past the block unchanged, and a block that has nothing to add
only needs to learn F = 0, which is easier than learning the identity. The paper's "plain" networks are the same stacks without the
shortcuts; past about 20 layers they train *worse* the deeper they get (the degradation
problem, the paper's Figure 1), which `residual=False` lets a class watch.

Two layouts, both from the paper:
- CIFAR-style (section 4.2): a 3x3 convolution with 16 filters, then three stages of n
  basic blocks with 16, 32 and 64 filters (6n + 2 weight layers: ResNet-20, -56 ...); when
  a stage halves the map and doubles the filters, the shortcut subsamples and pads the new
  channels with zeros (option A), which has no parameters, so a plain network has exactly
  as many parameters as its residual twin. Table 6: 0.27M parameters for ResNet-20 and
  0.85M for ResNet-56, which `build_resnet` reproduces with batch normalization on.
- ImageNet-style (Table 1): a 7x7/2 convolution with 64 filters and a 3x3/2 max pool, four
  stages of basic blocks (ResNet-18/34) or bottleneck blocks (ResNet-50/101/152) with 64,
  128, 256 and 512 filters (times 4 at a bottleneck's output), and a 1x1 projection with
  BN on the shortcut wherever the shape changes (option B). With batch normalization on,
  ResNet-34 for 10 classes has 21,306,826 parameters (21,797,672 trainable for 1,000
  classes, as torchvision counts) and ResNet-50 has 25,557,032 trainable for 1,000. Its
  plain twin has no projections, so it is smaller by those (175,616 for plain-34).
  A bottleneck block strides in its first 1x1 convolution, as the paper's code and
  keras.applications do: 3.8 billion multiply-adds for ResNet-50 at 224 px, the paper's
  figure (torchvision's "v1.5" strides in the 3x3 instead: same parameters, 4.1 billion).

Batch normalization is a trick here as everywhere in the lab: the paper puts BN after every
convolution, `Tricks(batch_norm=True)` does the same, and with it off each convolution gets
its bias back. The paper has no dropout; the trick's dropout goes in front of the output
layer ("before_dense", "every_dense") or after each stage ("spatial").
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks
from cnnlab.models import blocks

# CIFAR-style stage widths (section 4.2).
CIFAR_WIDTHS = (16, 32, 64)
# ImageNet-style stage widths (Table 1); a bottleneck block outputs 4 times as many.
IMAGENET_WIDTHS = (64, 128, 256, 512)
# Blocks per stage of the ImageNet-style networks (Table 1).
RESNET34_STAGES = (3, 4, 6, 3)
RESNET50_STAGES = (3, 4, 6, 3)
# A bottleneck block's output has this many times its inner width.
BOTTLENECK_EXPANSION = 4


@keras.saving.register_keras_serializable(package="cnnlab")
class ZeroPadChannels(keras.layers.Layer):
    """Append zero-valued feature maps: the parameter-free shortcut of option A.

    Why a layer of its own: the identity shortcut must match the residual branch's wider
    output, and zeros add nothing and cost no parameters, so residual and plain networks
    stay the same size. A named layer (not a Lambda) survives `model.save`.

    Args:
        extra_channels: how many zero maps to append.
    """

    def __init__(self, extra_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.extra_channels = extra_channels

    def call(self, inputs):
        return keras.ops.pad(inputs, [[0, 0], [0, 0], [0, 0], [0, self.extra_channels]])

    def compute_output_shape(self, input_shape):
        *rest, channels = input_shape
        return (*rest, None if channels is None else channels + self.extra_channels)

    def get_config(self):
        return {**super().get_config(), "extra_channels": self.extra_channels}


def cifar_stages(depth: int) -> tuple[int, int, int]:
    """Blocks per stage of a CIFAR-style ResNet of `depth` weight layers: 6n + 2 -> (n, n, n)."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            "Invalid `depth` for a CIFAR-style ResNet. Expected 6n + 2 weight layers with "
            f"n >= 1, such as 8, 20, 32, 44 or 56. Received: {depth!r}."
        )
    n = (depth - 2) // 6
    return (n, n, n)


def _shortcut(x, filters: int, strides: int, *, name: str, tricks: Tricks, kind: str):
    """The shortcut of a block whose output has `filters` channels and `strides` stride.

    Identity when the shape is kept; otherwise option A (subsample, pad with zero maps) or
    option B (a 1x1 projection convolution with BN, no activation).
    """
    channels = x.shape[-1]
    if strides == 1 and channels == filters:
        return x
    if kind == "projection":
        return blocks.conv_block(
            x, filters, 1, strides=strides, name=f"{name}_shortcut_conv", tricks=tricks,
            activation=None,
        )
    assert kind == "zero_pad" and filters >= channels, (kind, filters, channels)
    if strides != 1:
        # A 1x1 pool with stride 2 keeps every other pixel: the paper's subsampling.
        x = keras.layers.MaxPooling2D(
            pool_size=1, strides=strides, padding="same", name=f"{name}_shortcut_pool"
        )(x)
    if filters > channels:
        x = ZeroPadChannels(filters - channels, name=f"{name}_shortcut_pad")(x)
    return x


def _merge(x, shortcut, *, name: str, tricks: Tricks, residual: bool, activation: str):
    """relu(F(x) + shortcut) for a residual block; relu(F(x)) for its plain twin."""
    if residual:
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return blocks.activate(x, name=f"{name}_act", tricks=tricks, activation=activation)


def residual_block(
    x,
    filters: int,
    *,
    name: str,
    tricks: Tricks,
    strides: int = 1,
    shortcut: str = "projection",
    residual: bool = True,
    activation: str = "relu",
):
    """The basic block: two 3x3 convolutions, their sum with the shortcut, then ReLU.

    Why two convolutions: the residual F(x) needs a non-linearity inside to be more than a
    linear map; the second convolution is linear (BN but no activation) so that the sum,
    not the branch, is activated, as in the paper's Figure 2.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: filters of both convolutions and of the block's output.
        name: a prefix, e.g. "stage2_block1"; layers are "stage2_block1_conv1",
            "_conv2", "_shortcut_conv" (or "_shortcut_pool", "_shortcut_pad"), "_add" and
            "_act".
        tricks: the training tricks to apply.
        strides: stride of the first convolution (2 halves the map); defaults to 1.
        shortcut: "projection" (option B: 1x1 convolution where the shape changes) or
            "zero_pad" (option A: subsample and pad with zero maps); defaults to
            "projection".
        residual: False builds the paper's plain block: no shortcut and no addition;
            defaults to True.
        activation: the architecture's activation function; defaults to "relu".
    """
    skip = None
    if residual:
        skip = _shortcut(x, filters, strides, name=name, tricks=tricks, kind=shortcut)
    y = blocks.conv_block(
        x, filters, 3, strides=strides, name=f"{name}_conv1", tricks=tricks, activation=activation
    )
    y = blocks.conv_block(y, filters, 3, name=f"{name}_conv2", tricks=tricks, activation=None)
    return _merge(y, skip, name=name, tricks=tricks, residual=residual, activation=activation)


def bottleneck_block(
    x,
    filters: int,
    *,
    name: str,
    tricks: Tricks,
    strides: int = 1,
    residual: bool = True,
    activation: str = "relu",
):
    """The bottleneck block: 1x1 reduce, 3x3, 1x1 expand to 4 x `filters`, plus the shortcut.

    Why: the 1x1 convolutions shrink the channels the expensive 3x3 convolution sees, so a
    50-layer network costs about as much as a 34-layer one of basic blocks (section 4.1,
    "Deeper Bottleneck Architectures"). The shortcut is a 1x1 projection wherever the
    shape changes (option B).

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: the inner width; the block outputs 4 x `filters` channels.
        name: a prefix, e.g. "stage2_block1"; layers "_conv1" to "_conv3",
            "_shortcut_conv", "_add" and "_act".
        tricks: the training tricks to apply.
        strides: stride of the first 1x1 convolution (and of the shortcut); defaults to 1.
        residual: False drops the shortcut and the addition; defaults to True.
        activation: the architecture's activation function; defaults to "relu".
    """
    outputs = BOTTLENECK_EXPANSION * filters
    skip = None
    if residual:
        skip = _shortcut(x, outputs, strides, name=name, tricks=tricks, kind="projection")
    y = blocks.conv_block(
        x, filters, 1, strides=strides, name=f"{name}_conv1", tricks=tricks, activation=activation
    )
    y = blocks.conv_block(y, filters, 3, name=f"{name}_conv2", tricks=tricks, activation=activation)
    y = blocks.conv_block(y, outputs, 1, name=f"{name}_conv3", tricks=tricks, activation=None)
    return _merge(y, skip, name=name, tricks=tricks, residual=residual, activation=activation)


def build_resnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    stages: tuple[int, ...] = (3, 3, 3),
    widths: tuple[int, ...] = CIFAR_WIDTHS,
    stem: str = "cifar",
    block: str = "basic",
    shortcut: str = "zero_pad",
    residual: bool = True,
    name: str = "resnet",
) -> keras.Model:
    """Build a ResNet (or, with `residual=False`, its plain twin) of any layout.

    Defaults are the paper's CIFAR-style ResNet-20. All convolutions use "same" padding
    and the stem's pool rounds up, so every layout builds from 8x8 images up (the map just
    stops shrinking at 1x1).

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
        stages: blocks per stage; defaults to (3, 3, 3). Every stage after the first
            halves the map with a stride-2 first block.
        widths: filters of each stage (a bottleneck stage outputs 4 times as many);
            defaults to `CIFAR_WIDTHS`, (16, 32, 64).
        stem: "cifar" (a 3x3 convolution with the first width) or "imagenet"
            (7x7/2 convolution with the first width, 3x3/2 max pool); defaults to "cifar".
        block: "basic" or "bottleneck"; defaults to "basic".
        shortcut: for basic blocks, "zero_pad" (option A) or "projection" (option B);
            bottleneck blocks always project. Defaults to "zero_pad".
        residual: False removes every shortcut and addition (the plain network);
            defaults to True.
        name: the model's name; defaults to "resnet".
    """
    tricks = blocks.resolve_tricks(tricks)
    if len(stages) != len(widths):
        raise ValueError(
            f"`stages` and `widths` must have the same length. Received: stages={stages}, "
            f"widths={widths}."
        )
    if block not in ("basic", "bottleneck"):
        raise ValueError(f"Invalid `block`. Expected 'basic' or 'bottleneck'. Received: {block!r}.")
    if stem not in ("cifar", "imagenet"):
        raise ValueError(f"Invalid `stem`. Expected 'cifar' or 'imagenet'. Received: {stem!r}.")

    inputs = keras.Input(shape=input_shape, name="input")
    if stem == "imagenet":
        x = blocks.conv_block(inputs, widths[0], 7, strides=2, name="stem_conv1", tricks=tricks)
        x = blocks.pool(x, name="stem_pool", tricks=tricks, pool_size=3, strides=2, padding="same")
    else:
        x = blocks.conv_block(inputs, widths[0], 3, name="stem_conv1", tricks=tricks)
    for stage, (count, filters) in enumerate(zip(stages, widths), start=1):
        for index in range(1, count + 1):
            strides = 2 if stage > 1 and index == 1 else 1
            prefix = f"stage{stage}_block{index}"
            if block == "basic":
                x = residual_block(
                    x, filters, name=prefix, tricks=tricks, strides=strides, shortcut=shortcut,
                    residual=residual,
                )
            else:
                x = bottleneck_block(
                    x, filters, name=prefix, tricks=tricks, strides=strides, residual=residual
                )
        x = blocks.spatial_dropout(x, name=f"stage{stage}_spatial_dropout", tricks=tricks)
    x = blocks.global_pool(x, tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks)
    return keras.Model(inputs, outputs, name=name)


def _cifar(depth: int, residual: bool):
    """A registry builder for the CIFAR-style network of `depth` layers."""
    kind = "resnet" if residual else "plain"

    def build(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
        return build_resnet(
            input_shape, num_classes, tricks=tricks, stages=cifar_stages(depth),
            residual=residual, name=f"{kind}{depth}",
        )

    build.__name__ = f"build_{kind}{depth}"
    build.__doc__ = (
        f"Build the CIFAR-style {'ResNet' if residual else 'plain network'}-{depth} "
        f"(6n + 2 = {depth}, n = {(depth - 2) // 6}); see `build_resnet` for the arguments."
    )
    return build


build_resnet8 = _cifar(8, residual=True)
build_resnet20 = _cifar(20, residual=True)
build_resnet56 = _cifar(56, residual=True)
build_plain20 = _cifar(20, residual=False)
build_plain56 = _cifar(56, residual=False)


def build_resnet34(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build the ImageNet-style ResNet-34: basic blocks [3, 4, 6, 3], projection shortcuts.

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    return build_resnet(
        input_shape, num_classes, tricks=tricks, stages=RESNET34_STAGES, widths=IMAGENET_WIDTHS,
        stem="imagenet", shortcut="projection", name="resnet34",
    )


def build_resnet50(input_shape, num_classes, *, tricks: Tricks | None = None) -> keras.Model:
    """Build the ImageNet-style ResNet-50: bottleneck blocks [3, 4, 6, 3].

    Args:
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    return build_resnet(
        input_shape, num_classes, tricks=tricks, stages=RESNET50_STAGES, widths=IMAGENET_WIDTHS,
        stem="imagenet", block="bottleneck", name="resnet50",
    )
