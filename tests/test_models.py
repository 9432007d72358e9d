"""Tests for cnnlab.models: published parameter counts, shapes, tricks and error texts."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from cnnlab.config import Tricks
from cnnlab.models import architecture_names, build_model, get_architecture
from cnnlab.models.backbones import is_backbone

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)]
# The lab's own architectures; the pretrained backbones have tests of their own.
ARCHITECTURES = [name for name in architecture_names() if not is_backbone(name)]


def _layers_of(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def _kernels(model):
    return [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]


# -- registry ---------------------------------------------------------------------------


def test_registry_lists_architectures():
    assert architecture_names()[:3] == ["small_convnet", "lenet5", "deep_plain"]
    assert get_architecture("small_convnet").title == "Small convnet (lectures)"


def test_registry_import_does_not_import_tensorflow():
    code = (
        "import cnnlab.models, sys; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"architecture": "resnet18", "input_shape": (32, 32, 3), "num_classes": 10},
            "Unknown `architecture`. Expected one of ['small_convnet', 'lenet5', 'deep_plain', ",
        ),
        (
            {"architecture": "lenet5", "input_shape": (4, 4, 1), "num_classes": 10},
            "`input_shape` is too small for 'lenet5'. Expected height and width of at least "
            "8 pixels. Received: (4, 4, 1). Resize the images to at least 8x8 pixels.",
        ),
        (
            {"architecture": "small_convnet", "input_shape": (32, 32), "num_classes": 10},
            "Invalid `input_shape` for 'small_convnet'. Expected (height, width, channels)",
        ),
        (
            {"architecture": "small_convnet", "input_shape": (32, 32, 3), "num_classes": 0},
            "Invalid `num_classes`. Expected a whole number >= 1",
        ),
    ],
)
def test_build_model_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        build_model(**kwargs)
    assert str(error.value).startswith(message)


# -- published parameter counts ---------------------------------------------------------


@pytest.mark.parametrize(
    "architecture, input_shape, num_classes, expected",
    [
        # Chollet, Deep Learning with Python, 5.2: model.summary() of the cats-vs-dogs net.
        ("small_convnet", (150, 150, 3), 1, 3_453_121),
        # LeNet-5 on 32x32 digits, and the common 28x28 MNIST variant (C1 "same").
        ("lenet5", (32, 32, 1), 10, 61_706),
        ("lenet5", (28, 28, 1), 10, 61_706),
    ],
)
def test_published_parameter_counts(architecture, input_shape, num_classes, expected):
    model = build_model(architecture, input_shape, num_classes)
    assert model.count_params() == expected


# -- shapes and forward pass ------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("input_shape", SHAPES)
def test_forward_pass_gives_softmax_rows(architecture, input_shape):
    num_classes = 3
    model = build_model(architecture, input_shape, num_classes)
    images = np.random.default_rng(0).random((2, *input_shape), dtype=np.float32)
    outputs = model(images, training=False)
    # inception_aux also outputs its auxiliary head's: every output is a softmax.
    for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        probabilities = keras.ops.convert_to_numpy(output)
        assert probabilities.shape == (2, num_classes)
        assert np.all(probabilities >= 0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_one_class_means_one_sigmoid_unit(architecture):
    model = build_model(architecture, (32, 32, 3), 1)
    head = model.get_layer("predictions")
    assert head.units == 1
    assert head.activation is keras.activations.sigmoid


@pytest.mark.parametrize(
    "input_shape, first_conv_shape",
    [((150, 150, 3), (148, 148, 32)), ((46, 46, 3), (44, 44, 32)), ((45, 45, 3), (45, 45, 32))],
)
def test_small_convnet_padding_rule(input_shape, first_conv_shape):
    model = build_model("small_convnet", input_shape, 2)
    assert model.get_layer("block1_conv1").output.shape[1:] == first_conv_shape


def test_layer_names():
    model = build_model(
        "small_convnet", (32, 32, 3), 10, tricks=Tricks(dropout_rate=0.5, batch_norm=True)
    )
    names = [layer.name for layer in model.layers]
    expected = ["input"]
    for block in range(1, 5):
        expected += [f"block{block}_{kind}" for kind in ("conv1", "bn1", "act1", "pool")]
    expected += ["flatten", "fc1_dropout", "fc1", "fc1_act", "predictions"]
    assert names == expected


# -- tricks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "architecture, batch_norm, expected", [
        ("small_convnet", True, 4),
        ("small_convnet", False, 0),
        ("lenet5", True, 2),
        ("lenet5", False, 0),
    ],
)
def test_batch_norm_adds_layers(architecture, batch_norm, expected):
    model = build_model(architecture, (32, 32, 1), 10, tricks=Tricks(batch_norm=batch_norm))
    assert len(_layers_of(model, keras.layers.BatchNormalization)) == expected
    # BN carries its own shift, so the convolutions drop their bias exactly when it is on.
    convolutions = _layers_of(model, keras.layers.Conv2D)
    assert [conv.use_bias for conv in convolutions] == [not batch_norm] * len(convolutions)


@pytest.mark.parametrize(
    "architecture, rate, expected", [
        ("small_convnet", 0.5, ["fc1_dropout"]),
        ("small_convnet", 0.0, []),
        ("lenet5", 0.5, ["fc1_dropout"]),
        ("lenet5", 0.0, []),
    ],
)
def test_dropout_adds_layers(architecture, rate, expected):
    model = build_model(architecture, (32, 32, 1), 10, tricks=Tricks(dropout_rate=rate))
    dropouts = _layers_of(model, keras.layers.Dropout)
    assert [layer.name for layer in dropouts] == expected
    assert all(layer.rate == rate for layer in dropouts)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("l2", [0.01, 0.0])
def test_l2_penalty_matches_numpy(architecture, l2):
    model = build_model(architecture, (28, 28, 1), 10, tricks=Tricks(l2=l2))
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    kernels = _kernels(model)
    assert kernels, "every architecture has kernels to penalize"
    expected = l2 * sum(float(np.sum(np.square(kernel, dtype=np.float64))) for kernel in kernels)
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    if l2 == 0:
        assert model.losses == []
    else:
        assert len(model.losses) == len(kernels)
        np.testing.assert_allclose(penalty, expected, rtol=1e-5)
