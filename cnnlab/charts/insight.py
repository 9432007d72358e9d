"""Pure chart builders for the insight views: per-layer heatmaps and bars, the gradient
ratio, dead ReLUs, the learning rate, the generalization gap and the confusion matrix.

Data in, a Plotly figure out: no Streamlit, no store access (`cnnlab.charts.training`
holds the training curves). Styled for a projector by `cnnlab.charts.style`: large fonts,
few colours that mean something. Every per-layer figure draws its layers in the same order, the input layer at
the top and the output layer at the bottom, as `model.summary()` lists them, so a
vanishing gradient reads as a picture that fades towards the top.

Why every figure is built from one layout dict: these builders run on every poll of a live
page, and each `update_xaxes` or `add_hline` call costs Plotly a validation pass of its own
(tens of milliseconds together); one `go.Figure(data, layout)` validates once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cnnlab.analysis.alerts import DEAD_FRACTION, EXPLODING_RATIO, VANISHING_RATIO
from cnnlab.charts.style import (
    FONT_SIZE,
    MIN_FONT_SIZE,
    TEMPLATE,
    TRAIN_COLOR,
    VAL_COLOR,
)
from cnnlab.charts.training import fractional_epochs, schedule_figure
from cnnlab.text import plot_all

# Per-layer figures: the stored kind -> (title, what one value is).
LAYER_KIND_TITLES = {
    "grad_norm": ("Gradient norm per layer", "gradient L2 norm"),
    "weight_norm": ("Weight norm per layer", "weight L2 norm"),
    "update_ratio": ("Update-to-weight ratio per layer", "update / weight"),
}
# Karpathy's rule of thumb: updates about 1e-3 of the weights when the learning rate is right.
GOOD_UPDATE_RATIO = 1e-3
ALERT_COLOR = "#d62728"
GAP_FILL = "rgba(255, 127, 14, 0.25)"
BEST_COLOR = "#2ca02c"
STOP_COLOR = "#7f7f7f"
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# Past this many classes the counts no longer fit in the cells of a confusion matrix.
MAX_ANNOTATED_CLASSES = 20


def power_of_ten(exponent: int) -> str:
    """10 to the power `exponent`, as a projector can show it: "10⁻³"."""
    return "10" + str(int(exponent)).translate(SUPERSCRIPTS)


def layer_heatmap(table: pd.DataFrame, *, kind: str = "grad_norm",
                  steps_per_epoch: int | None = None) -> go.Figure:
    """A layer × recorded-step heatmap of a per-layer figure, coloured by its log10.

    Why log: a vanishing gradient is a matter of orders of magnitude (the first layer's
    gradient can be a millionth of the last's); on a linear scale every layer but the last
    would be the same dark colour. The colour bar is labelled with powers of ten. The x
    axis spans the steps recorded so far, not the planned epochs as the curves do: one
    epoch into a forty-epoch run the heatmap would otherwise be a sliver at the left.

    Args:
        table: one row per recorded step (index (epoch, step)), a column per layer, input
            to output, as `RunHistory.layer_table` gives it.
        kind: "grad_norm", "weight_norm" or "update_ratio" (default "grad_norm"); sets the
            title and the hover text.
        steps_per_epoch: batches in a full epoch, to place steps at fractional epochs.
    """
    title, quantity = _layer_kind(kind)
    layers = [str(column) for column in table.columns]
    traces = []
    if not table.empty:
        values = table.to_numpy(dtype=float).T  # layers × steps
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(values > 0, np.log10(values), np.nan)
        low, high = _decades(logs)
        ticks = list(range(low, high + 1))
        traces.append(go.Heatmap(
            z=logs, x=fractional_epochs(table.index, steps_per_epoch), y=layers, customdata=values,
            zmin=low, zmax=high, colorscale="Viridis", hoverongaps=False, name=quantity,
            colorbar={"title": {"text": quantity, "side": "right"}, "tickvals": ticks,
                      "ticktext": [power_of_ten(t) for t in ticks]},
            hovertemplate=("%{y}<br>epoch %{x:.2f}<br>" + quantity
                           + " %{customdata:.2e}<extra></extra>"),
        ))
    return _figure(traces, title=title, height=_layer_height(len(layers)),
                   xaxis={"title": "epoch"}, yaxis={"title": "layer (input at top)", **_layer_axis(layers)})


def latest_layer_bars(table: pd.DataFrame, *, kind: str = "grad_norm") -> go.Figure:
    """Horizontal bars of each layer's value at the latest recorded step, on a log axis.

    Layers run top to bottom from the input, as in `layer_heatmap`, so the bars line up with
    its rows. The axis spans whole decades, so every bar starts at a power of ten and its
    length reads as orders of magnitude (a log axis has no zero for a bar to start from).
    The update-to-weight ratio also gets a line at the 1e-3 rule of thumb.

    Args:
        table: as for `layer_heatmap`.
        kind: as for `layer_heatmap` (default "grad_norm").
    """
    _, quantity = _layer_kind(kind)
    layers = [str(column) for column in table.columns]
    traces, shapes, annotations = [], [], []
    xaxis = {"title": quantity, "type": "log", "exponentformat": "power"}
    subtitle = "no step yet"
    if not table.empty:
        epoch, step = table.index[-1]
        subtitle = f"epoch {epoch}, step {step}"
        values = table.iloc[-1].to_numpy(dtype=float)
        shown = np.where(values > 0, values, np.nan)  # a log axis cannot show 0
        traces.append(go.Bar(
            x=shown, y=layers, orientation="h", name=quantity, marker={"color": TRAIN_COLOR},
            hovertemplate="%{y}<br>" + quantity + " %{x:.2e}<extra></extra>",
        ))
        logs = np.log10(shown[np.isfinite(shown)])
        if kind == "update_ratio":
            logs = np.append(logs, math.log10(GOOD_UPDATE_RATIO))
            shapes.append(_vline(GOOD_UPDATE_RATIO, BEST_COLOR))
            annotations.append(_label("1e-3: healthy", BEST_COLOR, x=math.log10(GOOD_UPDATE_RATIO)))
        low, high = _decades(logs)
        xaxis.update(range=[low, high], dtick=1 if high - low <= 4 else 2)
    # A short title: the x axis names the quantity.
    return _figure(traces, title=f"Latest: {subtitle}", height=_layer_height(len(layers)),
                   legend=False, xaxis=xaxis, yaxis=_layer_axis(layers), shapes=shapes,
                   annotations=annotations)


def gradient_ratio_figure(ratio: pd.Series, *, steps_per_epoch: int | None = None,
                          total_epochs: int | None = None,
                          threshold: float = VANISHING_RATIO) -> go.Figure:
    """The first layer's gradient norm over the last layer's, per recorded step, log y.

    The vanishing threshold of cnnlab.analysis.alerts is drawn as a line, and the band below it is
    shaded: a curve that stays there is what the vanishing-gradients alert reports. Where
    the ratio climbs towards the exploding threshold, that line is drawn too.

    Args:
        ratio: `alerts.first_to_last_ratio` of the gradient table (index (epoch, step)).
        steps_per_epoch: as for `layer_heatmap`.
        total_epochs: the planned number of epochs, to fix the x axis while a run grows.
        threshold: the vanishing threshold (default `alerts.VANISHING_RATIO`).
    """
    values = ratio.to_numpy(dtype=float)
    ratio = ratio[np.isfinite(values) & (values > 0)]
    traces, shapes, annotations = [], [], []
    upper_x = total_epochs or 1
    low, high = math.log10(threshold) - 1, math.log10(threshold) + 1
    if len(ratio):
        x = fractional_epochs(ratio.index, steps_per_epoch)
        traces.append(go.Scatter(
            x=x, y=ratio.to_numpy(dtype=float), mode="lines+markers" if len(ratio) <= 60 else "lines",
            name="first / last layer", line={"color": TRAIN_COLOR, "width": 3}, marker={"size": 6},
            hovertemplate="epoch %{x:.2f}<br>first / last %{y:.2e}<extra></extra>",
        ))
        logs = np.log10(ratio.to_numpy(dtype=float))
        low, high = min(low, float(logs.min())), max(high, float(logs.max()))
        upper_x = total_epochs or math.ceil(float(x.max()))
    if 10 ** high > EXPLODING_RATIO / 10:
        high = max(high, math.log10(EXPLODING_RATIO) + 0.5)
        shapes.append(_hline(EXPLODING_RATIO, ALERT_COLOR))
        annotations.append(_label(f"exploding above {EXPLODING_RATIO:g}", ALERT_COLOR,
                                  y=math.log10(EXPLODING_RATIO), above=True))
    low, high = low - 0.3, high + 0.3
    shapes.append({"type": "rect", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y",
                   "y0": 10 ** low, "y1": threshold, "fillcolor": ALERT_COLOR, "opacity": 0.08,
                   "line": {"width": 0}, "layer": "below"})
    shapes.append(_hline(threshold, ALERT_COLOR))
    annotations.append(_label(f"vanishing below {threshold:g}", ALERT_COLOR, y=math.log10(threshold)))
    return _figure(
        traces, title="Gradient ratio: first layer / last layer", height=380, legend=False,
        xaxis={"title": "epoch", "range": [0, max(upper_x, 1)]},
        yaxis={"title": "first / last layer", "type": "log", "exponentformat": "power",
               "range": [low, high], "dtick": 1 if high - low >= 2 else "D2"},
        shapes=shapes, annotations=annotations)


def dead_relu_figure(dead: pd.DataFrame, *, threshold: float = DEAD_FRACTION) -> go.Figure:
    """The fraction of each ReLU layer's units that never fired, at the latest epoch.

    Bars over the alert's threshold are red. Layers run from the input at the top.

    Args:
        dead: `RunHistory.layer_table("dead_fraction")` (index (epoch, step), a column per
            ReLU layer).
        threshold: the dead-ReLU alert's threshold (default `alerts.DEAD_FRACTION`).
    """
    layers = [str(column) for column in dead.columns]
    traces = []
    title = "Dead ReLUs"
    if not dead.empty:
        latest = dead.ffill().iloc[-1].to_numpy(dtype=float)
        title = f"Dead ReLUs after epoch {dead.index[-1][0]}"
        traces.append(go.Bar(
            x=latest, y=layers, orientation="h", name="dead units",
            marker={"color": [ALERT_COLOR if value > threshold else TRAIN_COLOR for value in latest]},
            hovertemplate="%{y}<br>%{x:.0%} of units never fire<extra></extra>",
        ))
    return _figure(traces, title=title, height=_layer_height(len(layers), minimum=260), legend=False,
                   xaxis={"title": "units that never fire", "range": [0, 1.02], "tickformat": ".0%"},
                   yaxis=_layer_axis(layers), shapes=[_vline(threshold, ALERT_COLOR)],
                   annotations=[_label(f"alert above {threshold:.0%}", ALERT_COLOR, x=threshold)])


def learning_rate_figure(batches: pd.DataFrame, *, steps_per_epoch: int | None = None) -> go.Figure:
    """The learning rate each batch used, at fractional epochs like the training curves.

    A logarithmic axis is chosen when the rate spans more than a factor of ten, where a
    linear one would flatten a decayed rate onto zero.

    Args:
        batches: `RunHistory.batches` (index (epoch, step)) with a `learning_rate` column.
        steps_per_epoch: batches in a full epoch.
    """
    if batches.empty or "learning_rate" not in batches:
        return schedule_figure(np.zeros(0), np.zeros(0), title="Learning rate per batch", height=320)
    rates = batches["learning_rate"].to_numpy(dtype=float)
    x = fractional_epochs(batches.index, steps_per_epoch)
    positive = rates[np.isfinite(rates) & (rates > 0)]
    log_y = len(positive) > 0 and positive.max() > 10 * positive.min()
    return schedule_figure(x, rates, title="Learning rate per batch", log_y=bool(log_y), height=320)


def generalization_gap(epochs: pd.DataFrame, *, metric: str = "loss", best_epoch: int | None = None,
                       early_stopping_epoch: int | None = None,
                       total_epochs: int | None = None) -> go.Figure:
    """Train and validation `metric` by epoch, the gap between them shaded.

    Why a band: overfitting is the gap itself, the lectures' "train 99%, validation 72%";
    a band makes its growth visible at a glance. The best epoch (the lowest validation
    loss, or early stopping's own best) is starred, and where early stopping ended the run
    a line is drawn. The title gives the last epoch's gap (see `gap_text`).

    Args:
        epochs: `RunHistory.epochs` (index epoch from 1), with `metric` and `val_<metric>`.
        metric: "loss" or "accuracy" (default "loss").
        best_epoch: the best epoch as early stopping judged it (final metric `best_epoch`);
            default: the epoch of the lowest validation loss.
        early_stopping_epoch: the epoch at which early stopping ended the run, if it did.
        total_epochs: the planned number of epochs, to fix the x axis while a run grows.
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"Unknown `metric`. Expected 'loss' or 'accuracy'. Received: {metric!r}.")
    traces, shapes, annotations = [], [], []
    title = "Generalization gap"
    validation = f"val_{metric}"
    present = {metric, validation} <= set(epochs.columns)
    frame = epochs[[metric, validation]].dropna() if present else pd.DataFrame()
    if not frame.empty:
        x = frame.index.to_numpy()
        train, val = frame[metric].to_numpy(dtype=float), frame[validation].to_numpy(dtype=float)
        traces.append(go.Scatter(x=x, y=train, name=f"train {metric}", mode="lines+markers",
                                 line={"color": TRAIN_COLOR, "width": 3}, marker={"size": 8},
                                 cliponaxis=False))
        # Filled to the trace before it: the band is the gap, whichever curve is on top.
        traces.append(go.Scatter(x=x, y=val, name=f"validation {metric}", mode="lines+markers",
                                 line={"color": VAL_COLOR, "width": 3}, marker={"size": 8},
                                 cliponaxis=False,
                                 fill="tonexty", fillcolor=GAP_FILL))
        title = f"Generalization gap: {gap_text(metric, train[-1], val[-1])}"
        if best_epoch is None and "val_loss" in epochs and epochs["val_loss"].notna().any():
            best_epoch = int(epochs["val_loss"].idxmin())
        if best_epoch is not None and best_epoch in frame.index:
            traces.append(go.Scatter(
                x=[best_epoch], y=[frame.loc[best_epoch, validation]], mode="markers",
                name=f"best epoch ({best_epoch})",
                marker={"symbol": "star", "size": 20, "color": BEST_COLOR,
                        "line": {"color": "white", "width": 1}},
            ))
            shapes.append(_vline(best_epoch, BEST_COLOR, dash="dot"))
    if early_stopping_epoch is not None:
        shapes.append(_vline(early_stopping_epoch, STOP_COLOR))
        annotations.append(_label("early stop", STOP_COLOR, x=early_stopping_epoch, left=True))
    upper = total_epochs or (int(epochs.index.max()) if not epochs.empty else 1)
    # From epoch 0 where the run has it (the untrained model's point, cnnlab.training.job).
    lower = -0.5 if not epochs.empty and epochs.index.min() <= 0 else 0.5
    xaxis = {"title": "epoch", "range": [lower, max(upper, 1) + 0.5], "dtick": _epoch_tick(upper)}
    yaxis = ({"title": metric, "range": [0, 1.02], "tickformat": ".0%"} if metric == "accuracy"
             else {"title": metric, "rangemode": "tozero"})
    return _figure(traces, title=title, height=380, xaxis=xaxis, yaxis=yaxis, shapes=shapes,
                   annotations=annotations)


def gap_text(metric: str, train: float, validation: float) -> str:
    """How much worse validation is than training, signed so that overfitting is positive:
    validation minus train for a loss, train minus validation for an accuracy (in
    percentage points, the lectures' "train 99%, validation 72%": +27.0 points)."""
    if metric == "accuracy":
        return f"{(train - validation) * 100:+.1f} points"
    return f"{validation - train:+.3f}"


def confusion_figure(matrix: np.ndarray, class_names, *, title: str = "Confusion matrix",
                     selected: tuple[int, int] | None = None) -> go.Figure:
    """The confusion matrix: a row per true class, a column per predicted class.

    Each cell is annotated with its count (empty cells are left blank); its colour is the
    count's share of the row (of the images of that true class), so a class confused one
    time in five stands out as much in a small class as in a large one. Rows run top to
    bottom from class 0.

    Why a second, invisible trace: Plotly reports clicks and selections on points, and a
    heatmap's cells are not points, so a click on one selects nothing (Streamlit's
    `on_select` stays silent). An invisible marker at each cell's centre, found by the
    nearest-point hover (`hoverdistance=-1`: no cutoff), turns a click anywhere in a cell
    into a selected point whose x and y are the cell's class names.

    Args:
        matrix: counts[true, predicted] (`insight.confusion`).
        class_names: one name per class.
        title: the figure's title.
        selected: an optional (true, predicted) cell to outline.
    """
    matrix = np.asarray(matrix)
    # Escaped for Plotly's label HTML: class names come from uploads (cnnlab.text.plot).
    names = plot_all(class_names)
    if matrix.shape != (len(names), len(names)):
        raise ValueError(
            "`matrix` must be square with a row and a column per class. Expected shape "
            f"{(len(names), len(names))} for {len(names)} class names. Received: {matrix.shape}.")
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    annotate = len(names) <= MAX_ANNOTATED_CLASSES
    # Empty cells stay blank: the eye goes to the counts that are there.
    counts = np.where(matrix > 0, matrix.astype(str), "")
    rows, columns = np.indices(matrix.shape)
    invisible = {"opacity": 0}
    traces = [
        go.Heatmap(
            z=share, x=names, y=names, zmin=0, zmax=1, colorscale="Blues",
            text=counts if annotate else None, texttemplate="%{text}" if annotate else None,
            textfont={"size": FONT_SIZE if len(names) <= 10 else MIN_FONT_SIZE},
            xgap=1, ygap=1, name="confusion", hoverinfo="skip",
            colorbar={"title": {"text": "share of the true class", "side": "right"},
                      "tickformat": ".0%", "thickness": 14},
        ),
        go.Scatter(
            x=[names[c] for c in columns.ravel()], y=[names[r] for r in rows.ravel()],
            mode="markers", name="cells", customdata=np.stack([matrix.ravel(), share.ravel()], axis=1),
            marker={"size": 1, "color": "rgba(0, 0, 0, 0)"},
            selected={"marker": invisible}, unselected={"marker": invisible},
            hovertemplate=("true %{y}<br>predicted %{x}<br>%{customdata[0]} images "
                           "(%{customdata[1]:.0%} of the class)<extra></extra>"),
        ),
    ]
    shapes = []
    if selected is not None:
        row, column = selected
        shapes.append({"type": "rect", "xref": "x", "yref": "y", "x0": column - 0.5,
                       "x1": column + 0.5, "y0": row - 0.5, "y1": row + 0.5,
                       "line": {"color": "#ff7f0e", "width": 4}})
    category = {"type": "category", "categoryorder": "array", "categoryarray": names}
    return _figure(
        traces, title=title, height=max(420, min(900, 120 + 36 * len(names))), legend=False,
        xaxis={"title": "predicted class", **category, "tickangle": 0 if len(names) <= 10 else -45},
        yaxis={"title": "true class", **category, "autorange": "reversed"}, shapes=shapes,
        margin={"l": 90, "r": 20, "t": 60, "b": 70}, hovermode="closest", hoverdistance=-1)


def _layer_kind(kind: str) -> tuple[str, str]:
    if kind not in LAYER_KIND_TITLES:
        raise ValueError(f"Unknown per-layer `kind`. Expected one of {list(LAYER_KIND_TITLES)}. "
                         f"Received: {kind!r}.")
    return LAYER_KIND_TITLES[kind]


def _layer_axis(layers: list[str]) -> dict:
    """A category axis of layers in table order, the first (the input) at the top."""
    return {"type": "category", "categoryorder": "array", "categoryarray": layers,
            "autorange": "reversed"}


def _hline(y: float, color: str) -> dict:
    """A dashed line across the plot at `y` (in data units, also on a log axis)."""
    return {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
            "line": {"dash": "dash", "color": color, "width": 2}}


def _vline(x: float, color: str, dash: str = "dash") -> dict:
    """A line from the bottom of the plot to its top at `x` (in data units)."""
    return {"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "y domain", "y0": 0, "y1": 1,
            "line": {"dash": dash, "color": color, "width": 2}}


def _label(text: str, color: str, *, x: float | None = None, y: float | None = None,
           above: bool = False, left: bool = False) -> dict:
    """The name of a threshold line: a horizontal one at `y`, or a vertical one at `x`.

    Positions are in axis units, which on a log axis are log10 units (a label for a line
    at 0.05 goes at log10(0.05)); Plotly's own `add_hline(annotation_text=...)` places it
    at 10^0.05 ≈ 1.1 instead.
    """
    if y is not None:
        return {"x": 0, "xref": "x domain", "y": y, "yref": "y", "text": text, "showarrow": False,
                "xanchor": "left", "yanchor": "bottom" if above else "top", "font": {"color": color}}
    return {"x": x, "xref": "x", "y": 1, "yref": "y domain", "text": text, "showarrow": False,
            "xanchor": "right" if left else "left", "yanchor": "top", "xshift": -4 if left else 4,
            "font": {"color": color}}


def _decades(logs: np.ndarray) -> tuple[int, int]:
    """Whole powers of ten around the finite values of `logs`, at least one apart."""
    finite = logs[np.isfinite(logs)]
    if finite.size == 0:
        return -1, 0
    low, high = math.floor(float(finite.min())), math.ceil(float(finite.max()))
    return low, max(high, low + 1)


def _layer_height(layers: int, minimum: int = 320) -> int:
    """Tall enough for a readable row per layer, short enough to stay on a screen."""
    return max(minimum, min(1000, 140 + 26 * layers))


def _epoch_tick(epochs: int) -> int | None:
    """Whole-epoch ticks for short runs (no "epoch 1.5"); Plotly's own beyond 20."""
    return 1 if epochs <= 20 else None


def _figure(traces: list, *, title: str, height: int, xaxis: dict, yaxis: dict,
            legend: bool = True, shapes: list | None = None, annotations: list | None = None,
            **layout) -> go.Figure:
    """The figure of `traces` in the lab's projector style (`TEMPLATE`), its layout validated once."""
    def axis(spec: dict) -> dict:
        spec = dict(spec)
        return {**spec, "title": {"text": spec.pop("title", None)}}

    return go.Figure(data=traces, layout={
        "title": {"text": title}, "height": height,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "template": TEMPLATE, "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"},
        "xaxis": axis(xaxis), "yaxis": axis(yaxis), "shapes": shapes or [],
        "annotations": annotations or [], **layout,
    })
