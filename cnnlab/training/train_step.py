"""The lab's instrumented train step: Keras' own step, plus what the lab plots per batch.

Why a subclass: Keras reports running means over the epoch, but the lectures' noisy
per-batch loss needs the loss of each batch, and the learning rate actually used needs the
optimizer's value at that step. Both come from tensors the step already has, so recording
them costs no extra forward or backward pass.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src import tree
from keras.src.losses import loss as loss_module
from keras.src.trainers.data_adapters import data_adapter_utils


@keras.saving.register_keras_serializable(package="cnnlab")
class LabModel(keras.Model):
    """A functional model whose train step also returns `batch_loss` and `learning_rate`."""

    def train_step(self, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            unscaled = loss_module.unscale_loss_for_distribution(loss)
            batch = tf.shape(next(i for i in tree.flatten(x) if i is not None))[0]
            self._loss_tracker.update_state(unscaled, sample_weight=batch)
            scaled = self.optimizer.scale_loss(loss)
        # The rate this step uses, read before apply_gradients advances the iteration.
        rate = tf.identity(tf.cast(self.optimizer.learning_rate, "float32"))
        weights = self.trainable_weights
        gradients = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(gradients, weights))
        logs = dict(self.compute_metrics(x, y, y_pred, sample_weight=sample_weight))
        logs["batch_loss"] = unscaled
        logs["learning_rate"] = rate
        return logs


def wrap(model: keras.Model) -> LabModel:
    """The same graph and weights as `model`, as a LabModel."""
    return LabModel(inputs=model.inputs, outputs=model.outputs, name=model.name)
