"""The lab's instrumented train step: Keras' own step, plus what the lab plots per batch.

Why a subclass: Keras reports running means over the epoch, but the lectures' noisy
per-batch loss needs the loss of each batch, the learning rate actually used needs the
optimizer's value at that step, and the per-layer gradient magnitudes that explain
vanishing gradients need the gradients themselves. All come from tensors the step already
has, so recording them costs no extra forward or backward pass.

Per layer (every trainable kernel, input to output; see `tracked_kernels`) the step
returns three vectors: the L2 norm of the kernel's gradient, of the kernel itself, and of
the update the optimizer applied to it divided by the kernel's norm (Karpathy's
update-to-weight ratio, about 1e-3 when the learning rate is right).

Auxiliary classifiers (GoogLeNet's): a model with more than one output treats the first as
the prediction and the others as auxiliary heads whose losses are added, weighted by
`AUX_LOSS_WEIGHT` (the paper's 0.3), during training only; evaluation and prediction see
the first output alone. `compile_for_training` compiles a LabModel with the loss the step
expects; a run and the benchmarks compile through it alike.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cnnlab.training.optimizers import make_optimizer

# Keys of the per-layer vectors in the step's logs -> the stored metric prefix.
LAYER_LOGS = {
    "layer_grad_norm": "grad_norm",
    "layer_weight_norm": "weight_norm",
    "layer_update_ratio": "update_ratio",
}
# GoogLeNet weighted each auxiliary classifier's loss by 0.3 (Szegedy et al., 2015, sec. 5).
AUX_LOSS_WEIGHT = 0.3
KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")


def tracked_kernels(model: keras.Model) -> list[tuple[str, keras.Variable]]:
    """(layer name, kernel) of every trainable kernel, in the order layers were built.

    Biases, batch-norm scales and the like are left out: the lectures' per-layer picture is
    of the weight matrices. The name is the variable's path without its last part
    ("fc1/kernel" gives "fc1"; a pretrained base's layers keep the base's prefix).
    """
    tracked = []
    for variable in model.trainable_weights:
        if variable.name in KERNEL_NAMES:
            layer, _, _ = variable.path.rpartition("/")
            tracked.append((layer or variable.name, variable))
    return tracked


def kernel_layers(model: keras.Model) -> list[str]:
    """The layer names `tracked_kernels` gives, for every kernel, trainable or frozen."""
    names = []
    for variable in model.weights:
        if variable.name in KERNEL_NAMES:
            layer, _, _ = variable.path.rpartition("/")
            names.append(layer or variable.name)
    return list(dict.fromkeys(names))


@keras.saving.register_keras_serializable(package="cnnlab")
class LabModel(keras.Model):
    """A functional model whose train step also returns per-batch and per-layer figures."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred, auxiliary = _split_outputs(self(x, training=True))
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            for aux_pred in auxiliary:
                aux_loss = keras.losses.categorical_crossentropy(y, aux_pred)
                loss = loss + AUX_LOSS_WEIGHT * tf.reduce_mean(aux_loss)
            unscaled = _unscaled(loss)
            batch = tf.shape(next(i for i in keras.tree.flatten(x) if i is not None))[0]
            self._loss_tracker.update_state(unscaled, sample_weight=batch)
            scaled = self.optimizer.scale_loss(loss)
        # The rate this step uses, read before apply_gradients advances the iteration.
        rate = tf.identity(tf.cast(self.optimizer.learning_rate, "float32"))
        weights = self.trainable_weights
        gradients = tape.gradient(scaled, weights)
        kernels = [variable for _, variable in tracked_kernels(self)]
        by_variable = {id(v): g for v, g in zip(weights, gradients)}
        before = [tf.identity(kernel) for kernel in kernels]
        self.optimizer.apply_gradients(zip(gradients, weights))
        logs = dict(self.compute_metrics(x, y, y_pred, sample_weight=sample_weight))
        logs["batch_loss"] = unscaled
        logs["learning_rate"] = rate
        if kernels:
            weight_norms = tf.stack([tf.norm(old) for old in before])
            updates = tf.stack([tf.norm(kernel - old) for kernel, old in zip(kernels, before)])
            logs["layer_grad_norm"] = tf.stack(
                [_norm(by_variable[id(kernel)]) for kernel in kernels])
            logs["layer_weight_norm"] = weight_norms
            logs["layer_update_ratio"] = tf.math.divide_no_nan(updates, weight_norms)
        return logs

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred, _ = _split_outputs(self(x, training=False))
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=False)
        self._loss_tracker.update_state(
            _unscaled(loss),
            sample_weight=tf.shape(next(i for i in keras.tree.flatten(x) if i is not None))[0],
        )
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return _split_outputs(self(x, training=False))[0]


def _unscaled(loss):
    """The loss of the whole batch: Keras scales each replica's loss by 1 / replicas under a
    tf.distribute strategy, and its own train step multiplies the tracked loss back (as here);
    without a strategy there is one replica and the loss is itself."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def _split_outputs(outputs):
    """(the prediction, [auxiliary predictions]) of a model's output or outputs."""
    if isinstance(outputs, (list, tuple)):
        return outputs[0], list(outputs[1:])
    return outputs, []


def _norm(gradient) -> tf.Tensor:
    """The L2 norm of a gradient; 0 where the kernel got none (a layer cut off the loss)."""
    if gradient is None:
        return tf.constant(0.0)
    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return tf.norm(tf.cast(gradient, "float32"))


def wrap(model: keras.Model) -> LabModel:
    """The same graph and weights as `model`, as a LabModel."""
    return LabModel(inputs=model.inputs, outputs=model.outputs, name=model.name)


def make_loss(config) -> keras.losses.Loss:
    """The config's loss with its label smoothing, on one-hot labels.

    The sigmoid head's model outputs (1 - p, p) (`cnnlab.models.head`): Keras' binary
    cross-entropy averages its two columns' terms, which are equal, so it is binary
    cross-entropy on p; smoothing moves each target to y (1 - s) + s / 2, as Keras' binary
    label smoothing does.
    """
    smoothing = getattr(config, "label_smoothing", 0.0)
    if getattr(config, "loss", "categorical_crossentropy") == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)


def compile_for_training(model: LabModel, config, learning_rate=None) -> None:
    """Compile `model` as a run compiles each phase: the config's optimizer, its loss
    (`make_loss`) on one-hot labels, accuracy.

    Why one function: the train step adds the auxiliary heads' losses as categorical
    cross-entropy on the same labels, so the compiled loss and the step's must agree, and
    `benchmarks/architectures.py` must time what a run trains (a copy of this call, with
    sparse labels, once broke on the two-output `inception_aux`).

    Args:
        model: a LabModel (`wrap`); its first output is the prediction.
        config: the ExperimentConfig (or a phase's, `transfer.phase_config`).
        learning_rate: a float or a LearningRateSchedule; defaults to None, i.e. the
            config's constant learning rate.
    """
    # Labels are one-hot everywhere, so MixUp's and CutMix's soft labels need no special case.
    model.compile(
        optimizer=make_optimizer(config, learning_rate),
        loss=make_loss(config),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
