"""The figures lessons make claims about, computed from a run's stored history.

Why here: the Lessons page shows the figure beside each run while the class watches, and
`benchmarks/lessons.py` averages it over seeds to check the claim; both call these, on the
same `RunHistory` the run panel reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnlab.analysis.gradient_alerts import WINDOW, first_to_last_ratio

# Epochs averaged for the generalization gap: one epoch's validation accuracy on a few
# hundred images moves by a point or two.
GAP_EPOCHS = 2


@dataclass(frozen=True)
class Metric:
    """A figure of a run: its name in words, its unit, which way is better, how to compute it."""

    title: str
    lower_is_better: bool
    compute: Callable[[pd.DataFrame, pd.DataFrame], float]  # (epochs, gradient norms) -> value
    percent: bool = False

    def format(self, value: float) -> str:
        if value is None or not math.isfinite(value):
            return "—"
        return f"{100 * value:.1f}%" if self.percent else f"{value:.3g}"


def _last(epochs: pd.DataFrame, column: str) -> float:
    """The last epoch's value; NaN where the run has none, or its last one is not finite
    (a diverged run's loss)."""
    if column not in epochs or not len(epochs):
        return math.nan
    trained = epochs[column][epochs.index > 0] if (epochs.index > 0).any() else epochs[column]
    value = float(trained.iloc[-1])
    return value if math.isfinite(value) else math.nan


def _last_reached(epochs: pd.DataFrame, column: str) -> float:
    """The last finite value, the untrained point included: what a run that diverged
    reached (for accuracy, which a diverged run keeps at its last sane value or chance)."""
    if column not in epochs:
        return math.nan
    values = epochs[column].astype("float64")
    values = values[np.isfinite(values)]
    return float(values.iloc[-1]) if len(values) else math.nan


def accuracy_gap(epochs: pd.DataFrame, _grads=None) -> float:
    """Training minus validation accuracy, the mean of the last GAP_EPOCHS epochs."""
    if not {"accuracy", "val_accuracy"} <= set(epochs.columns):
        return math.nan
    trained = epochs[epochs.index > 0].tail(GAP_EPOCHS)
    if trained.empty:
        return math.nan
    return float((trained["accuracy"] - trained["val_accuracy"]).mean())


def gradient_ratio_log10(_epochs, grads: pd.DataFrame) -> float:
    """log10 of the first layer's gradient over the last layer's, median of the last
    recorded steps (the figure the vanishing-gradient alert reads): 0 is an even flow,
    -3 a first layer that gets a thousandth of the last one's gradient."""
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW) if grads is not None else pd.Series()
    ratio = ratio[ratio > 0]
    return float(math.log10(ratio.median())) if len(ratio) else math.nan


def seconds_axis(epochs: pd.DataFrame) -> pd.Series:
    """Seconds of training at the end of each epoch (epoch 0, untrained, at 0 s), from the
    epoch times the run recorded: the x axis of "loss against time"."""
    if "epoch_time_s" not in epochs:
        return pd.Series(np.nan, index=epochs.index)
    return epochs["epoch_time_s"].fillna(0.0).where(epochs.index > 0, 0.0).cumsum()


METRICS: dict[str, Metric] = {
    "final_loss": Metric("final training loss", True, lambda e, g: _last(e, "loss")),
    "final_val_loss": Metric("final validation loss", True, lambda e, g: _last(e, "val_loss")),
    "final_accuracy": Metric("final training accuracy", False,
                             lambda e, g: _last_reached(e, "accuracy"), percent=True),
    "final_val_accuracy": Metric("final validation accuracy", False,
                                 lambda e, g: _last_reached(e, "val_accuracy"), percent=True),
    "accuracy_gap": Metric("generalization gap (train − validation accuracy)", True,
                           accuracy_gap, percent=True),
    "gradient_ratio_log10": Metric("first-to-last layer gradient, log10", False,
                                   gradient_ratio_log10),
}


def measure(metric: str, history, status: str | None = None) -> float:
    """`metric` (a key of METRICS) of a run whose `RunHistory` is up to date.

    A run whose status is "diverged" has no final loss (NaN): the last finite epoch it
    stored (maybe only the untrained point) says nothing about where it ended.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown lesson metric. Expected one of {sorted(METRICS)}. "
                         f"Received: {metric!r}.")
    if status == "diverged" and METRICS[metric].lower_is_better:
        return math.nan
    return METRICS[metric].compute(history.epochs, history.layer_table("grad_norm"))
