"""Shared layer helpers: the one place where the training tricks become layers.

Why: every architecture builds its layers only through these helpers, so a trick (a new
regularizer, a kernel initializer, batch normalization before or after the activation, a
dropout placement) is added here once and every architecture gains it. The helpers also
fix the layer names: a convolution named `block2_conv1` gets `block2_bn1` and
`block2_act1` beside it, and a dense layer `fc1` gets `fc1_act` and, in front of it,
`fc1_dropout`, so pages can find layers by name.

Each helper takes and returns a Keras Functional-API tensor. Compound blocks (residual,
inception, dense, inverted residual with squeeze-and-excitation) live in their family's
module and are made only of these helpers, so the tricks reach them too.
"""

from __future__ import annotations

import keras

from cnnlab.config import Tricks

# The first hidden dense layer's name in every architecture; "before_dense" dropout sits
# in front of it.
FIRST_DENSE = "fc1"


def resolve_tricks(tricks: Tricks | None) -> Tricks:
    """`tricks`, or the defaults (no dropout, no batch normalization, no L2) for None."""
    return Tricks() if tricks is None else tricks


def kernel_regularizer(tricks: Tricks) -> keras.regularizers.Regularizer | None:
    """The penalty on every kernel: l1 * sum|w| + l2 * sum(w^2), or None when both are 0.

    Biases and batch-normalization parameters are never penalized, as in the lectures:
    the penalty is there to keep the weights that mix inputs small.
    """
    if tricks.l1 > 0 and tricks.l2 > 0:
        return keras.regularizers.L1L2(l1=tricks.l1, l2=tricks.l2)
    if tricks.l1 > 0:
        return keras.regularizers.L1(tricks.l1)
    if tricks.l2 > 0:
        return keras.regularizers.L2(tricks.l2)
    return None


def kernel_initializer(tricks: Tricks) -> str | keras.initializers.Initializer:
    """The initializer of every kernel: the trick's, else Keras' default (Glorot uniform).

    "standard_normal" is the lectures' N(0, 1): weights far too large for deep sigmoid
    networks, whose units then saturate and pass back vanishing gradients.
    """
    if tricks.initializer == "standard_normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=1.0)
    return tricks.initializer or "glorot_uniform"


def batch_normalization(name: str, tricks: Tricks) -> keras.layers.BatchNormalization:
    """A BatchNormalization layer whose moving statistics follow `tricks.batch_norm_momentum`.

    Why not Keras' default momentum (0.99): see `Tricks.batch_norm_momentum`.
    """
    return keras.layers.BatchNormalization(momentum=tricks.batch_norm_momentum, name=name)


def _activation(tricks: Tricks, activation: str) -> str:
    """The activation a block uses: the trick's if set, else the architecture's own."""
    return tricks.activation or activation


def _sibling_name(name: str, kind: str) -> str:
    """The name of a layer beside `name`: 'block1_conv2' -> 'block1_bn2', 'fc1' -> 'fc1_act'."""
    prefix, found, suffix = name.rpartition("conv")
    if found:
        return f"{prefix}{kind}{suffix}"
    return f"{name}_{kind}"


def conv_block(
    x,
    filters: int,
    kernel_size: int | tuple[int, int],
    *,
    name: str,
    tricks: Tricks,
    padding: str = "same",
    activation: str | None = "relu",
    strides: int = 1,
):
    """Conv2D -> BatchNormalization (if `tricks.batch_norm`) -> Activation, or BN last.

    Why this order by default: batch normalization normalizes the convolution's output
    before the non-linearity (Ioffe and Szegedy, 2015); `batch_norm_position` puts it after
    the activation instead, the variant many practitioners prefer. BN carries its own shift
    (beta), so the convolution's bias would be redundant and is dropped when BN is on.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: number of convolution filters.
        kernel_size: side length of the kernels, or (height, width).
        name: the convolution's name, e.g. "block1_conv1"; the BN and activation layers
            are named by replacing "conv" with "bn" and "act" ("block1_bn1", "block1_act1").
        tricks: the training tricks to apply.
        padding: "same" or "valid"; defaults to "same".
        activation: the architecture's activation function; defaults to "relu". None means
            a linear convolution (a residual branch's last one, a shortcut projection, a
            linear bottleneck): no activation layer, and the trick's activation does not
            replace it either, since the architecture wants none there.
        strides: the convolution's stride; defaults to 1.
    """
    x = conv2d(x, filters, kernel_size, name=name, tricks=tricks, strides=strides, padding=padding)
    return _normalize_and_activate(x, name=name, tricks=tricks, activation=activation)


