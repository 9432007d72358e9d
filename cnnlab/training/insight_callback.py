"""The callback that records why a run trains as it does: layers, validation, dead units.

Per recorded step: the per-layer gradient, weight and update-to-weight figures that the
train step (cnnlab.training.train_step) already computed, as metric rows. Per epoch: the
validation set is predicted once, and from those predictions come the validation loss and
accuracy (so the validation images are run through the network once, as model.fit's own
validation would) and the stored probabilities behind the confusion matrix; then a probe
batch measures the fraction of each ReLU layer's units that never fire.

Why validation here rather than in model.fit: fit's validation keeps only the means, and
predicting again for the confusion matrix would cost a second pass every epoch. This
callback must come before the others, so the validation figures it adds to the epoch's
logs reach the recorder, early stopping and reduce-on-plateau.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np

from cnnlab.training.figures import (
    DEAD_KIND,
    LAYER_ORDER,
    VAL_LABELS,
    VAL_PROBS,
    encode_array,
)
from cnnlab.training.train_step import LAYER_LOGS, kernel_layers, tracked_kernels

# Per-layer rows are kept for at most about this many steps of a run: every step of a
# short run, every k-th of a long one, so a long run's store stays small.
MAX_RECORDED_STEPS = 500
PROBE_SIZE = 256
# Keras' categorical cross-entropy clips probabilities to this.
EPSILON = 1e-7


def record_interval(epochs: int, steps_per_epoch: int) -> int:
    """Record per-layer rows every this many steps."""
    return max(1, math.ceil(epochs * steps_per_epoch / MAX_RECORDED_STEPS))


class InsightCallback(keras.callbacks.Callback):
    """Record per-layer figures, validation predictions and dead ReLUs of one run.

    Args:
        recorder: the run's StoreCallback; rows go into its buffer, written with its own.
        validation: (dataset, labels): the batched validation data set (images, one-hot
            labels) and its labels as class numbers; None without a validation split.
        probe: images to look for dead ReLUs in (at most PROBE_SIZE are used).
        record_every: record per-layer rows every this many steps.
    """

    def __init__(self, recorder, *, validation=None, probe: np.ndarray | None = None,
                 record_every: int = 1):
        super().__init__()
        self.recorder = recorder
        self.validation = validation
        self.probe = None if probe is None else np.asarray(probe[:PROBE_SIZE])
        self.record_every = record_every
        self._layers: list[str] = []
        self._relu_probe = None
        self._relu_names: list[str] = []
        self._steps_seen = 0
        self._epoch = 0
        self._labels_saved = False
        self._order_saved = False

    def on_train_begin(self, logs=None):
        # Each phase of a transfer run compiles anew, with other layers trainable.
        self._layers = [name for name, _ in tracked_kernels(self.model)]
        self._relu_probe, self._relu_names = (
            _relu_probe_model(self.model) if self.probe is not None else (None, []))
        if not self._order_saved:  # the first phase sees the whole model
            self.recorder.store.write_artifact(
                self.recorder.run_id, LAYER_ORDER, json.dumps(kernel_layers(self.model)).encode())
            self._order_saved = True
        if self.validation is not None and not self._labels_saved:
            self._write(VAL_LABELS, np.asarray(self.validation[1], dtype="int32"))
            self._labels_saved = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._steps_seen += 1
        if (self._steps_seen - 1) % self.record_every:
            return
        epoch, step = self._epoch, batch + 1
        rows = []
        for key, prefix in LAYER_LOGS.items():
            values = logs.get(key)
            if values is None:
                continue
            rows.extend((epoch, step, f"{prefix}/{layer}", float(value))
                        for layer, value in zip(self._layers, np.asarray(values).ravel()))
        self.recorder.add_rows(rows)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.model.stop_training and not self.recorder.epoch_complete():
            return
        for key in LAYER_LOGS:
            logs.pop(key, None)
        if self.validation is not None:
            dataset, labels = self.validation
            probabilities = self.model.predict(dataset, verbose=0)
            logs.update(validation_logs(self.model, labels, probabilities))
            self._write(VAL_PROBS % (epoch + 1), probabilities.astype("float16"))
        if self._relu_probe is not None:
            outputs = self._relu_probe(self.probe, training=False)
            self.recorder.add_rows(
                (epoch + 1, self.recorder.steps_per_epoch, f"{DEAD_KIND}/{name}", _dead_fraction(output))
                for name, output in zip(self._relu_names, outputs))

    def _write(self, name: str, array: np.ndarray) -> None:
        self.recorder.store.write_artifact(self.recorder.run_id, name, encode_array(array))


def validation_logs(model, labels, probabilities) -> dict:
    """val_loss and val_accuracy as Keras' evaluate computes them: mean cross-entropy plus
    the regularization penalties, and the fraction whose top class is right."""
    labels = np.asarray(labels)
    logs = np.log(np.clip(probabilities, EPSILON, 1 - EPSILON).astype("float64"))
    true = logs[np.arange(len(labels)), labels]
    # Label smoothing's targets, (1 - s) on the true class and s / K on every class, as the
    # compiled loss has them (for the sigmoid head's two columns, binary smoothing's too).
    smoothing = float(getattr(getattr(model, "loss", None), "label_smoothing", 0.0) or 0.0)
    cross_entropy = -((1 - smoothing) * true + smoothing * logs.mean(axis=1))
    penalty = sum(float(loss) for loss in model.losses)
    return {
        "val_loss": float(cross_entropy.mean() + penalty),
        "val_accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
    }


def _relu_probe_model(model):
    """(a model from the input to every ReLU activation's output, their layer names);
    (None, []) if there is none."""
    relu = [layer for layer in model.layers
            if getattr(layer, "activation", None) is keras.activations.relu
            or isinstance(layer, keras.layers.ReLU)]
    if not relu:
        return None, []
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, [layer.output for layer in relu]), [layer.name for layer in relu]


def _dead_fraction(output) -> float:
    """The fraction of units (channels of a feature map) that output 0 for every image and
    at every position of the probe batch."""
    values = keras.ops.convert_to_numpy(output)
    fired = (values > 0).reshape(-1, values.shape[-1]).any(axis=0)
    return float(1.0 - fired.mean())
