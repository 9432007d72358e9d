"""Model-side tricks change the built network the way the lectures say."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnlab.config import Tricks
from cnnlab.models import build_model


def _layer_names(model):
    return [layer.name for layer in model.layers]


@pytest.mark.parametrize("placement, architecture, expected_type, expected_names", [
    ("before_dense", "lenet5", keras.layers.Dropout, ["fc1_dropout"]),
    ("every_dense", "lenet5", keras.layers.Dropout, ["fc1_dropout", "fc2_dropout"]),
    ("spatial", "lenet5", keras.layers.SpatialDropout2D, ["block1_spatial_dropout", "block2_spatial_dropout"]),
    ("spatial", "small_convnet", keras.layers.SpatialDropout2D,
     [f"block{i}_spatial_dropout" for i in range(1, 5)]),
])
def test_dropout_placement(placement, architecture, expected_type, expected_names):
    model = build_model(architecture, (32, 32, 1), 10,
                        tricks=Tricks(dropout_rate=0.3, dropout_placement=placement))
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)
                or isinstance(layer, keras.layers.SpatialDropout2D)]
    assert [layer.name for layer in dropouts] == expected_names
    assert all(isinstance(layer, expected_type) and layer.rate == 0.3 for layer in dropouts)
    names = _layer_names(model)
    if placement == "every_dense":  # after the dense layer's activation, not in front of it
        assert names.index("fc1_dropout") == names.index("fc1_act") + 1
    if placement == "before_dense":
        assert names.index("fc1_dropout") == names.index("flatten") + 1


@pytest.mark.parametrize("position, order", [
    ("before_activation", ["block1_conv1", "block1_bn1", "block1_act1"]),
    ("after_activation", ["block1_conv1", "block1_act1", "block1_bn1"]),
])
def test_batch_norm_position(position, order):
    model = build_model("small_convnet", (16, 16, 1), 10,
                        tricks=Tricks(batch_norm=True, batch_norm_position=position))
    names = _layer_names(model)
    assert [name for name in names if name.startswith("block1_") and "pool" not in name] == order


@pytest.mark.parametrize("architecture, input_shape", [
    # The families are covered in test_architectures.py; these are the rest, and a
    # keras.applications backbone, whose BN layers come with momentum 0.999.
    ("small_convnet", (16, 16, 1)), ("lenet5", (16, 16, 1)), ("deep_plain", (16, 16, 1)),
    ("pretrained_mobilenet_v2", (32, 32, 3)),
])
def test_every_batch_norm_layer_takes_the_tricks_momentum(architecture, input_shape):
    if architecture.startswith("pretrained_"):
        from cnnlab.models.pretrained import build_transfer_model

        model = build_transfer_model(architecture, input_shape, 10, weights=None,
                                     tricks=Tricks(batch_norm_momentum=0.7))
        layers = model.get_layer("base").layers
    else:
        model = build_model(architecture, input_shape, 10,
                            tricks=Tricks(batch_norm=True, batch_norm_momentum=0.7))
        layers = model.layers
    momenta = [layer.momentum for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert momenta and set(momenta) == {0.7}
    # The momentum is part of the saved architecture, so the exported train.py has it too.
    assert '"momentum": 0.7' in model.to_json()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid"])
def test_activation_replaces_the_architectures_own(activation):
    model = build_model("lenet5", (28, 28, 1), 10, tricks=Tricks(activation=activation))
    hidden = [layer for layer in model.layers if layer.name.endswith("act") or "_act" in layer.name]
    assert hidden and all(layer.activation.__name__ == activation for layer in hidden)
    default = build_model("lenet5", (28, 28, 1), 10)
    assert {layer.activation.__name__ for layer in default.layers if "_act" in layer.name} == {"tanh"}


@pytest.mark.parametrize("initializer, expected_std", [
    # The reference formulas: std of the initial weights for fan_in inputs, fan_out outputs.
    ("standard_normal", lambda fan_in, fan_out: 1.0),
    ("he_normal", lambda fan_in, fan_out: np.sqrt(2.0 / fan_in)),
    ("he_uniform", lambda fan_in, fan_out: np.sqrt(2.0 / fan_in)),
    ("lecun_normal", lambda fan_in, fan_out: np.sqrt(1.0 / fan_in)),
    ("glorot_normal", lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out))),
    ("glorot_uniform", lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out))),
    (None, lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out))),  # Keras' default
])
def test_initializer_sets_the_weight_scale(initializer, expected_std):
    keras.utils.set_random_seed(0)
    model = build_model("small_convnet", (32, 32, 3), 10, tricks=Tricks(initializer=initializer))
    kernel = model.get_layer("fc1").kernel.numpy()  # 512 x 512: plenty of samples
    fan_in, fan_out = kernel.shape
    # Truncated normals have a slightly smaller spread than their nominal std.
    assert kernel.std() == pytest.approx(expected_std(fan_in, fan_out), rel=0.15)


@pytest.mark.parametrize("l1, l2", [(0.01, 0.0), (0.0, 0.01), (0.01, 0.02)])
def test_l1_and_l2_penalties_match_numpy(l1, l2):
    model = build_model("lenet5", (28, 28, 1), 10, tricks=Tricks(l1=l1, l2=l2))
    model(np.zeros((1, 28, 28, 1), dtype=np.float32))
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in model.layers if hasattr(layer, "kernel")]
    expected = sum(l1 * np.abs(k).sum() + l2 * np.square(k).sum() for k in kernels)
    penalty = sum(float(loss) for loss in model.losses)
    assert penalty == pytest.approx(expected, rel=1e-5)


def _gradient_norms(model, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    kernels = [weight for weight in model.trainable_weights if weight.path.endswith("kernel")]
    gradients = tape.gradient(loss, kernels)
    return [float(tf.norm(g)) for g in gradients]


@pytest.mark.parametrize("tricks, low, high", [
    # Sigmoid with N(0, 1) weights: the first layer's gradient two orders of magnitude below
    # the last layer's; with Keras' default (Glorot) weights the sigmoid's slope alone makes
    # it vanish by more than four; ReLU with He initialization, with or without batch norm,
    # keeps the layers within an order of magnitude of each other.
    (Tricks(activation="sigmoid", initializer="standard_normal"), 0.0, 1e-2),
    (Tricks(activation="sigmoid"), 0.0, 1e-4),
    (Tricks(activation="relu", initializer="he_normal"), 1e-1, 1e2),
    (Tricks(activation="relu", initializer="he_normal", batch_norm=True), 1e-1, 1e2),
])
def test_gradients_vanish_with_sigmoid_and_not_with_relu_and_he(tricks, low, high):
    from cnnlab.data import load_dataset

    data = load_dataset("digits", image_size=16)
    ratios = []
    for seed in range(3):  # a geometric mean over initializations, not one lucky draw
        keras.utils.set_random_seed(seed)
        model = build_model("deep_plain", data.input_shape, data.num_classes, tricks=tricks)
        norms = _gradient_norms(model, data.x_train[:64], data.y_train[:64])
        assert len(norms) == 10
        ratios.append(norms[0] / norms[-1])
    ratio = float(np.exp(np.mean(np.log(ratios))))
    assert low < ratio < high, ratios