def conv2d(
    x,
    filters: int,
    kernel_size: int | tuple[int, int],
    *,
    name: str,
    tricks: Tricks,
    strides: int = 1,
    padding: str = "same",
):
    """A bare Conv2D with the trick's initializer and L1/L2; no bias when BN is on.

    Why bare: a pre-activation network's first convolution (DenseNet's stem) is followed by
    the next layer's own BN and activation, not by its own. The bias is dropped with BN on
    because that next BN carries the shift, as in `conv_block`.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: number of convolution filters.
        kernel_size: side length of the kernels, or (height, width).
        name: the layer's name, e.g. "stem_conv1".
        tricks: the training tricks to apply.
        strides: the convolution's stride; defaults to 1.
        padding: "same" or "valid"; defaults to "same".
    """
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=not tricks.batch_norm,
        kernel_initializer=kernel_initializer(tricks),
        kernel_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)


def depthwise_conv_block(
    x,
    kernel_size: int,
    *,
    name: str,
    tricks: Tricks,
    strides: int = 1,
    padding: str = "same",
    activation: str | None = "relu",
):
    """DepthwiseConv2D -> BatchNormalization (if on) -> Activation: one filter per channel.

    Why: a depthwise convolution filters each input channel on its own and a 1x1
    convolution then mixes the channels; together they cost about 1/k^2 + 1/filters of a
    full k x k convolution (Howard et al., 2017). BN, its position, the initializer and the
    L1/L2 penalty apply to the depthwise kernel exactly as `conv_block` applies them.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        kernel_size: side length of the kernels.
        name: the layer's name, e.g. "block1_dwconv"; BN and activation are named by
            replacing "conv" with "bn" and "act" ("block1_dwbn", "block1_dwact").
        tricks: the training tricks to apply.
        strides: the convolution's stride; defaults to 1.
        padding: "same" or "valid"; defaults to "same".
        activation: the architecture's activation function, or None for none; defaults
            to "relu".
    """
    x = keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=not tricks.batch_norm,
        depthwise_initializer=kernel_initializer(tricks),
        depthwise_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)
    return _normalize_and_activate(x, name=name, tricks=tricks, activation=activation)


def preactivation_conv_block(
    x,
    filters: int,
    kernel_size: int | tuple[int, int],
    *,
    name: str,
    tricks: Tricks,
    strides: int = 1,
    padding: str = "same",
    activation: str = "relu",
):
    """BatchNormalization (if on) -> Activation -> Conv2D: the pre-activation order.

    Why: DenseNet's composite function (Huang et al., 2017) and pre-activation ResNets
    normalize and activate a layer's *input*, so that concatenated or added feature maps
    reach every convolution normalized. `batch_norm_position` "after_activation" swaps the
    first two. The convolution drops its bias when BN is on, as in `conv_block`: the next
    layer's BN carries the shift.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        filters: number of convolution filters.
        kernel_size: side length of the kernels, or (height, width).
        name: the convolution's name, e.g. "block1_layer1_conv1"; the BN and activation in
            front of it are "block1_layer1_bn1" and "block1_layer1_act1".
        tricks: the training tricks to apply.
        strides: the convolution's stride; defaults to 1.
        padding: "same" or "valid"; defaults to "same".
        activation: the architecture's activation function; defaults to "relu".
    """
    x = normalize_and_activate(x, name=name, tricks=tricks, activation=activation)
    return conv2d(
        x, filters, kernel_size, name=name, tricks=tricks, strides=strides, padding=padding
    )


