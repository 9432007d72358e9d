"""Pretrained backbones from keras.applications, with a new head, frozen or fine-tuned.

Why a wrapper around `keras.applications.<Name>(include_top=False, weights="imagenet")`:
the lab's images are small, often grayscale, and scaled to [0, 1], while each backbone
wants three channels, a minimum size and its own input scaling. The model built here
fixes all three inside the graph (so a saved model takes the lab's images as they are),
and it checks Keras' cache for the weights file before Keras tries a download, which
offline would fail with a bare URL error or, on a network that drops packets, hang.

Layout of a transfer model (the names are stable; pages find layers by them):

    input -> [resize] -> [to_rgb] -> preprocess -> base -> [head_dropout] -> predictions

`resize` (a Resizing layer) exists only where the images are smaller than the backbone's
minimum; `to_rgb` (a Concatenate of the one channel three times) only for grayscale;
`preprocess` is a small sub-model that scales [0, 1] to 0-255 and applies the
application module's own `preprocess_input`; `base` is the keras.applications network
with `pooling="avg"`; the new head is the lab's dropout (from `tricks`) and a softmax
Dense named "predictions", the name of every architecture's output layer in the lab.

Transfer learning follows Keras' guide (https://keras.io/guides/transfer_learning/): the
base is called with `training=False`, so its BatchNormalization layers always run in
inference mode and never update their statistics, frozen or not; fine-tuning unfreezes
only the top of the base, and BatchNormalization layers stay frozen even there.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass

import keras

from cnnlab.config import Tricks
from cnnlab.data import keras_datasets
from cnnlab.models import blocks
from cnnlab.models.backbones import APPLICATION_MIN_SIZES
from cnnlab.models.info import validate_input_shape

# Where set_trainable puts a model's trainable weights: "all" trains everything (no
# transfer), "feature_extraction" freezes the base, "fine_tune" trains its top layers.
TRAINABLE_MODES = ("all", "feature_extraction", "fine_tune")
WEIGHT_CHOICES = ("imagenet", "random", None)

_GCS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# MobileNetV2 has ImageNet weights for these square input sizes; any other size loads
# the 224 file (Keras 3's source, applications/mobilenet_v2.py).
_MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one keras.applications backbone and where its ImageNet weights live.

    Args:
        application: the constructor's name in `keras.applications`, e.g. "ResNet50".
        module: the `keras.applications` submodule with its `preprocess_input`.
        weights_file: the no-top weights file name in Keras' cache folder `models/`,
            exactly as Keras' applications/<module>.py names it; "{rows}" stands for
            the input size where the file depends on it (MobileNetV2).
        url_folder: the folder of the file at its download address.
        md5: the hash Keras checks the cached file against; None where Keras checks none.
    """

    application: str
    module: str
    weights_file: str
    url_folder: str
    md5: str | None


