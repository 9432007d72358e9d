"""Weight and gradient distributions per layer per epoch: fixed-bin histograms in a file.

Why histograms, not the weights: the Inspect page draws how each layer's weights spread
over the epochs (L1 piling them at zero where L2 only shrinks them, He against Glorot's
variance, batch norm's gamma and beta), TensorBoard's "distributions". A histogram of
`BINS` counts between the weight's minimum and maximum at that epoch is a few hundred bytes
per layer, whatever the layer's size, and costs one `numpy.histogram` per weight per epoch.

Why a run file rather than a store table: the store's tables are read by every page
(and migrated with every schema change); these are read by one page for one run. The
file is rewritten atomically at each epoch end (`RunStore.write_artifact`), so a reader
sees the epochs so far.

Gradients: the train step already computes every gradient, but only their norms leave it
(a per-batch histogram would cost a transfer of every gradient each step). At each epoch
end the callback computes the gradient of the loss, regularization included, on one
fixed probe batch of training images, in inference mode (dropout off, batch norm's
moving statistics: the step's own batch statistics would move the model): one forward and
backward pass of `PROBE_SIZE` images per epoch.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf

ARTIFACT = "distributions.json"
BINS = 30
PROBE_SIZE = 32
# Weight names drawn: the kernels, and batch norm's scale and shift.
WEIGHT_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel", "gamma", "beta")


def histogram(values: np.ndarray) -> dict:
    """`BINS` equal bins from the finite values' minimum to maximum, as the file stores them,
    and how many values were not finite (`nonfinite`): a diverging run's weights turn NaN,
    and the run must end "diverged", not fail in its histogram (numpy refuses a NaN range).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    nonfinite = int(values.size - finite.size)
    if not finite.size:
        return {"low": 0.0, "high": 0.0, "counts": [0] * BINS, "nonfinite": nonfinite}
    low, high = float(finite.min()), float(finite.max())
    counts, _ = np.histogram(finite, bins=BINS, range=(low, high) if high > low else None)
    return {"low": low, "high": high, "counts": [int(count) for count in counts],
            "nonfinite": nonfinite}


def _tracked(model: keras.Model) -> list[tuple[str, keras.Variable]]:
    return [(variable.path, variable) for variable in model.weights
            if variable.name in WEIGHT_NAMES]


class DistributionCallback(keras.callbacks.Callback):
    """Record the histogram of every kernel (and batch norm gamma and beta) at the start
    of training (epoch 0) and at each epoch end, and of their gradients on a probe batch.

    Args:
        store: the RunStore.
        run_id: the run.
        probe: (images, one-hot labels) of the gradient probe; None records weights only.
    """

    def __init__(self, store, run_id: str, probe=None):
        super().__init__()
        self.store, self.run_id = store, run_id
        self.probe = None if probe is None else (
            tf.constant(np.asarray(probe[0][:PROBE_SIZE], np.float32)),
            tf.constant(np.asarray(probe[1][:PROBE_SIZE], np.float32)))
        self.data = {"bins": BINS, "epochs": [], "weights": {}, "gradients": {}}
        self._probe_gradients = None  # (the variables' ids, the traced function)

    def on_train_begin(self, logs=None):
        if not self.data["epochs"]:  # the first phase only: later phases continue
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)

    def _record(self, epoch: int) -> None:
        weights = _tracked(self.model)
        if epoch in self.data["epochs"]:
            return
        self.data["epochs"].append(epoch)
        for path, variable in weights:
            self.data["weights"].setdefault(path, []).append(
                {"epoch": epoch, **histogram(variable.numpy())})
        for path, gradient in self._gradients(weights).items():
            self.data["gradients"].setdefault(path, []).append(
                {"epoch": epoch, **histogram(gradient)})
        self.store.write_artifact(self.run_id, ARTIFACT, json.dumps(self.data).encode())

    def _gradients(self, weights) -> dict[str, np.ndarray]:
        trainable = [(path, variable) for path, variable in weights if variable.trainable]
        if self.probe is None or not trainable:
            return {}
        variables = [variable for _, variable in trainable]
        key = tuple(id(variable) for variable in variables)  # a new phase may unfreeze more
        if self._probe_gradients is None or self._probe_gradients[0] != key:
            # The variables are captured, not passed: as arguments they arrive as values.
            self._probe_gradients = (key, tf.function(
                lambda images, labels: self._probe_step(images, labels, variables)))
        gradients = self._probe_gradients[1](*self.probe)
        return {path: np.asarray(gradient) for (path, _), gradient in zip(trainable, gradients)
                if gradient is not None}

    def _probe_step(self, images, labels, variables):
        """The probe batch's gradients, traced once (an eager tape cost a large share of a
        small model's epoch)."""
        with tf.GradientTape() as tape:
            output = self.model(images, training=False)
            if isinstance(output, (list, tuple)):
                output = output[0]
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(labels, output))
            if self.model.losses:
                loss += tf.add_n(self.model.losses)
        return tape.gradient(loss, variables)


def read_distributions(store, run_id: str) -> dict | None:
    """The run's recorded distributions (see the module), or None if it recorded none."""
    data = store.read_artifact(run_id, ARTIFACT)
    return None if data is None else json.loads(data)


def bin_edges(entry: dict) -> np.ndarray:
    """The `BINS + 1` edges of one stored histogram."""
    low, high = entry["low"], entry["high"]
    if high <= low:  # numpy's bins for a constant array: a unit-wide range around it
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, len(entry["counts"]) + 1)


def percentiles(entry: dict, quantiles=(0, 0.0668, 0.1587, 0.3085, 0.5, 0.6915, 0.8413,
                                        0.9332, 1)) -> list[float]:
    """Values at the quantiles (default TensorBoard's: the normal's -inf, -1.5, -1, -0.5,
    0, ... sigma), interpolated within the bins."""
    counts = np.asarray(entry["counts"], dtype=np.float64)
    edges = bin_edges(entry)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / max(counts.sum(), 1)
    return [float(np.interp(q, cumulative, edges)) for q in quantiles]
