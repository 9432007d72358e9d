"""The convolution explorer's engine against Keras: shapes, counts, feature maps, fields."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnlab.convolution import (
    KERNELS,
    LayerStep,
    apply_kernel,
    conv_macs,
    conv_params,
    output_size,
    pool,
    receptive_field,
    to_grey,
    validate_kernel,
)
from cnnlab.models.summary import summarize

# Every (side, kernel, padding, stride, dilation) that Keras accepts, over small sides.
GRID = [(n, k, padding, stride, dilation)
        for n, k, padding, stride, dilation in itertools.product(
            (5, 8, 13), (1, 3, 5), ("valid", "same"), (1, 2, 3), (1, 2))
        if not (stride > 1 and dilation > 1) and dilation * (k - 1) + 1 <= n]
RNG = np.random.default_rng(0)


@pytest.mark.parametrize("n, k, padding, stride, dilation", GRID)
def test_output_size_params_and_macs_equal_keras(n, k, padding, stride, dilation):
    in_channels, filters = 3, 4
    layer = keras.layers.Conv2D(filters, k, strides=stride, padding=padding, dilation_rate=dilation)
    inputs = keras.Input((n, n + 1, in_channels))
    model = keras.Model(inputs, layer(inputs))
    height = output_size(n, k, padding=padding, stride=stride, dilation=dilation)
    width = output_size(n + 1, k, padding=padding, stride=stride, dilation=dilation)
    assert model.output_shape[1:] == (height.size, width.size, filters)
    assert conv_params(k, in_channels, filters) == model.count_params()
    expected_macs = conv_macs(height.size * width.size, k * k, in_channels, filters)
    assert summarize(model).macs == expected_macs  # the summary counts with the same function
    assert expected_macs == height.size * width.size * filters * k * k * in_channels


@pytest.mark.parametrize("n, k, padding, stride, dilation", GRID[::3])
def test_kernel_application_equals_conv2d(n, k, padding, stride, dilation):
    image = RNG.random((n, n + 2), dtype=np.float32)
    kernel = RNG.normal(size=(k, k)).astype(np.float32)
    layer = keras.layers.Conv2D(1, k, strides=stride, padding=padding, dilation_rate=dilation, use_bias=False)
    layer.build((None, n, n + 2, 1))
    layer.set_weights([kernel[:, :, None, None]])
    expected = keras.ops.convert_to_numpy(layer(image[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(apply_kernel(image, kernel, padding=padding, stride=stride, dilation=dilation),
                               expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, size, stride, padding",
                         list(itertools.product(("max", "average"), (2, 3), (1, 2, 3), ("valid", "same"))))
def test_pooling_equals_keras(kind, size, stride, padding):
    feature_map = RNG.normal(size=(9, 7)).astype(np.float32)
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    expected = keras.ops.convert_to_numpy(
        cls(size, strides=stride, padding=padding)(feature_map[None, :, :, None]))[0, :, :, 0]
    result = pool(feature_map, kind=kind, pool_size=size, stride=stride, padding=padding)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    assert result.shape == (output_size(9, size, padding=padding, stride=stride).size,
                            output_size(7, size, padding=padding, stride=stride).size)


def test_named_kernels_do_what_they_say():
    # A vertical edge: dark left half, bright right half.
    image = np.zeros((8, 8), np.float32)
    image[:, 4:] = 1.0
    sobel_x = apply_kernel(image, KERNELS["Sobel x (vertical edges)"])
    sobel_y = apply_kernel(image, KERNELS["Sobel y (horizontal edges)"])
    assert np.abs(sobel_x).max() == 4.0 and np.abs(sobel_y).max() == 0.0
    np.testing.assert_array_equal(apply_kernel(image, KERNELS["Identity"], padding="same"), image)
    blurred = apply_kernel(image, KERNELS["Blur (box 3x3)"])  # output column j reads columns j..j+2
    np.testing.assert_allclose(blurred[:, 1:5], [[0, 1 / 3, 2 / 3, 1]] * 6, atol=1e-6)


def test_receptive_field_equals_a_keras_stack_gradient():
    """The input pixels that move the centre output of a real Keras stack = the formula."""
    steps = [LayerStep("conv", 3), LayerStep("conv", 3, dilation=2), LayerStep("pool", 2, stride=2),
             LayerStep("conv", 5, stride=2), LayerStep("conv", 3)]
    inputs = keras.Input((64, 64, 1))
    x = inputs
    for step in steps:
        if step.kind == "pool":
            x = keras.layers.AveragePooling2D(step.kernel_size, strides=step.stride)(x)
        else:
            x = keras.layers.Conv2D(1, step.kernel_size, strides=step.stride, dilation_rate=step.dilation,
                                    kernel_initializer="ones", use_bias=False)(x)
    model = keras.Model(inputs, x)
    image = tf.ones((1, 64, 64, 1))
    with tf.GradientTape() as tape:
        tape.watch(image)
        output = model(image)
        centre = output[0, output.shape[1] // 2, output.shape[2] // 2, 0]
    gradient = tape.gradient(centre, image).numpy()[0, :, :, 0]
    rows = np.flatnonzero(np.abs(gradient).sum(axis=1))
    rows_seen = rows.max() - rows.min() + 1
    fields = receptive_field(steps)
    assert fields[-1]["receptive_field"] == rows_seen == 1 + 2 + 4 + 1 + 4 * 2 + 2 * 4
    assert [row["jump"] for row in fields] == [1, 1, 2, 4, 4]


def test_formulas_read_with_their_numbers():
    assert output_size(28, 3).formula == "floor((28 - 3) / 1) + 1 = 26"
    same = output_size(28, 3, padding="same", stride=2)
    assert same.size == 14 and same.formula == "ceil(28 / 2) = 14, padded by 0 + 1 zeros"
    assert "k' = 2 x (3 - 1) + 1 = 5" in output_size(28, 3, dilation=2).formula
    assert output_size(3, 5).size == 0


@pytest.mark.parametrize("bad, message", [
    (dict(n=0, kernel_size=3), "`n`"), (dict(n=8, kernel_size=3, padding="full"), "`padding`"),
    (dict(n=8, kernel_size=3, stride=0), "`stride`"), (dict(n=8, kernel_size=2.5), "`kernel_size`"),
])
def test_bad_arithmetic_input_is_refused_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        output_size(**bad)


def test_bad_kernels_and_settings_are_refused_clearly():
    with pytest.raises(ValueError, match="3x3 or 5x5"):
        validate_kernel([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="number in every cell"):
        validate_kernel([[1, None, 0], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="between"):
        validate_kernel(np.full((3, 3), 1e9))
    with pytest.raises(ValueError, match="Cannot combine"):
        apply_kernel(np.zeros((8, 8)), np.ones((3, 3)), stride=2, dilation=2)
    with pytest.raises(ValueError, match="Expected"):
        to_grey(np.zeros((4, 4, 2)))
    assert validate_kernel([[0] * 5] * 5).shape == (5, 5)
