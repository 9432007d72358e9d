"""What a trained network does with one image: top-k, feature maps, filters, Grad-CAM,
saliency; and which validation images it gets most wrong.

Every view is a Keras sub-model (`keras.Model(model.inputs, layer.output)`) or one
`tf.GradientTape`, evaluated in inference mode (`training=False`: dropout off, batch
norm with its moving statistics), so what is shown is what the model predicts with.
Images are float32 (height, width, channels) arrays in the model's input range ([0, 1]
for the lab's runs). Sub-models are built once per model and kept beside it.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

# Layer classes whose kernels are convolutions over the image (Keras 3 keeps the
# separable and depthwise ones outside Conv2D's family).
CONV_CLASSES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")
# Layers that follow a convolution within one block and keep its spatial map.
_BLOCK_TAIL_CLASSES = ("BatchNormalization", "Activation", "ReLU")

# The smallest map side Grad-CAM uses by default (see `default_cam_layer`).
CAM_MIN_SIDE = 8

_SUB_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _batch(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(
            "An image to inspect is one (height, width, channels) array. Expected 3 "
            f"dimensions. Received: shape {image.shape}.")
    return image[None]


def _sub_model(model: keras.Model, key: tuple, build) -> keras.Model:
    cache = _SUB_MODELS.setdefault(model, {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _input(model: keras.Model):
    """The model's input tensor (a one-element list of inputs makes Keras warn on calls)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def inspectable_layers(model: keras.Model) -> list[str]:
    """Names of the layers with a spatial output (height, width, channels), model order."""
    return [layer.name for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
            and len(getattr(layer.output, "shape", ())) == 4]


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the convolution layers, input to output."""
    return [layer.name for layer in model.layers if type(layer).__name__ in CONV_CLASSES]


def block_output(model: keras.Model, conv_name: str) -> str:
    """The last layer of the conv's block: the conv, or the batch norm and activation
    right after it (Grad-CAM reads the rectified map, as the paper does)."""
    names = [layer.name for layer in model.layers]
    index = names.index(conv_name)
    while index + 1 < len(names) and \
            type(model.layers[index + 1]).__name__ in _BLOCK_TAIL_CLASSES:
        index += 1
    return names[index]


def default_cam_layer(model: keras.Model) -> str:
    """Where Grad-CAM looks by default: the output of the last conv block whose map is at
    least `CAM_MIN_SIDE` pixels on a side (else of the last conv block).

    Why not simply the last conv layer, as the paper does: on the lab's small images the
    last map is 4x4 or smaller (32 px through four pools), and its 16 cells upsampled
    cannot say where a shape is. Measured on the shapes data set (benchmarks/inspection.py):
    the small convnet's last block (4x4) put 0.46 of its Grad-CAM mass inside the shape's
    box, the block before it (8x8) 0.62, against 0.38 for a uniform map.
    """
    convs = conv_layers(model)
    if not convs:
        raise ValueError(
            f"Model '{model.name}' has no convolution layer for Grad-CAM. Expected a layer of "
            f"{list(CONV_CLASSES)}. Received layers: {[layer.name for layer in model.layers]}.")
    blocks = [block_output(model, conv) for conv in convs]
    wide = [name for name in blocks
            if min(model.get_layer(name).output.shape[1:3]) >= CAM_MIN_SIDE]
    return (wide or blocks)[-1]


def _layer(model: keras.Model, name: str) -> keras.layers.Layer:
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError(
            f"Unknown layer for model '{model.name}'. Expected one of "
            f"{inspectable_layers(model)}. Received: {name!r}.") from None


def _probabilities(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    # A sub-model on the first output (GoogLeNet's auxiliary heads: the first predicts),
    # whose input is one tensor, as the page calls it.
    predict = _sub_model(model, ("predict",),
                         lambda: keras.Model(_input(model), model.outputs[0], name="predict"))
    run = _graph(model, ("predict",), lambda tensor: predict(tensor, training=False))
    return np.asarray(run(tf.constant(batch, tf.float32)), dtype=np.float64)


def predict_top_k(model: keras.Model, image: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The `min(k, classes)` most probable classes of `image`, as (class index, probability)."""
    probabilities = _probabilities(model, _batch(image))[0]
    k = min(k, probabilities.shape[-1])
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(int(index), float(probabilities[index])) for index in order]


