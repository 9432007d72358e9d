"""TensorBoard event files for every run, so `tensorboard --logdir <runs folder>` shows them all.

Why a callback of our own rather than `keras.callbacks.TensorBoard`: Keras' callback writes
the model graph and, per batch, only what `update_freq` asks for, and it cannot read the
per-layer vectors the lab's train step puts into the batch logs. This one writes, into
`<run folder>/tensorboard/`:

- per epoch, every scalar of the epoch's logs under `epoch/<name>` (loss, accuracy,
  val_loss, val_accuracy, learning_rate: the values the run store keeps), at step = epoch
  number (from 1, as in the store);
- per recorded batch, the batch's own loss, the running loss and accuracy and the learning
  rate under `batch/<name>` (the store's names), and the L2 norm of each layer's kernel
  gradient under `grad_norm/<layer>`, at step = iteration (from 1, across epochs).

Batches are recorded sparsely, at most about `MAX_BATCH_POINTS` per run (TensorBoard
itself shows at most 1,000 points of a scalar), so the cost stays negligible.

Why one `tf.summary.experimental.write_raw_pb` per step rather than `tf.summary.scalar` per
value: `tf.summary.scalar` is TensorBoard's own code and fails when the tensorboard package
is not installed (it is no dependency of TensorFlow 2.21, nor of the lab), and each eager
summary op costs about 0.3 ms, so ten values a batch cost 3 ms, a tenth of a small model's
step on a CPU. Here the step's values go into one Summary protocol buffer, built in Python
(about 40 us for ten), and one op writes it: 0.25 ms a step. The records are the ones
`tf.summary.scalar` writes, a float32 scalar tensor tagged with the "scalars" plugin, its
metadata on a tag's first record in each file, as TensorFlow's own FileWriter does.
Reading them needs `pip install tensorboard`; writing them does not.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import (
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)

from cnnlab.training.train_step import tracked_kernels

FOLDER = "tensorboard"
# Per-batch points kept for a whole run at most (about; every k-th batch of a long run).
MAX_BATCH_POINTS = 1000
# Per-batch log key -> tag (the run store's names, see cnnlab.training.callbacks).
BATCH_TAGS = {
    "batch_loss": "batch/loss",
    "loss": "batch/running_loss",
    "accuracy": "batch/running_accuracy",
    "learning_rate": "batch/learning_rate",
}
# The per-layer vector written per layer (its siblings are in the store, not TensorBoard).
GRADIENT_LOG = "layer_grad_norm"
GRADIENT_TAG = "grad_norm/"
# What TensorBoard's scalar summary writes as metadata: the "scalars" plugin, version 0
# (whose serialized content is empty).
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars", content=b""))
_SCALAR_SHAPE = tensor_shape_pb2.TensorShapeProto()


def batch_interval(epochs: int, steps_per_epoch: int) -> int:
    """Write per-batch scalars every this many iterations."""
    return max(1, math.ceil(epochs * steps_per_epoch / MAX_BATCH_POINTS))


class TensorBoardCallback(keras.callbacks.Callback):
    """Write a run's epoch metrics, and sparse per-batch figures, as TensorBoard events.

    Put it after the lab's insight and store callbacks: the insight callback adds the
    validation figures to the epoch's logs, which this one then writes. One callback can
    serve several `fit` calls (the phases of a transfer run); each opens the writer again,
    appending a new event file to the same folder, and steps run on across the phases.

    Args:
        run_dir: the run's folder (`store.run_dir(run_id)`); events go to its
            `tensorboard/` subfolder.
        steps_per_epoch: batches per epoch, which numbers the iterations.
        batch_every: write per-batch scalars every this many iterations (default 1);
            `batch_interval` gives the lab's choice.
    """

    def __init__(self, run_dir, *, steps_per_epoch: int, batch_every: int = 1):
        super().__init__()
        self.log_dir = Path(run_dir) / FOLDER
        self.steps_per_epoch = int(steps_per_epoch)
        self.batch_every = max(1, int(batch_every))
        self._writer = None
        self._described: set[str] = set()  # tags whose metadata this writer has written
        self._layers: list[str] = []
        self._epoch = 0
        self._batches = 0  # batches done in the current epoch

    def on_train_begin(self, logs=None):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        self._described = set()
        # Each phase of a transfer run may train other layers.
        self._layers = [name for name, _ in tracked_kernels(self.model)]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches = batch + 1
        iteration = self._epoch * self.steps_per_epoch + batch + 1
        if not logs or (iteration - 1) % self.batch_every:
            return
        values = {tag: logs[key] for key, tag in BATCH_TAGS.items() if key in logs}
        gradients = logs.get(GRADIENT_LOG)
        if gradients is not None:
            norms = np.asarray(gradients, dtype=np.float32).ravel()
            values.update((GRADIENT_TAG + layer, norm) for layer, norm in zip(self._layers, norms))
        self._write(values, iteration)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "stop_training", False) and self._batches < self.steps_per_epoch:
            # A stopped or diverged run's partial epoch: its means are not comparable with
            # whole epochs, so the run store keeps no epoch point for it, and neither does this.
            self._writer.flush()
            return
        # The train step's own figures of the epoch's last batch are no epoch figures.
        values = {f"epoch/{key}": value for key, value in (logs or {}).items()
                  if key != "batch_loss" and not key.startswith("layer_")}
        self._write(values, epoch + 1)
        self._writer.flush()  # so a TensorBoard open beside the lab sees each epoch at once

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write(self, values: dict, step: int) -> None:
        """Write the scalar ones of `values` as one Summary; vectors (per-layer logs) are skipped."""
        summary = summary_pb2.Summary()
        for tag, value in values.items():
            array = np.asarray(value)
            if array.size != 1 or not np.issubdtype(array.dtype, np.number):
                continue
            entry = summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, tensor_shape=_SCALAR_SHAPE,
                float_val=[float(array.reshape(()))]))
            if tag not in self._described:
                entry.metadata.CopyFrom(_SCALAR_METADATA)
                self._described.add(tag)
        if summary.value:
            with self._writer.as_default():
                tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)


def tensorboard_callback(run_dir, *, epochs: int, steps_per_epoch: int) -> TensorBoardCallback:
    """The lab's TensorBoard callback for one run, with the lab's sparse batch interval."""
    return TensorBoardCallback(run_dir, steps_per_epoch=steps_per_epoch,
                               batch_every=batch_interval(epochs, steps_per_epoch))