# File names and hashes from Keras 3.15's source, applications/*.py (WEIGHTS_PATH_NO_TOP
# and the `get_file(..., file_hash=...)` calls of the include_top=False branch).
SPECS: dict[str, BackboneSpec] = {
    "pretrained_mobilenet_v2": BackboneSpec(
        "MobileNetV2", "mobilenet_v2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
        _GCS + "mobilenet_v2/", None),
    "pretrained_resnet50": BackboneSpec(
        "ResNet50", "resnet", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _GCS + "resnet/", "4d473c1dd8becc155b73f8504c6f6626"),
    "pretrained_vgg16": BackboneSpec(
        "VGG16", "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _GCS + "vgg16/", "6d6bbae143d832006294945121d1f1fc"),
    "pretrained_efficientnet_b0": BackboneSpec(
        "EfficientNetB0", "efficientnet", "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/", "50bc09e76180e00e4465e1a485ddc09d"),
    "pretrained_densenet121": BackboneSpec(
        "DenseNet121", "densenet", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _GCS + "densenet/", "30ee3e1110167f948a6b9946edeeb738"),
    "pretrained_xception": BackboneSpec(
        "Xception", "xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _GCS + "xception/", "b0042744bf5b25fce3cb969f33bebb97"),
    "pretrained_inception_v3": BackboneSpec(
        "InceptionV3", "inception_v3",
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _GCS + "inception_v3/", "bcbd6486424b2319ff4ef7d526e38f63"),
}

# Layers whose weights are statistics: they never train in a transfer mode.
_STATISTICS_LAYERS = (keras.layers.BatchNormalization, keras.layers.Normalization)

_MIN_SIZES = APPLICATION_MIN_SIZES


class WeightsUnavailableError(ValueError):
    """A backbone's ImageNet weights are not in Keras' cache and could not be downloaded."""


# -- the weights file ----------------------------------------------------------------------


def weights_folder() -> str:
    """The folder Keras keeps downloaded application weights in (`<keras home>/models`).

    Keras' `get_file(..., cache_subdir="models")` picks the same home as for data sets
    (`$KERAS_HOME`, else `~/.keras`, else `/tmp/.keras` when that is not writable), so
    this reuses the data sets' resolution and swaps the subfolder.
    """
    return os.path.join(os.path.dirname(keras_datasets.keras_cache_folder()), "models")


def weights_file(name: str, input_shape: tuple) -> str:
    """The exact file name Keras loads the no-top ImageNet weights of `name` from.

    Args:
        name: a backbone name, e.g. "pretrained_mobilenet_v2".
        input_shape: the lab's image shape (height, width, channels), before resizing.
    """
    spec = _spec(name)
    height, width = backbone_input_size(name, input_shape)
    rows = height if height == width and height in _MOBILENET_V2_SIZES else 224
    return spec.weights_file.format(rows=rows)


def weights_url(name: str, input_shape: tuple) -> str:
    """Where Keras downloads that file from."""
    return _spec(name).url_folder + weights_file(name, input_shape)


def backbone_input_size(name: str, input_shape: tuple) -> tuple[int, int]:
    """The (height, width) the base sees: the images' own, raised to the backbone's minimum."""
    _spec(name)  # a clear error for an unknown name
    minimum = _MIN_SIZES[name]
    height, width = int(input_shape[0]), int(input_shape[1])
    return max(height, minimum), max(width, minimum)


def _md5(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "md5").hexdigest()


def _unavailable(name: str, path: str, url: str, damaged: bool, reason: str) -> str:
    folder, file = os.path.split(path)
    state = ("is in Keras' cache folder but damaged (its md5 does not match the one Keras "
             "expects)" if damaged else "is not in Keras' cache folder")
    return (
        f"Could not load the ImageNet weights of '{name}': the file '{file}' {state} "
        f"'{folder}' and could not be downloaded (no network?). Expected the file at "
        f"'{path}'. To fix it, download {url} and save it as '{path}' (Keras downloads it "
        "there itself when the machine is online); or set `transfer.weights` to 'random'. "
        f"Original error: {reason}"
    )


def _load_application(name: str, spec: BackboneSpec, size: tuple[int, int],
                      weights: str | None, input_shape: tuple) -> keras.Model:
    """`keras.applications.<Name>(include_top=False, pooling="avg", weights=...)`.

    For ImageNet weights the cache is checked first; only when the file is missing (or
    fails Keras' hash check) is the download host probed, so Keras never starts a
    download that cannot finish.
    """
    application = getattr(keras.applications, spec.application)
    shape = (*size, 3)
    if weights != "imagenet":
        return application(include_top=False, weights=None, input_shape=shape, pooling="avg")
    path = os.path.join(weights_folder(), weights_file(name, input_shape))
    url = weights_url(name, input_shape)
    present = os.path.isfile(path)
    damaged = present and spec.md5 is not None and _md5(path) != spec.md5
    needs_download = not present or damaged
    if needs_download:
        reason = keras_datasets.probe_download(url)
        if reason is not None:
            raise WeightsUnavailableError(_unavailable(name, path, url, damaged, reason))
    try:
        with warnings.catch_warnings():
            # MobileNetV2 warns that it loads the 224 weights for other sizes: expected here.
            warnings.filterwarnings("ignore", message=".*Weights for input shape")
            return application(include_top=False, weights="imagenet", input_shape=shape,
                               pooling="avg")
    except Exception as error:
        if not needs_download:
            raise
        raise WeightsUnavailableError(_unavailable(
            name, path, url, damaged, f"{type(error).__name__}: {error}")) from error


# -- the model -----------------------------------------------------------------------------


def build_transfer_model(
    name: str,
    input_shape: tuple,
    num_classes: int,
    *,
    tricks: Tricks | None = None,
    weights: str | None = "imagenet",
) -> keras.Model:
    """A keras.applications backbone with a new head, taking the lab's [0, 1] images.

    Why the base is called with `training=False` for ImageNet weights: its BatchNormalization
    layers then keep the statistics learned on ImageNet, whether the base is frozen or
    fine-tuned (Keras' transfer-learning guide). With random weights there is nothing to
    keep, and the base is called normally, so its BatchNormalization layers learn.

    The model comes back fully trainable; `set_trainable` freezes what a mode asks.

    Args:
        name: a backbone name from `cnnlab.models.backbones`, e.g. "pretrained_vgg16".
        input_shape: (height, width, channels) of one image; channels 1 or 3. Images
            smaller than the backbone's minimum are resized up to it inside the model.
        num_classes: number of classes of the new head; 1 is one sigmoid unit.
        tricks: the training tricks; the head uses `dropout_rate` and the kernel
            penalties and initializer. Defaults to None, i.e. `Tricks()`.
        weights: "imagenet" (default, the ImageNet weights from Keras' cache or download),
            "random" or None (random initialization).
    """
    spec = _spec(name)
    tricks = blocks.resolve_tricks(tricks)
    height, width, channels = _check_input_shape(name, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            "Invalid `num_classes`. Expected a whole number >= 1 (1 means a single sigmoid "
            f"unit for a binary problem). Received: {num_classes!r}."
        )
    if weights not in WEIGHT_CHOICES:
        raise ValueError(
            f"Unknown `weights`. Expected one of {list(WEIGHT_CHOICES)}. Received: "
            f"{weights!r}. Use 'imagenet' for pretrained weights, 'random' for none."
        )
    size = backbone_input_size(name, (height, width, channels))
    application = _load_application(name, spec, size, weights, (height, width, channels))
    # A Functional over the application's own layers: the same weights, a stable name
    # (EfficientNet derives its weights file from its name, so it cannot be built as "base").
    base = keras.Model(application.input, application.output, name="base")
    # keras.applications builds its BatchNormalization layers with momentum 0.99 or 0.999,
    # which leaves a short run's moving statistics near their start (Tricks.batch_norm_momentum).
    # With ImageNet weights the base runs in inference mode and the momentum changes nothing.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = tricks.batch_norm_momentum

    inputs = keras.Input(shape=(height, width, channels), name="input")
    x = inputs
    if size != (height, width):
        x = keras.layers.Resizing(*size, interpolation="bilinear", name="resize")(x)
    if channels == 1:
        # ImageNet filters expect colour: a gray image is the same value in R, G and B.
        x = keras.layers.Concatenate(axis=-1, name="to_rgb")([x, x, x])
    x = _preprocessing(spec, size)(x)
    x = base(x, training=False) if weights == "imagenet" else base(x)
    x = blocks.dropout(x, name="head_dropout", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks, name="predictions")
    return keras.Model(inputs, outputs, name=name)


def _preprocessing(spec: BackboneSpec, size: tuple[int, int]) -> keras.Model:
    """[0, 1] RGB images -> what the backbone was trained on, as a sub-model "preprocess".

    The application module's own `preprocess_input`, applied to 0-255 values as its
    documentation asks, becomes part of the graph (Keras 3 records the ops it calls on
    symbolic tensors, and saves and loads them), so the scaling cannot drift from Keras'.
    """
    module = getattr(keras.applications, spec.module)
    images = keras.Input(shape=(*size, 3), name="rgb")
    scaled = keras.layers.Rescaling(255.0, name="to_255")(images)
    return keras.Model(images, module.preprocess_input(scaled), name="preprocess")


def _check_input_shape(name: str, input_shape) -> tuple[int, int, int]:
    shape = validate_input_shape(name, input_shape)
    if shape[2] not in (1, 3):
        raise ValueError(
            f"'{name}' takes grayscale or RGB images. Expected 1 or 3 channels. Received: "
            f"{shape[2]} (input_shape={shape}). Choose a data set with gray or colour images."
        )
    return shape


def _spec(name: str) -> BackboneSpec:
    try:
        return SPECS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown pretrained backbone. Expected one of {list(SPECS)}. Received: {name!r}."
        ) from None


def _builder(name: str):
    def build(input_shape, num_classes, *, tricks=None):
        return build_transfer_model(name, input_shape, num_classes, tricks=tricks, weights=None)

    build.__name__ = build.__qualname__ = f"build_{name}"
    build.__doc__ = (
        f"The registry's builder for '{name}': random weights, for summaries and counts.\n\n"
        "A run that asks for ImageNet weights goes through `build_transfer_model`."
    )
    return build


build_pretrained_mobilenet_v2 = _builder("pretrained_mobilenet_v2")
build_pretrained_resnet50 = _builder("pretrained_resnet50")
build_pretrained_vgg16 = _builder("pretrained_vgg16")
build_pretrained_efficientnet_b0 = _builder("pretrained_efficientnet_b0")
build_pretrained_densenet121 = _builder("pretrained_densenet121")
build_pretrained_xception = _builder("pretrained_xception")
build_pretrained_inception_v3 = _builder("pretrained_inception_v3")


# -- what trains -----------------------------------------------------------------------------


def base_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of the model's "base" sub-model, nested models flattened, bottom first."""
    return _leaves(_base(model))


def fine_tunable_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The base's layers that `fine_tune_layers` counts, bottom first.

    Why only these: a layer without weights (activation, pooling, padding) trains
    nothing, BatchNormalization layers stay frozen in every mode, and a Normalization
    layer (EfficientNet's input scaling) holds statistics, not weights to learn; counting
    only the rest means "fine-tune the top 3 layers" trains exactly three layers' kernels.
    """
    return [layer for layer in base_layers(model)
            if layer.weights and not isinstance(layer, _STATISTICS_LAYERS)]


def set_trainable(model: keras.Model, mode: str, fine_tune_layers: int = 0) -> None:
    """Freeze and unfreeze the model's layers for a transfer mode, in place.

    Modes: "all" trains every layer (no transfer); "feature_extraction" freezes the
    whole base, so only the new head trains; "fine_tune" also trains the base's top
    `fine_tune_layers` layers, counted among the layers with weights other than
    BatchNormalization (see `fine_tunable_layers`); more than there are trains them all.
    BatchNormalization layers of the base stay frozen in both transfer modes, and in
    inference mode, since the base is called with `training=False`.

    Recompile after calling it: Keras collects the trainable weights when it compiles.

    Args:
        model: a model with a "base" sub-model (from `build_transfer_model`, or a run
            started from another run); any model for "all".
        mode: one of "all", "feature_extraction", "fine_tune".
        fine_tune_layers: for "fine_tune", how many layers at the top of the base train
            (>= 1); ignored otherwise. Defaults to 0.
    """
    if mode not in TRAINABLE_MODES:
        raise ValueError(
            f"Unknown trainable `mode`. Expected one of {list(TRAINABLE_MODES)}. Received: "
            f"{mode!r}. Two-phase training applies 'feature_extraction', then 'fine_tune'."
        )
    model.trainable = True
    if mode == "all":
        return
    base = _base(model)
    if mode == "feature_extraction":
        base.trainable = False
        return
    if isinstance(fine_tune_layers, bool) or not isinstance(fine_tune_layers, int) \
            or fine_tune_layers < 1:
        raise ValueError(
            "Fine-tuning trains the top `fine_tune_layers` layers of the base. Expected a "
            f"whole number >= 1. Received: {fine_tune_layers!r}. Set `fine_tune_layers`, or "
            "choose the feature_extraction mode to train only the new head."
        )
    top = {id(layer) for layer in fine_tunable_layers(model)[-fine_tune_layers:]}
    for layer in base_layers(model):
        layer.trainable = id(layer) in top


def trainable_layer_names(model: keras.Model) -> list[str]:
    """The layers whose weights training updates, as "base/block5_conv3" paths, bottom first.

    Why from `model.trainable_weights`: that is exactly what the optimizer receives, so
    this view cannot disagree with training, whatever the nesting and flags.
    """
    training = {id(weight) for weight in model.trainable_weights}
    names = []
    for path, layer in _paths(model, ""):
        if any(id(weight) in training for weight in layer.weights):
            names.append(path)
    return names


def _base(model: keras.Model) -> keras.Model:
    try:
        return model.get_layer("base")
    except ValueError:
        raise ValueError(
            f"Model '{model.name}' has no sub-model named 'base', so it has nothing to "
            "freeze or fine-tune. Expected a model built by build_transfer_model or started "
            f"from another run. Received layers: {[layer.name for layer in model.layers]}."
        ) from None


def _leaves(model: keras.Model) -> list[keras.layers.Layer]:
    return [leaf for _, leaf in _paths(model, "")]


def _paths(model: keras.Model, prefix: str):
    for layer in model.layers:
        path = prefix + layer.name
        if isinstance(layer, keras.Model):
            yield from _paths(layer, path + "/")
        else:
            yield path, layer
