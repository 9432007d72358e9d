"""Pure chart builders: data in, a Plotly figure out. No Streamlit, no store access.

Styled for a projector: large fonts, thick lines for the curves that matter, the noisy
per-batch loss drawn faint behind them.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
BATCH_COLOR = "rgba(31, 119, 180, 0.25)"
FONT_SIZE = 16


def training_curves(epochs: pd.DataFrame, batches: pd.DataFrame, *, steps_per_epoch: int | None = None,
                    total_epochs: int | None = None) -> go.Figure:
    """Loss and accuracy side by side: train and validation by epoch, batch loss faint.

    Args:
        epochs: one row per epoch (index: epoch number from 1), columns such as `loss`,
            `accuracy`, `val_loss`, `val_accuracy`.
        batches: one row per batch (index: (epoch, step)), columns such as `loss` (the
            batch's own loss). Batches are placed at fractional epochs, so they line up
            with the epoch points.
        steps_per_epoch: batches in a full epoch (default: the most seen in any epoch).
        total_epochs: the planned number of epochs, to fix the x axis while a run grows
            (default: the data's own range).
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    if not batches.empty and "loss" in batches:
        epoch = batches.index.get_level_values("epoch").to_numpy()
        step = batches.index.get_level_values("step").to_numpy()
        per_epoch = steps_per_epoch or int(step.max())
        # A batch that ends epoch e sits at x = e, the same x as that epoch's point.
        x = epoch - 1 + step / per_epoch
        figure.add_trace(go.Scatter(x=x, y=batches["loss"], name="batch loss", mode="lines",
                                    line={"color": BATCH_COLOR, "width": 1}), row=1, col=1)
        if "running_accuracy" in batches:
            figure.add_trace(go.Scatter(x=x, y=batches["running_accuracy"], mode="lines",
                                        name="running train accuracy",
                                        line={"color": BATCH_COLOR, "width": 1}), row=1, col=2)
    for column, col, name, color, dash in (
        ("loss", 1, "train loss", TRAIN_COLOR, None),
        ("val_loss", 1, "validation loss", VAL_COLOR, None),
        ("accuracy", 2, "train accuracy", TRAIN_COLOR, None),
        ("val_accuracy", 2, "validation accuracy", VAL_COLOR, None),
    ):
        if column in epochs and epochs[column].notna().any():
            figure.add_trace(go.Scatter(
                x=epochs.index, y=epochs[column], name=name, mode="lines+markers",
                line={"color": color, "width": 3, "dash": dash}, marker={"size": 8},
            ), row=1, col=col)
    upper = total_epochs or (int(epochs.index.max()) if not epochs.empty else 1)
    figure.update_xaxes(title_text="epoch", range=[0, max(upper, 1) + 0.05])
    figure.update_yaxes(title_text="loss", row=1, col=1, rangemode="tozero")
    figure.update_yaxes(title_text="accuracy", row=1, col=2, range=[0, 1.02])
    figure.update_layout(
        height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50}, font={"size": FONT_SIZE},
        legend={"orientation": "h", "y": -0.2}, template="plotly_white",
    )
    figure.update_annotations(font_size=FONT_SIZE + 2)
    return figure
