"""Plain-language health alerts, each with the lectures' remedy, from a run's stored figures.

Pure functions of a RunHistory's tables: the Train page shows them live, the Compare page
and the CLI can show them for finished runs.

Vanishing gradients: the lectures' measure is how much smaller the first layer's gradient
is than the last's. The threshold is measured, not guessed. On `deep_plain` (ten weight
layers) trained on digits, the median first-to-last ratio of kernel-gradient norms was
2e-7 to 3e-6 for sigmoid with Glorot weights, 3e-3 to 1.6e-2 for sigmoid with N(0, 1)
weights (under Adam and SGD, several seeds), and 0.2 to 3 for ReLU with He weights, with
batch norm or without. A first layer's kernel gradient sums over every position of its
feature map, which keeps it larger than a dense layer's, so the 1e-3 often quoted for
dense networks would miss the N(0, 1) case; `VANISHING_RATIO` = 0.05 sits a factor three
or more from both sides. The ratio must hold as a median over `WINDOW` recorded steps, so
one noisy batch neither raises nor clears an alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

VANISHING_RATIO = 0.05
# First-layer gradients this many times the last layer's, or any layer's gradient growing
# this many times over the run, count as exploding.
EXPLODING_RATIO = 100.0
EXPLODING_GROWTH = 100.0
WINDOW = 10  # recorded steps
DEAD_FRACTION = 0.5  # of a ReLU layer's units that never fire on the probe batch
OVERFITTING_EPOCHS = 3  # validation loss rising while training loss falls, epochs in a row


@dataclass(frozen=True)
class Alert:
    """One finding: what was seen, in plain words, and what the lectures say to do."""

    kind: str  # "vanishing", "exploding", "dead_relu", "diverged" or "overfitting"
    title: str
    detail: str
    remedy: str


def health_alerts(history, *, status: str | None = None) -> list[Alert]:
    """Every alert that the run's figures so far support, most serious first.

    Args:
        history: a RunHistory (or anything with `epochs`, `batches` and `layer_table`).
        status: the run's stored status; "diverged" adds the divergence alert.
    """
    grads = history.layer_table("grad_norm")
    found = [
        _diverged(history.batches, status),
        _exploding(grads),
        _vanishing(grads),
        _dead_relus(history.layer_table("dead_fraction")),
        _overfitting(history.epochs),
    ]
    return [alert for alert in found if alert is not None]


def first_to_last_ratio(grads: pd.DataFrame) -> pd.Series:
    """Per recorded step, the first layer's gradient norm over the last layer's."""
    if grads.shape[1] < 2:
        return pd.Series(dtype="float64")
    last = grads.iloc[:, -1].where(grads.iloc[:, -1] > 0)
    return grads.iloc[:, 0] / last


def _vanishing(grads: pd.DataFrame) -> Alert | None:
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW)
    if len(ratio) < WINDOW or not ratio.median() < VANISHING_RATIO:
        return None
    first, last = grads.columns[0], grads.columns[-1]
    return Alert(
        "vanishing", "Vanishing gradients",
        f"The first layer's gradient ({first}) is {ratio.median():.1e} times the last "
        f"layer's ({last}), the median of the last {WINDOW} recorded steps: the layers near "
        "the input barely learn.",
        "Use ReLU (or leaky ReLU / ELU) instead of sigmoid or tanh, He initialization "
        "instead of N(0, 1), and batch normalization; residual connections help very deep "
        "networks.",
    )


def _exploding(grads: pd.DataFrame) -> Alert | None:
    if len(grads) < WINDOW:
        return None
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW)
    recent = grads.tail(WINDOW).median()
    start = grads.head(WINDOW).median()
    growth = (recent / start.where(start > 0)).max()
    if len(ratio) == WINDOW and ratio.median() > EXPLODING_RATIO:
        detail = (f"The first layer's gradient is {ratio.median():.0f} times the last "
                  "layer's: gradients grow on their way back to the input.")
    elif np.isfinite(growth) and growth > EXPLODING_GROWTH:
        layer = (recent / start).idxmax()
        detail = (f"The gradient of {layer} grew {growth:.0f}-fold since the start of "
                  "training.")
    else:
        return None
    return Alert("exploding", "Exploding gradients", detail,
                 "Lower the learning rate, clip gradients by norm (e.g. 1.0), use batch "
                 "normalization and a variance-preserving initialization (He or Glorot).")


def _dead_relus(dead: pd.DataFrame) -> Alert | None:
    if dead.empty:
        return None
    latest = dead.ffill().iloc[-1].dropna()
    worst = latest[latest > DEAD_FRACTION]
    if worst.empty:
        return None
    layer = worst.idxmax()
    return Alert(
        "dead_relu", "Dead ReLUs",
        f"{worst[layer]:.0%} of the units of {layer} never fire on the probe images"
        + (f" (and over {DEAD_FRACTION:.0%} in {len(worst) - 1} more layer(s))" if len(worst) > 1 else "")
        + ": a dead unit outputs 0 for every input and gets no gradient, so it never recovers.",
        "Lower the learning rate, use leaky ReLU or ELU, He initialization, or batch "
        "normalization before the activation.",
    )


def _diverged(batches: pd.DataFrame, status: str | None) -> Alert | None:
    loss = batches["loss"] if "loss" in batches else pd.Series(dtype="float64")
    bad = loss[~np.isfinite(loss.to_numpy(dtype="float64", na_value=math.nan))]
    if status != "diverged" and bad.empty:
        return None
    where = f" at epoch {bad.index[0][0]}, step {bad.index[0][1]}" if not bad.empty else ""
    return Alert("diverged", "Training diverged",
                 f"The loss became NaN or infinite{where}: the weights overflowed.",
                 "Lower the learning rate (try 10x smaller), clip gradients, or add batch "
                 "normalization.")


def _overfitting(epochs: pd.DataFrame) -> Alert | None:
    if not {"loss", "val_loss"} <= set(epochs.columns):
        return None
    recent = epochs[["loss", "val_loss"]].dropna().tail(OVERFITTING_EPOCHS + 1)
    if len(recent) < OVERFITTING_EPOCHS + 1:
        return None
    change = recent.diff().iloc[1:]
    if not ((change["val_loss"] > 0).all() and (change["loss"] < 0).all()):
        return None
    best = int(epochs["val_loss"].idxmin())
    return Alert(
        "overfitting", "Overfitting",
        f"Validation loss has risen for {OVERFITTING_EPOCHS} epochs while training loss "
        f"fell; it was lowest at epoch {best}. The network is memorizing the training set.",
        "Add dropout, L2 regularization or data augmentation, use more data, or stop early "
        "(early stopping with restore best weights).",
    )
