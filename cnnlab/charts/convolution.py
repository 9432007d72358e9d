"""Figures of the convolution explorer: an image, a kernel with its weights, a feature map."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnlab.charts.style import MIN_FONT_SIZE, TEMPLATE

# Red for negative, blue for positive, white for 0: a feature map's sign is its meaning
# (Sobel x: dark-to-bright edges positive, bright-to-dark negative).
SIGNED_SCALE = "RdBu"


def _square(figure: go.Figure, title: str, height: int) -> go.Figure:
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=height,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return figure


def image_figure(image: np.ndarray, title: str, *, signed: bool = False, height: int = 340) -> go.Figure:
    """A grey image (values in [0, 1]) or a signed feature map (diverging colours, 0 white)."""
    image = np.asarray(image, np.float32)
    if signed:
        limit = float(np.abs(image).max()) if image.size else 1.0
        trace = go.Heatmap(z=image, colorscale=SIGNED_SCALE, zmid=0, zmin=-limit or -1, zmax=limit or 1,
                           colorbar={"thickness": 14, "tickfont": {"size": MIN_FONT_SIZE}},
                           hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>")
    else:
        trace = go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                           hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>")
    return _square(go.Figure(trace), title, height)


def kernel_figure(kernel: np.ndarray, title: str = "Kernel", *, height: int = 340) -> go.Figure:
    """The kernel's weights as coloured cells with their numbers written in."""
    kernel = np.asarray(kernel, np.float32)
    limit = float(np.abs(kernel).max()) or 1.0
    trace = go.Heatmap(z=kernel, colorscale=SIGNED_SCALE, zmid=0, zmin=-limit, zmax=limit, showscale=False,
                       text=[[f"{value:.3g}" for value in row] for row in kernel], texttemplate="%{text}",
                       textfont={"size": 20 if kernel.shape[0] <= 3 else 16},
                       xgap=2, ygap=2, hovertemplate="weight %{z:.4g}<extra></extra>")
    return _square(go.Figure(trace), title, height)
