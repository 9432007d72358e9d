"""The Inspect page's figures: top-5 bars, feature-map and filter grids, Grad-CAM and
saliency overlays, and weight distributions over epochs. Pure: data in, Figure out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlab.charts.style import TEMPLATE, TRAIN_COLOR, VAL_COLOR
from cnnlab.text import plot
from cnnlab.training.distributions import bin_edges, percentiles

PREDICTED_COLOR = TRAIN_COLOR
TRUE_COLOR = "#2ca02c"
# TensorBoard's distribution bands: min-max, +-1.5, +-1 and +-0.5 sigma, then the median.
_BAND_OPACITY = (0.15, 0.3, 0.45, 0.6)


def top_k_bars(top: Sequence[tuple[int, float]], class_names: Sequence[str],
               true_class: int | None = None) -> go.Figure:
    """The top-k classes as horizontal bars, most probable on top; the true class green."""
    names = [plot(class_names[index]) for index, _ in top]
    probabilities = [probability for _, probability in top]
    colors = [TRUE_COLOR if index == true_class else PREDICTED_COLOR for index, _ in top]
    labels = [f"{name} (true)" if index == true_class else name
              for (index, _), name in zip(top, names)]
    figure = go.Figure(go.Bar(
        y=labels, x=probabilities, orientation="h", marker={"color": colors},
        text=[f"{100 * p:.1f}%" for p in probabilities], textposition="auto",
        hovertemplate="%{y}: %{text}<extra></extra>", cliponaxis=False))
    title = "Top-5 prediction" if true_class is None or true_class in dict(top) else \
        f"Top-5 prediction (true class {plot(class_names[true_class])} is not among them)"
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=90 + 40 * len(top),
                         showlegend=False, margin={"l": 20, "r": 30, "t": 50, "b": 30},
                         # Categories: class names such as "4" would read as numbers.
                         yaxis={"autorange": "reversed", "type": "category"},
                         xaxis={"tickformat": ".0%", "range": [0, 1]})
    return figure


def channel_grid(maps: np.ndarray, *, max_channels: int = 32, columns: int = 8,
                 title: str = "") -> go.Figure:
    """One small grey image per channel of a (height, width, channels) map, each scaled
    to its own range, titled with the channel's mean activation."""
    channels = min(maps.shape[-1], max_channels)
    rows = math.ceil(channels / columns)
    means = maps.reshape(-1, maps.shape[-1]).mean(axis=0)
    # Rows of about 95 px of image under a 30 px title: near square on a 1024 px screen.
    height = 70 + 125 * rows
    figure = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.01,
                           vertical_spacing=min(0.3, 30 / height),
                           subplot_titles=[f"{c}: {means[c]:.2f}" for c in range(channels)])
    for channel in range(channels):
        image = maps[..., channel]
        low, high = float(image.min()), float(image.max())
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        figure.add_trace(go.Heatmap(z=scaled, colorscale="gray", showscale=False,
                                    hovertemplate=f"channel {channel}<br>%{{z:.2f}}<extra></extra>"),
                         row=channel // columns + 1, col=channel % columns + 1)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)
    figure.update_annotations(font={"size": 14})
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=height,
                         margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return figure


def overview_row(maps: dict[str, np.ndarray], *, channels: int = 6) -> go.Figure:
    """CNN Explainer's overview: one column per layer, its first channels stacked."""
    names = list(maps)
    figure = make_subplots(rows=channels, cols=len(names), column_titles=names,
                           horizontal_spacing=0.02, vertical_spacing=0.02)
    for column, name in enumerate(names, start=1):
        values = maps[name]
        for row in range(min(channels, values.shape[-1])):
            image = values[..., row]
            low, high = float(image.min()), float(image.max())
            scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
            figure.add_trace(go.Heatmap(z=scaled, colorscale="Viridis", showscale=False,
                                        hovertemplate=f"{name} channel {row}<extra></extra>"),
                             row=row + 1, col=column)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    figure.update_annotations(font={"size": 14})
    figure.update_layout(template=TEMPLATE, height=80 + 70 * channels,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def filter_images(kernels: np.ndarray, *, max_filters: int = 32, max_rows: int = 16,
                  max_channels: int = 8) -> go.Figure:
    """Conv kernels scaled to [0, 1] (cnnlab.inspect.filters). A first layer (1 or 3
    input channels): one image per filter, RGB or grey, eight to a row. Deeper: one row
    per filter (up to `max_rows`), one column per input channel (up to `max_channels`)."""
    columns = 8
    if kernels.shape[-1] in (1, 3):
        count = min(len(kernels), max_filters)
        rows = math.ceil(count / columns)
        figure = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.01,
                               vertical_spacing=0.02)
        for index in range(count):
            place = {"row": index // columns + 1, "col": index % columns + 1}
            if kernels.shape[-1] == 3:
                figure.add_trace(go.Image(z=np.round(kernels[index] * 255).astype(np.uint8),
                                          hovertemplate=f"filter {index}<extra></extra>"), **place)
            else:
                figure.add_trace(go.Heatmap(z=kernels[index, ..., 0], zmin=0, zmax=1,
                                            colorscale="gray", showscale=False,
                                            hovertemplate=f"filter {index}<extra></extra>"), **place)
    else:
        rows, columns = min(len(kernels), max_rows), min(kernels.shape[-1], max_channels)
        figure = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.01,
                               vertical_spacing=0.01)
        for index in range(rows):
            for channel in range(columns):
                figure.add_trace(go.Heatmap(
                    z=kernels[index, ..., channel], zmin=0, zmax=1, colorscale="RdBu",
                    showscale=False, hovertemplate=f"filter {index}, input channel {channel}"
                                                   "<extra></extra>"),
                    row=index + 1, col=channel + 1)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    # About square cells on a 1024 px screen: eight columns of some 90 px.
    figure.update_layout(template=TEMPLATE, height=30 + 92 * rows,
                         margin={"l": 10, "r": 10, "t": 20, "b": 10})
    return figure


def heat_overlay(image: np.ndarray, heat: np.ndarray, *, opacity: float = 0.5,
                 title: str = "") -> go.Figure:
    """The image (in [0, 1], grey or RGB) with a heatmap in [0, 1] laid over it."""
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    figure = go.Figure(go.Image(z=np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8),
                                hoverinfo="skip"))
    figure.add_trace(go.Heatmap(z=heat, colorscale="Jet", opacity=opacity, zmin=0, zmax=1,
                                showscale=False, hovertemplate="%{z:.2f}<extra></extra>"))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=340,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def distribution_bands(entries: Sequence[dict], *, title: str) -> go.Figure:
    """TensorBoard's distributions: for each stored epoch, the weight's min-max, +-1.5,
    +-1 and +-0.5 sigma bands (as percentiles of its histogram) and its median."""
    epochs = [entry["epoch"] for entry in entries]
    bands = np.array([percentiles(entry) for entry in entries])  # (epochs, 9)
    figure = go.Figure()
    for level, opacity in enumerate(_BAND_OPACITY):
        lower, upper = bands[:, level], bands[:, 8 - level]
        figure.add_trace(go.Scatter(x=epochs, y=upper, mode="lines", line={"width": 0},
                                    showlegend=False, hoverinfo="skip"))
        figure.add_trace(go.Scatter(
            x=epochs, y=lower, mode="lines", line={"width": 0}, fill="tonexty",
            fillcolor=f"rgba(31, 119, 180, {opacity})", showlegend=False, hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=epochs, y=bands[:, 4], mode="lines+markers", name="median",
                                line={"color": VAL_COLOR},
                                hovertemplate="epoch %{x}<br>median %{y:.3g}<extra></extra>"))
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=300, showlegend=False,
                         xaxis={"title": {"text": "epoch"}, "dtick": 1},
                         margin={"l": 20, "r": 20, "t": 50, "b": 40})
    return figure


def histogram_at(entries: Sequence[dict], *, title: str) -> go.Figure:
    """The stored histograms of the first and the last epoch, overlaid."""
    figure = go.Figure()
    for entry, color in ((entries[0], "rgba(127, 127, 127, 0.6)"), (entries[-1], TRAIN_COLOR)):
        edges = bin_edges(entry)
        figure.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=entry["counts"],
                                width=np.diff(edges), marker={"color": color},
                                name=f"epoch {entry['epoch']}", opacity=0.7))
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=300, barmode="overlay",
                         xaxis={"title": {"text": "value"}}, yaxis={"title": {"text": "count"}},
                         legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1,
                                 "xanchor": "right"},
                         margin={"l": 20, "r": 20, "t": 60, "b": 40})
    return figure
