"""The learning-rate finder's figure: loss against the rate on a log axis, the suggestion marked."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnlab.charts.style import BATCH_COLOR, TEMPLATE, TRAIN_COLOR, VAL_COLOR


def finder_figure(rates, losses, smoothed, suggestion=None, *, height: int = 440) -> go.Figure:
    """Batch losses (faint) and their smoothed curve against the learning rate, log x axis.

    The y axis ends a little above the first smoothed loss, so the explosion that ends the
    test does not flatten the part that matters; `suggestion` (a lr_finder.Suggestion) is a
    dashed line with its rate and rule written on it.
    """
    rates, losses, smoothed = (np.asarray(a, np.float64) for a in (rates, losses, smoothed))
    figure = go.Figure([
        go.Scatter(x=rates, y=losses, mode="lines", name="batch loss", line={"color": BATCH_COLOR, "width": 1},
                   hovertemplate="rate %{x:.2e}: loss %{y:.3f}<extra></extra>"),
        go.Scatter(x=rates, y=smoothed, mode="lines", name="smoothed loss", line={"color": TRAIN_COLOR, "width": 3},
                   hovertemplate="rate %{x:.2e}: smoothed %{y:.3f}<extra></extra>"),
    ])
    finite = smoothed[np.isfinite(smoothed)]
    if finite.size:
        # Down to the lowest batch loss before the smoothed minimum too: the smoothed curve
        # lags, and the raw dips show how far single batches already fell.
        before = losses[:int(np.nanargmin(np.where(np.isfinite(smoothed), smoothed, np.inf))) + 1]
        before = before[np.isfinite(before)]
        low = float(min(finite.min(), before.min() if before.size else finite.min()))
        high = float(max(finite[0], finite.min()))
        span = max(high - low, 0.05 * max(abs(high), 1e-3))
        figure.update_yaxes(range=[low - 0.15 * span, high + 0.6 * span])
    if suggestion is not None:
        figure.add_vline(x=suggestion.learning_rate, line={"color": VAL_COLOR, "dash": "dash", "width": 2})
        figure.add_annotation(x=np.log10(suggestion.learning_rate), y=1, yref="paper", xanchor="left",
                              yanchor="top", showarrow=False, bgcolor="rgba(255,255,255,0.8)",
                              text=f"suggested {suggestion.learning_rate:.2g}<br>({suggestion.rule})")
    figure.update_xaxes(type="log", title={"text": "learning rate (log scale)"}, exponentformat="power")
    figure.update_yaxes(title={"text": "training loss"})
    figure.update_layout(template=TEMPLATE, height=height, margin={"l": 70, "r": 20, "t": 30, "b": 60},
                         legend={"orientation": "h", "y": -0.25, "x": 0})
    return figure
