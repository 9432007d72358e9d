"""The ensemble's figure: accuracy as members are added, each member's own beside it.

Data in (an `EnsembleResult`'s dict), a Plotly figure out; no Streamlit, no store.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from cnnlab.charts.style import TEMPLATE
from cnnlab.text import plot_all

SPLITS = (("test", "test", "#1f77b4"), ("validation", "validation", "#ff7f0e"))


def ensemble_curve_figure(result: Mapping, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Lines: the ensemble of the first k members' accuracy for k = 1 .. n; markers: the
    k-th member's own accuracy, so the gap between line and markers is what combining gave.

    Args:
        result: `EnsembleResult.to_dict()` (members, member_accuracy, curve, method).
        labels: {run id: short name} for the hover text; defaults to the run ids.
    """
    labels = labels or {}
    members = list(result["members"])
    counts = [point["members"] for point in result["curve"]]
    figure = go.Figure()
    for split, title, color in SPLITS:
        ensemble = [point[split] for point in result["curve"]]
        if any(value is None for value in ensemble):
            continue  # members drew different validation splits: test only
        own = [result["member_accuracy"][run][split] for run in members]
        figure.add_trace(go.Scatter(
            x=counts, y=ensemble, name=f"ensemble, {title}", mode="lines+markers",
            line={"color": color, "width": 4}, marker={"size": 9},
            hovertemplate=f"first %{{x}} members<br>ensemble {title} %{{y:.1%}}<extra></extra>"))
        figure.add_trace(go.Scatter(
            x=counts, y=own, name=f"member alone, {title}", mode="markers",
            marker={"color": color, "size": 11, "symbol": "circle-open", "line": {"width": 2}},
            customdata=plot_all(labels.get(run, run) for run in members),
            hovertemplate=f"member %{{x}}: %{{customdata}}<br>{title} %{{y:.1%}}<extra></extra>"))
    method = "mean of probabilities" if result.get("method") == "mean" else "majority vote"
    figure.update_layout(
        template=TEMPLATE, height=420, title={"text": f"Ensemble ({method}) as members are added"},
        margin={"l": 70, "r": 20, "t": 70, "b": 60},
        legend={"orientation": "h", "y": -0.2, "yanchor": "top"})
    figure.update_xaxes(title_text="members", dtick=1)
    figure.update_yaxes(title_text="accuracy", tickformat=".0%")
    return figure