def normalize_and_activate(x, *, name: str, tricks: Tricks, activation: str = "relu"):
    """BatchNormalization (if on) and Activation, in `batch_norm_position`'s order.

    Why on its own: pre-activation networks end with one (DenseNet's last BN-ReLU before
    global pooling), and `preactivation_conv_block` starts with one.

    Args:
        x: input tensor.
        name: the name of the convolution the layers belong to ("block1_conv1" gives
            "block1_bn1" and "block1_act1"), or a prefix without "conv" ("final" gives
            "final_bn" and "final_act").
        tricks: the training tricks to apply.
        activation: the architecture's activation function; defaults to "relu".
    """
    act = keras.layers.Activation(_activation(tricks, activation), name=_sibling_name(name, "act"))
    if not tricks.batch_norm:
        return act(x)
    normalize = batch_normalization(_sibling_name(name, "bn"), tricks)
    if tricks.batch_norm_position == "before_activation":
        return act(normalize(x))
    return normalize(act(x))


def activate(x, *, name: str, tricks: Tricks, activation: str = "relu"):
    """An Activation layer: the trick's activation if set, else the architecture's own.

    Why: a residual block activates after the addition, where no convolution helper is;
    this keeps the trick's activation reaching that layer too.

    Args:
        x: input tensor.
        name: the layer's name, e.g. "stage1_block1_act".
        tricks: the training tricks to apply.
        activation: the architecture's activation function; defaults to "relu".
    """
    return keras.layers.Activation(_activation(tricks, activation), name=name)(x)


def _normalize_and_activate(x, *, name: str, tricks: Tricks, activation: str | None):
    """What follows a convolution: BN and activation, or BN alone for a linear one."""
    if activation is not None:
        return normalize_and_activate(x, name=name, tricks=tricks, activation=activation)
    if tricks.batch_norm:
        return batch_normalization(_sibling_name(name, "bn"), tricks)(x)
    return x


def dense_block(x, units: int, *, name: str, tricks: Tricks, activation: str = "relu"):
    """Dense -> BatchNormalization (if `tricks.batch_norm_dense`) -> Activation, with dropout
    where the trick puts it.

    Batch normalization sits before the activation (Ioffe and Szegedy, 2015), where it makes
    the dense layer's bias redundant (BN's beta shifts instead), so the bias is dropped; or
    after it (`batch_norm_position`), where the bias stays, as in the lectures' dense
    network (deck 002, 271,346 parameters).

    Dropout placements (Srivastava et al., 2014): "before_dense" drops units of the first
    dense layer's input, right after Flatten, as the lectures' small convnet does;
    "every_dense" drops units after every hidden dense layer; "spatial" puts no dropout
    here (see `pool`).

    Args:
        x: input tensor of shape (batch, features).
        units: number of units.
        name: the dense layer's name, e.g. "fc1" (the first one must be "fc1"); its
            dropout is "fc1_dropout", its batch norm "fc1_bn" and its activation "fc1_act".
        tricks: the training tricks to apply.
        activation: the architecture's activation function; defaults to "relu".
    """
    if tricks.dropout_placement == "before_dense" and name == FIRST_DENSE:
        x = dropout(x, name=f"{name}_dropout", tricks=tricks)
    normalize_first = tricks.batch_norm_dense and tricks.batch_norm_position == "before_activation"
    x = keras.layers.Dense(
        units,
        use_bias=not normalize_first,
        kernel_initializer=kernel_initializer(tricks),
        kernel_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)
    act = keras.layers.Activation(_activation(tricks, activation), name=_sibling_name(name, "act"))
    if not tricks.batch_norm_dense:
        x = act(x)
    elif normalize_first:
        x = act(batch_normalization(_sibling_name(name, "bn"), tricks)(x))
    else:
        x = batch_normalization(_sibling_name(name, "bn"), tricks)(act(x))
    if tricks.dropout_placement == "every_dense":
        x = dropout(x, name=f"{name}_dropout", tricks=tricks)
    return x


def dropout(x, *, name: str, tricks: Tricks):
    """Dropout with `tricks.dropout_rate`; no layer at all when the rate is 0.

    Why no layer at rate 0: the model summary then shows exactly the tricks that are on.

    Args:
        x: input tensor.
        name: the layer's name, e.g. "fc1_dropout".
        tricks: the training tricks to apply.
    """
    if tricks.dropout_rate > 0:
        return keras.layers.Dropout(tricks.dropout_rate, name=name)(x)
    return x