def feature_maps(model: keras.Model, image: np.ndarray, layer_names) -> dict[str, np.ndarray]:
    """The activations of each named layer for `image`, each (height, width, channels)."""
    names = tuple(layer_names)
    if not names:
        return {}
    outputs = [_layer(model, name).output for name in names]
    probe = _sub_model(model, ("maps", names),
                       lambda: keras.Model(_input(model), outputs, name="feature_maps"))
    values = _graph(model, ("maps", names), lambda tensor: probe(tensor, training=False))(
        tf.constant(_batch(image)))
    values = values if isinstance(values, (list, tuple)) else [values]
    return {name: np.asarray(value[0]) for name, value in zip(names, values)}


def filters(model: keras.Model, layer_name: str) -> np.ndarray:
    """A conv layer's kernels for display: (filters, height, width, input channels),
    each filter scaled to [0, 1] on its own (0.5 is a weight of zero)."""
    layer = _layer(model, layer_name)
    kernel = getattr(layer, "depthwise_kernel", None) if type(layer).__name__ != "Conv2D" \
        else None
    kernel = np.asarray(kernel if kernel is not None else layer.kernel)
    if kernel.ndim != 4:
        raise ValueError(
            f"Layer {layer_name!r} has no 2-D convolution kernel. Expected a layer of "
            f"{list(CONV_CLASSES)}. Received: {type(layer).__name__}.")
    kernel = np.moveaxis(kernel, -1, 0)  # (filters, height, width, input channels)
    scale = np.abs(kernel).max(axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * kernel / np.where(scale > 0, scale, 1)


def _score_model(model: keras.Model, layer_name: str | None) -> keras.Model:
    """A sub-model giving (the layer's map, or the input if None) and the class scores.

    The score is the logit before the softmax, as Grad-CAM and saliency use it: the
    softmax saturates, and its gradient says more about the other classes than this one.
    """
    def build():
        last = model.layers[-1]
        activation = getattr(last, "activation", None)
        if getattr(activation, "__name__", "") == "softmax" and hasattr(last, "kernel"):
            features = last.input
            scores = None  # computed from the Dense layer's kernel below
        elif type(last).__name__ == "Activation" and \
                getattr(last.activation, "__name__", "") == "softmax":
            features, scores = last.input, None
            last = None
        else:
            features, scores = model.outputs[0], model.outputs[0]
        outputs = [features] if layer_name is None else \
            [_layer(model, layer_name).output, features]
        probe = keras.Model(_input(model), outputs, name="scores")
        return probe, last, scores is not None

    return _sub_model(model, ("scores", layer_name), build)


def _class_scores(parts, batch):
    probe, dense, plain = parts
    outputs = probe(batch, training=False)
    first, features = (batch, outputs) if len(probe.outputs) == 1 else outputs
    if plain or dense is None:
        return first, features
    return first, tf.matmul(features, dense.kernel) + (0 if dense.bias is None else dense.bias)


def _check_class(model, class_index) -> int:
    """The class index as the graph functions take it: -1 for "the predicted class"."""
    if class_index is None:
        return -1
    classes = int(model.outputs[0].shape[-1])
    if not 0 <= int(class_index) < classes:
        raise ValueError(f"Unknown class. Expected an index from 0 to {classes - 1}. "
                         f"Received: {class_index!r}.")
    return int(class_index)


def _chosen_score(scores, index):
    """The score of class `index`, or of the highest-scoring class where it is -1."""
    index = tf.where(index < 0, tf.argmax(scores[0], output_type=tf.int64), index)
    return scores[:, index], index


def _graph(model: keras.Model, key: tuple, body):
    """`body` as one cached tf.function per model and key: a traced graph runs the
    hundreds of ops of a 224 px network several times faster than eager calls."""
    return _sub_model(model, ("graph", *key), lambda: tf.function(body, reduce_retracing=True))


def grad_cam(model: keras.Model, image: np.ndarray, *, layer_name: str | None = None,
             class_index: int | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM (Selvaraju et al., 2017): where in `image` the evidence for a class lies.

    Each channel of the layer's map is weighted by the spatial mean of the class score's
    gradient with respect to it; the weighted sum, rectified, is resized (bilinear) to
    the image and scaled to a maximum of 1.

    Args:
        layer_name: a layer with a spatial output; default `default_cam_layer`.
        class_index: the class to explain; default the predicted class.

    Returns:
        (heatmap of the image's height and width in [0, 1], the class explained).
    """
    batch = _batch(image)
    layer_name = layer_name or default_cam_layer(model)
    if layer_name not in inspectable_layers(model):
        raise ValueError(
            f"Grad-CAM needs a layer with a spatial map. Expected one of "
            f"{inspectable_layers(model)}. Received: {layer_name!r}.")
    index = _check_class(model, class_index)
    parts = _score_model(model, layer_name)

    def body(tensor, wanted):
        with tf.GradientTape() as tape:
            maps, scores = _class_scores(parts, tensor)
            score, chosen = _chosen_score(scores, wanted)
        gradient = tape.gradient(score, maps)
        if gradient is None:
            raise ValueError(f"The class score does not depend on layer {layer_name!r}; pick "
                             "a layer before the classifier.")
        weights = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[..., None]
        return tf.image.resize(cam, tf.shape(tensor)[1:3], method="bilinear")[0, ..., 0], chosen

    cam, chosen = _graph(model, ("cam", layer_name), body)(
        tf.constant(batch), tf.constant(index, tf.int64))
    cam = cam.numpy()
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).astype(np.float32), int(chosen)


def saliency(model: keras.Model, image: np.ndarray, *,
             class_index: int | None = None) -> tuple[np.ndarray, int]:
    """Vanilla saliency (Simonyan et al., 2014): the gradient of the class score (the
    logit) with respect to the input image, same shape as the image.

    Returns:
        (the gradient, the class explained); show `np.abs(g).max(axis=-1)` as a map.
    """
    batch = _batch(image)
    index = _check_class(model, class_index)
    parts = _score_model(model, None)

    def body(tensor, wanted):
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            _, scores = _class_scores(parts, tensor)
            score, chosen = _chosen_score(scores, wanted)
        return tape.gradient(score, tensor)[0], chosen

    gradient, chosen = _graph(model, ("saliency",), body)(
        tf.constant(batch), tf.constant(index, tf.int64))
    return gradient.numpy(), int(chosen)


def top_losses(model: keras.Model, images: np.ndarray, labels: np.ndarray, k: int = 9,
               *, batch_size: int = 256) -> list[dict]:
    """The `k` images with the highest cross-entropy loss, highest first (fast.ai's
    `plot_top_losses`): each a dict of index, loss, true and predicted class, and the
    probabilities of both."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(images) != len(labels):
        raise ValueError(f"Expected one label per image. Received: {len(images)} images, "
                         f"{len(labels)} labels.")
    if not len(images):
        return []
    probabilities = np.concatenate([
        _probabilities(model, np.asarray(images[start:start + batch_size], np.float32))
        for start in range(0, len(images), batch_size)])
    true = probabilities[np.arange(len(labels)), labels]
    losses = -np.log(np.clip(true, 1e-12, 1.0))
    predicted = probabilities.argmax(axis=1)
    order = np.argsort(-losses, kind="stable")[:k]
    return [{"index": int(i), "loss": float(losses[i]), "true": int(labels[i]),
             "predicted": int(predicted[i]), "true_probability": float(true[i]),
             "predicted_probability": float(probabilities[i, predicted[i]])} for i in order]


def wrong_predictions(model: keras.Model, images: np.ndarray, labels: np.ndarray,
                      *, batch_size: int = 256) -> list[int]:
    """Indices of the images whose predicted class is not their label."""
    if not len(images):
        return []
    predicted = np.concatenate([
        _probabilities(model, np.asarray(images[start:start + batch_size], np.float32))
        .argmax(axis=1) for start in range(0, len(images), batch_size)])
    return [int(i) for i in np.flatnonzero(predicted != np.asarray(labels))]
