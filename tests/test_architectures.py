"""The lectures' architectures: published parameter and multiply-add counts, tricks, training.

References: the papers' own tables (ResNet Table 6 and its FLOP figures, GoogLeNet Table 1,
MobileNet Table 8, MobileNetV2 Table 4, EfficientNet Table 2), keras.applications built
with weights=None, and torchvision's and osmr/imgclsmob's published parameter counts.
Keras counts a BN layer's moving mean and variance as parameters and PyTorch does not, so
PyTorch figures are compared with the trainable count. The full-size reference models are
built once each (`_reference`); nothing big is trained.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest

from cnnlab.config import Tricks
from cnnlab.models import (
    alexnet,
    build_model,
    densenet,
    efficientnet,
    inception,
    mobilenet,
    nin,
    resnet,
    vgg,
)
from cnnlab.models.registry import get_architecture
from cnnlab.models.summary import summarize
from cnnlab.training.train_step import wrap

# The architectures of this issue; and one per family module for the (slower) training
# check: efficientnet_small's MBConv is MobileNetV2's inverted residual block plus SE, and
# resnet8 is plain20 with shortcuts, so those two stand for mobilenet_v2 and plain20.
ARCHITECTURES = [
    "alexnet", "vgg11", "vgg13", "vgg16", "nin", "inception", "resnet8", "resnet20",
    "resnet56", "resnet34", "resnet50", "plain20", "plain56", "densenet", "mobilenet",
    "mobilenet_half", "mobilenet_v2", "efficientnet_small",
]
FAMILIES = [
    "alexnet", "vgg11", "nin", "inception", "resnet8", "densenet", "mobilenet_half",
    "efficientnet_small",
]
BN = Tricks(batch_norm=True)
CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def _macs(model) -> int:
    """Multiply-adds per image, as the lab counts them (rules in cnnlab/summary.py)."""
    return summarize(model).macs


def _of_type(model, *classes):
    return [layer for layer in model.layers if type(layer) in classes]


# Full-size configurations, built once each and shared by the count tables.
REFERENCES = {
    "resnet34_10": lambda: resnet.build_resnet34((224, 224, 3), 10, tricks=BN),
    "resnet34": lambda: resnet.build_resnet34((224, 224, 3), 1000, tricks=BN),
    "resnet50": lambda: resnet.build_resnet50((224, 224, 3), 1000, tricks=BN),
    "vgg16": lambda: vgg.build_vgg(
        (224, 224, 3), 1000, depth=16, widths=vgg.PAPER_WIDTHS, dense_units=vgg.PAPER_DENSE_UNITS
    ),
    "alexnet_one_gpu": lambda: alexnet.build_alexnet(
        (224, 224, 3), 1000, widths=alexnet.ONE_GPU_WIDTHS, first_kernel_size=11,
        first_strides=4, dense_units=alexnet.PAPER_DENSE_UNITS,
    ),
    "alexnet_paper": lambda: alexnet.build_alexnet(
        (227, 227, 3), 1000, widths=alexnet.PAPER_WIDTHS, first_kernel_size=11,
        first_strides=4, dense_units=alexnet.PAPER_DENSE_UNITS,
    ),
    "nin_paper": lambda: nin.build_nin((32, 32, 3), 10, widths=nin.PAPER_WIDTHS),
    "googlenet": lambda: inception.build_inception(
        (224, 224, 3), 1000, stages=inception.GOOGLENET_STAGES, stem="imagenet"
    ),
    "densenet_bc40": lambda: densenet.build_densenet((32, 32, 3), 10, tricks=BN),
    "densenet121": lambda: densenet.build_densenet(
        (224, 224, 3), 1000, tricks=BN, dense_blocks=densenet.DENSENET121_BLOCKS,
        growth_rate=32, stem="imagenet",
    ),
    "mobilenet": lambda: mobilenet.build_mobilenet((224, 224, 3), 1000, tricks=BN, stem_strides=2),
    "mobilenet_half": lambda: mobilenet.build_mobilenet(
        (224, 224, 3), 1000, tricks=BN, stem_strides=2, alpha=0.5
    ),
    "mobilenet_v2": lambda: mobilenet.build_mobilenet_v2(
        (224, 224, 3), 1000, tricks=BN, stem_strides=2
    ),
    "efficientnet_b0": lambda: efficientnet.build_efficientnet((224, 224, 3), 1000, tricks=BN),
}


@functools.cache
def _reference(key: str) -> keras.Model:
    return REFERENCES[key]()


@functools.cache
def _keras_application(name: str, **kwargs) -> tuple[int, int]:
    """(total, trainable) parameters of a keras.applications model with random weights."""
    model = getattr(keras.applications, name)(weights=None, **kwargs)
    return model.count_params(), _trainable(model)


# -- published parameter counts ---------------------------------------------------------


@pytest.mark.parametrize("key, total, trainable", [
    # The lectures' model summary of ResNet-34 for 10 classes: BN after every convolution
    # (4 weights per channel in Keras' count), 1x1 projections with BN, no conv biases.
    ("resnet34_10", 21_306_826, None),
    # torchvision's published counts (PyTorch counts no BN moving statistics).
    ("resnet34", None, 21_797_672),
    ("resnet50", None, 25_557_032),
    # keras.applications.VGG16(weights=None) and torchvision's vgg16.
    ("vgg16", 138_357_544, None),
    # torchvision's AlexNet (the one-GPU widths) and the paper's widths without the GPU
    # split (osmr/imgclsmob's "AlexNet", 62,378,344).
    ("alexnet_one_gpu", 61_100_840, None),
    ("alexnet_paper", 62_378_344, None),
    # osmr/imgclsmob's nin_cifar10 and densenet40_k12_bc_cifar10 (PyTorch counts).
    ("nin_paper", 966_986, None),
    ("densenet_bc40", None, 176_122),
    # keras.applications.DenseNet121(weights=None).
    ("densenet121", 8_062_504, None),
])
def test_published_parameter_counts(key, total, trainable):
    model = _reference(key)
    if total is not None:
        assert model.count_params() == total
    if trainable is not None:
        assert _trainable(model) == trainable


@pytest.mark.parametrize("key, application, kwargs", [
    ("mobilenet", "MobileNet", {}),
    ("mobilenet_half", "MobileNet", {"alpha": 0.5}),
    ("mobilenet_v2", "MobileNetV2", {}),
    # EfficientNetB0 also holds a Normalization layer's 7 statistics: compare trainables.
    ("efficientnet_b0", "EfficientNetB0", {}),
])
def test_parameter_counts_match_keras_applications(key, application, kwargs):
    total, trainable = _keras_application(application, **kwargs)
    model = _reference(key)
    assert _trainable(model) == trainable
    if application != "EfficientNetB0":
        assert model.count_params() == total
    else:
        assert total - model.count_params() == 7


@pytest.mark.parametrize("depth, paper_millions, exact", [
    # He et al., Table 6 (0.27M, 0.46M, 0.66M, 0.85M), with option A shortcuts.
    (20, 0.27, 269_722),
    (32, 0.46, 464_154),
    (44, 0.66, 658_586),
    (56, 0.85, 853_018),
])
def test_cifar_resnets_match_table_6(depth, paper_millions, exact):
    stages = resnet.cifar_stages(depth)
    residual = resnet.build_resnet((32, 32, 3), 10, tricks=BN, stages=stages)
    plain = resnet.build_resnet((32, 32, 3), 10, tricks=BN, stages=stages, residual=False)
    assert round(_trainable(residual) / 1e6, 2) == paper_millions
    assert _trainable(residual) == _trainable(plain) == exact


# -- published multiply-add counts ------------------------------------------------------


@pytest.mark.parametrize("key, paper, unit", [
    # ResNet paper, Table 1: 3.6 and 3.8 billion FLOPs (multiply-adds) at 224 px.
    ("resnet34", 3.6e9, 0.1e9),
    ("resnet50", 3.8e9, 0.1e9),
    # MobileNet Table 8: 569 million Mult-Adds; MobileNetV2 Table 4: 300 million.
    ("mobilenet", 569e6, 1e6),
    ("mobilenet_v2", 300e6, 1e6),
    # EfficientNet Table 2: B0, 0.39 billion FLOPs.
    ("efficientnet_b0", 0.39e9, 0.01e9),
])
def test_multiply_adds_match_the_papers(key, paper, unit):
    # The papers round to `unit`; the count must be within one unit.
    assert abs(_macs(_reference(key)) - paper) < unit


@pytest.mark.parametrize("module, ops_millions", [
    # GoogLeNet, Table 1 "ops" at 224 px. Module 5a is left out: the table's 54M does not
    # follow from its own filter counts (those give 51.1M, and 1,018K parameters against
    # its 1,072K), an error in the table.
    ("block2_conv", 360), ("inception3a_", 128), ("inception3b_", 304), ("inception4a_", 73),
    ("inception4b_", 88), ("inception4c_", 100), ("inception4d_", 119), ("inception4e_", 170),
    ("inception5b_", 71),
])
def test_googlenet_multiply_adds_match_table_1(module, ops_millions):
    layers = summarize(_reference("googlenet")).layers
    macs = sum(layer.macs for layer in layers if layer.name.startswith(module))
    assert abs(macs / 1e6 - ops_millions) < 1


# -- the plain switch -------------------------------------------------------------------


def _without_shortcuts(model):
    return [
        (layer.name, type(layer).__name__) for layer in model.layers
        if not layer.name.endswith("_add") and "_shortcut_" not in layer.name
    ]


@pytest.mark.parametrize(
    "residual_name, plain_name", [("resnet20", "plain20"), ("resnet56", "plain56")]
)
def test_plain_networks_are_resnets_without_shortcuts(residual_name, plain_name):
    residual = build_model(residual_name, (32, 32, 3), 10, tricks=BN)
    plain = build_model(plain_name, (32, 32, 3), 10, tricks=BN)
    blocks = 3 * resnet.cifar_stages(int(residual_name[len("resnet"):]))[0]
    assert len(_of_type(residual, keras.layers.Add)) == blocks
    assert _of_type(plain, keras.layers.Add) == []
    # Only the additions and the (parameter-free) shortcut layers differ.
    assert _without_shortcuts(residual) == _without_shortcuts(plain) == [
        (layer.name, type(layer).__name__) for layer in plain.layers
    ]
    assert residual.count_params() == plain.count_params()


def test_plain_resnet34_lacks_exactly_the_projections():
    residual = _reference("resnet34_10")
    plain = resnet.build_resnet(
        (224, 224, 3), 10, tricks=BN, stages=resnet.RESNET34_STAGES, widths=resnet.IMAGENET_WIDTHS,
        stem="imagenet", shortcut="projection", residual=False,
    )
    assert _of_type(plain, keras.layers.Add) == []
    assert _without_shortcuts(residual) == [
        (layer.name, type(layer).__name__) for layer in plain.layers
    ]
    # Three projections (1x1 convolution + BN), where stages 2 to 4 change the shape.
    projections = [layer for layer in residual.layers if "_shortcut_" in layer.name]
    assert len(projections) == 6
    assert residual.count_params() - plain.count_params() == sum(
        layer.count_params() for layer in projections
    ) == (64 * 128 + 128 * 256 + 256 * 512) + 4 * (128 + 256 + 512)


# -- every architecture: shapes, softmax, tricks ----------------------------------------


def test_registry_lists_the_architectures():
    for name in ARCHITECTURES:
        info = get_architecture(name)
        assert info.paper and info.title and info.builder.startswith("cnnlab.models.")


def _softmax_rows(model, input_shape, num_classes):
    images = np.random.default_rng(0).random((2, *input_shape), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(images, training=False))
    assert probabilities.shape == (2, num_classes)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_default_build_is_plain_and_gives_softmax(architecture):
    model = build_model(architecture, (32, 32, 3), 10)
    _softmax_rows(model, (32, 32, 3), 10)
    head = model.get_layer("predictions")
    assert head.units == 10 and head.activation is keras.activations.softmax
    assert _of_type(model, keras.layers.BatchNormalization) == []
    assert _of_type(model, keras.layers.Dropout, keras.layers.SpatialDropout2D) == []
    assert model.losses == []
    assert all(layer.use_bias for layer in _of_type(model, *CONVOLUTIONS))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tricks_reach_every_layer(architecture):
    tricks = Tricks(
        batch_norm=True, batch_norm_momentum=0.7, dropout_rate=0.3, l2=0.01, activation="elu",
        initializer="he_normal"
    )
    model = build_model(architecture, (28, 28, 1), 10, tricks=tricks)
    _softmax_rows(model, (28, 28, 1), 10)
    convolutions = _of_type(model, *CONVOLUTIONS)
    # Squeeze-and-excitation convolutions act on 1x1 summaries; they keep their bias.
    normalized = [layer for layer in convolutions if "_se_" not in layer.name]
    # One BN per convolution (DenseNet: its bare stem convolution has none, its final
    # BN-ReLU one more), and the convolutions' biases dropped.
    assert len(_of_type(model, keras.layers.BatchNormalization)) == len(normalized) > 0
    assert not any(layer.use_bias for layer in normalized)
    # Every BN's moving statistics follow the trick's momentum, not Keras' 0.99.
    assert {layer.momentum for layer in _of_type(model, keras.layers.BatchNormalization)} == {0.7}
    # The default placement: dropout once, in front of the first dense layer.
    dropouts = _of_type(model, keras.layers.Dropout)
    assert [layer.name for layer in dropouts] in (["fc1_dropout"], ["predictions_dropout"])
    assert dropouts[0].rate == 0.3
    # The hidden activations are the trick's; only the output and SE gates keep theirs.
    activations = _of_type(model, keras.layers.Activation)
    assert activations and {layer.activation.__name__ for layer in activations} == {"elu"}
    # He initialization and the L2 penalty on every kernel, dense and convolutional.
    kernels = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            assert isinstance(layer.depthwise_initializer, keras.initializers.HeNormal)
            kernels.append(layer.kernel)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            assert isinstance(layer.kernel_initializer, keras.initializers.HeNormal)
            kernels.append(layer.kernel)
    assert len(model.losses) == len(kernels)
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    expected = 0.01 * sum(
        float(np.sum(np.square(keras.ops.convert_to_numpy(kernel), dtype=np.float64)))
        for kernel in kernels
    )
    np.testing.assert_allclose(penalty, expected, rtol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_spatial_dropout_at_the_smallest_size(architecture):
    size = get_architecture(architecture).min_input_size
    tricks = Tricks(dropout_rate=0.2, dropout_placement="spatial")
    model = build_model(architecture, (size, size, 1), 3, tricks=tricks)
    _softmax_rows(model, (size, size, 1), 3)
    spatial = _of_type(model, keras.layers.SpatialDropout2D)
    assert len(spatial) >= 2 and all(layer.rate == 0.2 for layer in spatial)
    assert all(layer.name.endswith("_spatial_dropout") for layer in spatial)
    assert _of_type(model, keras.layers.Dropout) == []


def test_one_class_means_one_sigmoid_unit():
    model = build_model("resnet8", (32, 32, 3), 1)
    head = model.get_layer("predictions")
    assert head.units == 1 and head.activation is keras.activations.sigmoid


# -- training ---------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", FAMILIES)
def test_each_family_trains_one_step(architecture):
    keras.utils.set_random_seed(0)
    tricks = Tricks(batch_norm=True, dropout_rate=0.2, l2=1e-4)
    model = wrap(build_model(architecture, (32, 32, 3), 10, tricks=tricks))
    # SGD, not Adam: tracing Adam's per-variable update costs 3 to 4 times longer for a
    # 100-layer graph on a CPU, and the optimizer is not what is under test.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    images = rng.random((8, 32, 32, 3), dtype=np.float32)
    labels = rng.integers(0, 10, size=8)
    before = [keras.ops.convert_to_numpy(weight).copy() for weight in model.trainable_weights]
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [keras.ops.convert_to_numpy(weight) for weight in model.trainable_weights]
    assert all(not np.array_equal(old, new) for old, new in zip(before, after) if old.ndim == 4)


def test_zero_padded_shortcut_survives_save_and_load(tmp_path):
    model = build_model("resnet8", (16, 16, 3), 4)
    assert _of_type(model, resnet.ZeroPadChannels)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images)),
        keras.ops.convert_to_numpy(model(images)),
        rtol=1e-5,
    )


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("build, message", [
    (lambda: resnet.cifar_stages(21), "Invalid `depth` for a CIFAR-style ResNet. Expected 6n + 2"),
    (
        lambda: vgg.build_vgg((32, 32, 3), 10, depth=12),
        "Invalid `depth` for VGG. Expected one of [11, 13, 16, 19]",
    ),
    (
        lambda: mobilenet.build_mobilenet((32, 32, 3), 10, alpha=0),
        "Invalid `alpha`. Expected a width multiplier > 0",
    ),
])
def test_invalid_configurations(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert str(error.value).startswith(message)


def test_googlenet_auxiliary_classifiers_follow_the_paper():
    """Section 5: on 4a and 4d, a 5x5/3 average pool gives 4x4x512 and 4x4x528 maps, then
    a 1x1 convolution with 128 filters, 1024 ReLU units, 70% dropout and the softmax."""
    model = inception.build_inception((224, 224, 3), 1000, stages=inception.GOOGLENET_STAGES,
                                      stem="imagenet", auxiliary=True)
    assert model.output_names == ["predictions", "aux4a_predictions", "aux4d_predictions"]
    for head, channels in (("aux4a", 512), ("aux4d", 528)):
        assert model.get_layer(f"{head}_pool").output.shape[1:] == (4, 4, channels)
        assert model.get_layer(f"{head}_conv").count_params() == channels * 128 + 128
        assert model.get_layer(f"{head}_fc").count_params() == 4 * 4 * 128 * 1024 + 1024
        assert model.get_layer(f"{head}_dropout").rate == 0.7
        assert model.get_layer(f"{head}_predictions").output.shape[1:] == (1000,)
    plain = inception.build_inception((224, 224, 3), 1000, stages=inception.GOOGLENET_STAGES,
                                      stem="imagenet")
    # The heads add parameters but leave the main network as it was.
    assert model.count_params() - plain.count_params() == sum(
        c * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000 for c in (512, 528))
    scaled = build_model("inception_aux", (16, 16, 1), 10)
    assert [layer.name for layer in scaled.layers if layer.name.endswith("_predictions")] == ["aux4a_predictions"]
