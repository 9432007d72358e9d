"""Pure chart builders for a training run: data in, a Plotly figure out. No Streamlit, no store.

Styled for a projector (`cnnlab.charts.style`): large fonts, thick lines for the curves
that matter, the noisy per-batch loss drawn faint behind them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlab.charts.style import (
    BATCH_COLOR,
    TEMPLATE,
    TITLE_FONT_SIZE,
    TRAIN_COLOR,
    VAL_COLOR,
)


def fractional_epochs(index: pd.MultiIndex, steps_per_epoch: int | None = None) -> np.ndarray:
    """The x position, in epochs, of each (epoch, step) of a batch or per-layer table.

    A batch that ends epoch e sits at x = e, the same x as that epoch's point, so per-batch
    and per-epoch figures line up on one axis.

    Args:
        index: the table's (epoch, step) index.
        steps_per_epoch: batches in a full epoch (default: the most seen in any epoch).
    """
    if len(index) == 0:
        return np.zeros(0)
    epoch = index.get_level_values("epoch").to_numpy(dtype=float)
    step = index.get_level_values("step").to_numpy(dtype=float)
    per_epoch = steps_per_epoch or max(float(step.max()), 1.0)
    return epoch - 1 + step / per_epoch


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
        x = fractional_epochs(batches.index, steps_per_epoch)
        figure.add_trace(go.Scatter(x=x, y=batches["loss"], name="batch loss", mode="lines",
                                    line={"color": BATCH_COLOR, "width": 1.5}), row=1, col=1)
        if "running_accuracy" in batches:
            figure.add_trace(go.Scatter(x=x, y=batches["running_accuracy"], mode="lines",
                                        name="running train accuracy",
                                        line={"color": BATCH_COLOR, "width": 1.5}), row=1, col=2)
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
                # Whole markers at the axes' ends: epoch 0 (the untrained point) and the last.
                cliponaxis=False,
            ), row=1, col=col)
    if "phase" in epochs:
        # A two-phase transfer run: fine-tuning starts where phase 2's first epoch begins.
        starts = epochs.index[epochs["phase"] == 2]
        for start in starts:
            figure.add_vline(x=start - 1, line={"dash": "dash", "color": "gray"}, row=1, col="all")
            figure.add_annotation(x=start - 1, y=1.0, yref="paper", text="fine-tuning starts",
                                  showarrow=False, xanchor="left", font={"color": "gray"})
    upper = total_epochs or (int(epochs.index.max()) if not epochs.empty else 1)
    figure.update_xaxes(title_text="epoch", range=[0, max(upper, 1) + 0.05])
    figure.update_yaxes(title_text="loss", row=1, col=1, rangemode="tozero")
    figure.update_yaxes(title_text="accuracy", row=1, col=2, range=[0, 1.02])
    figure.update_layout(
        height=440, margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.22, "yanchor": "top"}, template=TEMPLATE,
    )
    figure.update_annotations(font_size=TITLE_FONT_SIZE)
    return figure


def schedule_figure(epochs_axis: np.ndarray, rates: np.ndarray, *, title: str = "Learning rate",
                    log_y: bool = False, height: int = 260) -> go.Figure:
    """The learning rate against the epoch, as `schedules.preview` or a run's batches give it.

    Why steps drawn at the batch's start ("vh"): each point sits where its batch ends (the
    batch that ends epoch e is at x = e, as in `training_curves`), and its rate applies
    during that batch, so a per-epoch drop shows at the epoch boundary, not one batch late.

    Args:
        epochs_axis: epoch position of each iteration.
        rates: the learning rate at each iteration, the same length.
        title: the figure's title (default "Learning rate").
        log_y: a logarithmic rate axis (default False), for exponential and step decay
            whose late rates vanish on a linear axis.
        height: the figure's height in pixels (default 260).
    """
    epochs_axis, rates = np.asarray(epochs_axis, dtype=float), np.asarray(rates, dtype=float)
    if epochs_axis.shape != rates.shape or epochs_axis.ndim != 1:
        raise ValueError(
            "`epochs_axis` and `rates` must be 1-D and of the same length. Expected one rate "
            f"per iteration. Received: shapes {epochs_axis.shape} and {rates.shape}. Pass the "
            "two arrays `schedules.preview` returns."
        )
    # Markers only while there are few enough points to tell apart.
    mode = "lines+markers" if len(rates) <= 60 else "lines"
    figure = go.Figure(go.Scatter(
        x=epochs_axis, y=rates, name="learning rate", mode=mode, line_shape="vh",
        line={"color": TRAIN_COLOR, "width": 3}, marker={"size": 6},
    ))
    upper = float(epochs_axis.max()) if len(epochs_axis) else 1.0
    figure.update_xaxes(title_text="epoch", range=[0, max(upper, 1.0) + 0.05])
    if log_y:
        figure.update_yaxes(title_text="learning rate", type="log", exponentformat="power")
    else:
        figure.update_yaxes(title_text="learning rate", rangemode="tozero", exponentformat="e")
    figure.update_layout(title={"text": title}, height=height,
                         margin={"l": 70, "r": 20, "t": 50, "b": 50}, template=TEMPLATE,
                         showlegend=False)
    return figure