def pool(
    x,
    *,
    name: str,
    tricks: Tricks | None = None,
    kind: str = "max",
    padding: str = "valid",
    pool_size: int = 2,
    strides: int = 2,
):
    """Pooling, 2x2 with stride 2 by default, halving height and width; it closes a block.

    With the "spatial" dropout placement, SpatialDropout2D follows: it drops whole feature
    maps, since neighbouring pixels of one map are too correlated for per-pixel dropout to
    regularize (Tompson et al., 2015).

    Args:
        x: input tensor of shape (batch, height, width, channels).
        name: the layer's name, e.g. "block1_pool"; the spatial dropout is
            "block1_spatial_dropout".
        tricks: the training tricks to apply; defaults to None (no dropout, as inside an
            inception module's pooling branch).
        kind: "max" or "average"; defaults to "max".
        padding: "valid" (floor of half) or "same" (ceiling of half, so a 1-pixel map
            stays 1 pixel); defaults to "valid".
        pool_size: side of the pooling window; defaults to 2 (3 is the overlapping pooling
            of AlexNet, GoogLeNet and ResNet).
        strides: the pooling stride; defaults to 2.
    """
    layers = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}
    assert kind in layers, kind  # Builders pass a literal; a typo is a bug here.
    x = layers[kind](pool_size=pool_size, strides=strides, padding=padding, name=name)(x)
    if tricks is not None:
        x = spatial_dropout(x, name=f"{name.removesuffix('_pool')}_spatial_dropout", tricks=tricks)
    return x


def spatial_dropout(x, *, name: str, tricks: Tricks):
    """SpatialDropout2D under the "spatial" placement with a rate above 0; else nothing.

    Why separate from `pool`: networks that downsample with strided convolutions (ResNet,
    MobileNet, EfficientNet) have no pool to close a stage, so they call this at the end of
    each stage instead.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        name: the layer's name, e.g. "stage2_spatial_dropout".
        tricks: the training tricks to apply.
    """
    if tricks.dropout_placement == "spatial" and tricks.dropout_rate > 0:
        return keras.layers.SpatialDropout2D(tricks.dropout_rate, name=name)(x)
    return x


def global_pool(x, *, tricks: Tricks, name: str = "avg_pool"):
    """Global average pooling, one number per feature map, then the head's dropout.

    Why: Network-in-Network (Lin et al., 2014) replaced the large dense layers by the mean
    of each map, and GoogLeNet, ResNet, DenseNet, MobileNet and EfficientNet followed. Such
    a network's first dense layer is its output layer, so the "before_dense" and
    "every_dense" placements both put their dropout here, named "predictions_dropout"
    (GoogLeNet's 40% dropout sits at this very place); "spatial" dropout sits in the
    stages instead.

    Args:
        x: input tensor of shape (batch, height, width, channels).
        tricks: the training tricks to apply.
        name: the pooling layer's name; defaults to "avg_pool".
    """
    x = keras.layers.GlobalAveragePooling2D(name=name)(x)
    if tricks.dropout_placement in ("before_dense", "every_dense"):
        x = dropout(x, name="predictions_dropout", tricks=tricks)
    return x


def flatten(x, *, name: str = "flatten"):
    """Flatten the feature maps into one vector per image, for the dense layers."""
    return keras.layers.Flatten(name=name)(x)


def classifier_head(x, num_classes: int, *, tricks: Tricks, name: str = "predictions"):
    """The output layer: class probabilities.

    Why two shapes: `num_classes` == 1 means a binary problem with ONE sigmoid unit (the
    lectures' cats-vs-dogs model, trained with binary cross-entropy); otherwise a softmax
    over `num_classes` units. The L2 penalty reaches this kernel too, like every other.

    Args:
        x: input tensor of shape (batch, features).
        num_classes: number of classes; 1 for a single sigmoid unit.
        tricks: the training tricks to apply.
        name: the layer's name; defaults to "predictions".
    """
    return keras.layers.Dense(
        num_classes,
        activation="sigmoid" if num_classes == 1 else "softmax",
        kernel_initializer=kernel_initializer(tricks),
        kernel_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)
