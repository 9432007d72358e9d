"""Pure chart builders for the Lessons page: a lesson's runs in one figure, by their labels.

Data in, a Plotly figure out; styled by `cnnlab.charts.style` like every chart of the lab.
Run labels are the lesson's own (`LessonRun.label`), never text from a user or the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlab.charts import insight as insight_charts
from cnnlab.charts.compare import BASELINE_COLOR
from cnnlab.charts.style import TEMPLATE, TITLE_FONT_SIZE
from cnnlab.lessons.metrics import seconds_axis
from cnnlab.text import plot


def loss_against_time(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str],
                      colors: Mapping[str, str]) -> go.Figure:
    """Training loss of each run against epochs (left) and against seconds of training
    (right): the gradient-descent lesson's point, that a cheap step per epoch and a cheap
    second are not the same thing.

    Args:
        curves: {run id: per-epoch table} with `loss` and `epoch_time_s` columns.
        labels, colors: {run id: text}, {run id: colour}.
    """
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                           subplot_titles=["Training loss per epoch", "Training loss per second"])
    for run, curve in curves.items():
        if "loss" not in curve or curve.empty:
            continue
        label, color = plot(labels.get(run, run)), colors.get(run, BASELINE_COLOR)
        loss = curve["loss"].to_numpy(dtype=float)
        seconds = seconds_axis(curve).to_numpy(dtype=float)
        for col, x, unit in ((1, curve.index.to_numpy(), "epoch"), (2, seconds, "s")):
            figure.add_trace(go.Scatter(
                x=x, y=loss, name=label, legendgroup=run, showlegend=col == 1,
                mode="lines+markers", line={"color": color, "width": 3}, marker={"size": 7},
                cliponaxis=False,
                hovertemplate=f"{label}<br>%{{x:.3g}} {unit}<br>loss %{{y:.4g}}<extra></extra>",
            ), row=1, col=col)
    figure.update_xaxes(title_text="epoch", row=1, col=1)
    figure.update_xaxes(title_text="seconds of training", rangemode="tozero", row=1, col=2)
    figure.update_yaxes(title_text="training loss", row=1, col=1)
    figure.update_layout(height=440, template=TEMPLATE, margin={"l": 70, "r": 20, "t": 50, "b": 60},
                         legend={"orientation": "h", "y": -0.2, "yanchor": "top"})
    figure.update_annotations(font_size=TITLE_FONT_SIZE)
    return figure


def figure_bars(figures: Mapping[str, float], labels: Mapping[str, str],
                colors: Mapping[str, str], *, title: str, percent: bool = False) -> go.Figure:
    """The lesson's figure for each run as a horizontal bar, the runs top to bottom in the
    lesson's order; a run without the figure yet (queued, or no epoch done) has no bar.

    Args:
        figures: {run id: value}.
        labels, colors: {run id: text}, {run id: colour}.
        title: the figure's name ("final training loss").
        percent: show values as percentages.
    """
    runs = list(figures)
    values = np.array([figures[run] for run in runs], dtype=float)
    shown = np.where(np.isfinite(values), values, np.nan)
    text = ["not yet" if not np.isfinite(value) else
            (f"{100 * value:.1f}%" if percent else f"{value:.3g}") for value in values]
    figure = go.Figure(go.Bar(
        y=[plot(labels.get(run, run)) for run in runs], x=shown, orientation="h", text=text,
        textposition="auto", marker={"color": [colors.get(run, BASELINE_COLOR) for run in runs]},
        hovertemplate="%{y}<br>%{text}<extra></extra>", cliponaxis=False,
    ))
    figure.update_layout(
        title={"text": title}, template=TEMPLATE, height=120 + 48 * len(runs), showlegend=False,
        margin={"l": 20, "r": 30, "t": 60, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"tickformat": ".0%"} if percent else {},
    )
    return figure


def heatmaps_on_one_scale(tables: Mapping[str, pd.DataFrame], *,
                          kind: str = "grad_norm") -> dict[str, go.Figure]:
    """A layer x step heatmap per run (`insight.layer_heatmap`), all on one colour scale.

    Why one scale: each heatmap alone spans its own data's decades, so a run whose every
    gradient is a millionth of another's would look just as bright; side by side, "dark"
    must mean the same number in every run.

    Args:
        tables: {run id: per-layer table} as `RunHistory.layer_table` gives it.
        kind: the per-layer figure ("grad_norm" by default).
    """
    logs = [np.log10(table.to_numpy(dtype=float)[table.to_numpy(dtype=float) > 0])
            for table in tables.values() if not table.empty]
    values = np.concatenate(logs) if logs else np.zeros(0)
    values = values[np.isfinite(values)]
    figures = {}
    for run, table in tables.items():
        figure = insight_charts.layer_heatmap(table, kind=kind)
        if values.size:
            low, high = math.floor(values.min()), max(math.ceil(values.max()), math.floor(values.min()) + 1)
            ticks = list(range(low, high + 1))
            figure.update_traces(zmin=low, zmax=high, colorbar={
                "tickvals": ticks, "ticktext": [insight_charts.power_of_ten(t) for t in ticks]})
        figure.update_layout(title={"text": ""}, margin={"t": 20})
        figures[run] = figure
    return figures
