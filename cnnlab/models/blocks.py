"""Shared layer helpers: the one place where the training tricks become layers.

Why: every architecture builds its layers only through these helpers, so a trick (a new
regularizer, a kernel initializer, batch normalization before or after the activation, a
dropout placement) is added here once and every architecture gains it. The helpers also
fix the layer names: a convolution named `block2_conv1` gets `block2_bn1` and
`block2_act1` beside it, and a dense layer `fc1` gets `fc1_act` and, in front of it,
`fc1_dropout`, so pages can find layers by name.

Each helper takes and returns a Keras Functional-API tensor.
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
    activation: str = "relu",
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
        activation: the architecture's activation function; defaults to "relu".
    """
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        padding=padding,
        use_bias=not tricks.batch_norm,
        kernel_initializer=kernel_initializer(tricks),
        kernel_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)
    act = keras.layers.Activation(_activation(tricks, activation), name=_sibling_name(name, "act"))
    if not tricks.batch_norm:
        return act(x)
    normalize = keras.layers.BatchNormalization(name=_sibling_name(name, "bn"))
    if tricks.batch_norm_position == "before_activation":
        return act(normalize(x))
    return normalize(act(x))


def dense_block(x, units: int, *, name: str, tricks: Tricks, activation: str = "relu"):
    """Dense -> Activation: one hidden dense layer, with dropout where the trick puts it.

    Dropout placements (Srivastava et al., 2014): "before_dense" drops units of the first
    dense layer's input, right after Flatten, as the lectures' small convnet does;
    "every_dense" drops units after every hidden dense layer; "spatial" puts no dropout
    here (see `pool`).

    Args:
        x: input tensor of shape (batch, features).
        units: number of units.
        name: the dense layer's name, e.g. "fc1" (the first one must be "fc1"); its
            dropout is "fc1_dropout" and its activation "fc1_act".
        tricks: the training tricks to apply.
        activation: the architecture's activation function; defaults to "relu".
    """
    if tricks.dropout_placement == "before_dense" and name == FIRST_DENSE:
        x = dropout(x, name=f"{name}_dropout", tricks=tricks)
    x = keras.layers.Dense(
        units,
        kernel_initializer=kernel_initializer(tricks),
        kernel_regularizer=kernel_regularizer(tricks),
        name=name,
    )(x)
    activation = _activation(tricks, activation)
    x = keras.layers.Activation(activation, name=_sibling_name(name, "act"))(x)
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


def pool(x, *, name: str, tricks: Tricks | None = None, kind: str = "max", padding: str = "valid"):
    """2x2 pooling with stride 2, halving height and width; it closes a conv block.

    With the "spatial" dropout placement, SpatialDropout2D follows: it drops whole feature
    maps, since neighbouring pixels of one map are too correlated for per-pixel dropout to
    regularize (Tompson et al., 2015).

    Args:
        x: input tensor of shape (batch, height, width, channels).
        name: the layer's name, e.g. "block1_pool"; the spatial dropout is
            "block1_spatial_dropout".
        tricks: the training tricks to apply; defaults to None (no dropout).
        kind: "max" or "average"; defaults to "max".
        padding: "valid" (floor of half) or "same" (ceiling of half, so a 1-pixel map
            stays 1 pixel); defaults to "valid".
    """
    layers = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}
    assert kind in layers, kind  # Builders pass a literal; a typo is a bug here.
    x = layers[kind](pool_size=2, strides=2, padding=padding, name=name)(x)
    if tricks is not None and tricks.dropout_placement == "spatial" and tricks.dropout_rate > 0:
        block = name.removesuffix("_pool")
        x = keras.layers.SpatialDropout2D(tricks.dropout_rate, name=f"{block}_spatial_dropout")(x)
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
