"""Measuring a model outside `model.fit`: its untrained point and its final evaluation.

Both compute loss and accuracy as Keras' evaluate does (mean cross-entropy plus the
regularization penalties; the share of top-1 hits), from predictions: eagerly for the few
images of the untrained point, through `predict` (already traced by the insight callback)
for the final evaluation, so neither traces a function of its own.
"""

from __future__ import annotations

import numpy as np

# Images of each split the untrained model is measured on, in chunks: few enough to cost a
# fraction of a second before training starts, and a fixed count, so the figure does not
# depend on the machine's speed.
UNTRAINED_SAMPLES = 64
UNTRAINED_CHUNK = 32


def untrained_rows(model, data) -> list[tuple[int, int, str, float]]:
    """The untrained model's loss and accuracy, as epoch 0 rows (step 0) of the curves.

    Why: the lectures read a curve from where training starts, and it gives the page a
    point within a second of the run starting, while the first training step is still
    being traced. Measured eagerly in inference mode on the first
    `UNTRAINED_SAMPLES` training and validation images (not through the training
    pipeline, whose shuffling and augmentation must draw exactly what they would draw
    without it): no random number is drawn, so the run trains exactly as it would
    without this measurement. Values as Keras computes them: mean cross-entropy plus the
    regularization penalties, and the share of top-1 hits.
    """
    from cnnlab.training.insight_callback import validation_logs

    rows = []
    for prefix, images, labels in (("", data.x_train, data.y_train), ("val_", data.x_val, data.y_val)):
        if not len(images):
            continue
        images, labels = images[:UNTRAINED_SAMPLES], labels[:UNTRAINED_SAMPLES]
        probabilities = np.concatenate([
            np.asarray(prediction_of(model(images[start:start + UNTRAINED_CHUNK], training=False)))
            for start in range(0, len(images), UNTRAINED_CHUNK)]).astype("float64")
        logs = validation_logs(model, labels, probabilities)
        rows += [(0, 0, f"{prefix}loss", logs["val_loss"]),
                 (0, 0, f"{prefix}accuracy", logs["val_accuracy"])]
    return rows


def prediction_of(outputs):
    """The model's prediction; auxiliary heads' outputs (inception_aux) come after it."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def evaluate(model, dataset, labels) -> tuple[float, float]:
    """(loss, accuracy) of `model` on a batched evaluation data set, as Keras' evaluate
    computes them, from `predict`.

    Why predict: the insight callback has already traced the predict function for each
    epoch's validation; Keras' evaluate would trace a function of its own, a second or
    more of dead time after the last epoch of a small run.
    """
    loss, accuracy, _ = evaluate_with_probabilities(model, dataset, labels)
    return loss, accuracy


def evaluate_with_probabilities(model, dataset, labels) -> tuple[float, float, "np.ndarray"]:
    """`evaluate`'s (loss, accuracy), and the predicted probabilities they come from
    (stored for ensembles: `cnnlab.analysis.ensemble`)."""
    from cnnlab.training.insight_callback import validation_logs

    probabilities = model.predict(dataset, verbose=0)
    logs = validation_logs(model, labels, probabilities)
    return logs["val_loss"], logs["val_accuracy"], probabilities
