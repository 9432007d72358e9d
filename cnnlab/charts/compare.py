"""Pure chart builders for the Compare page: many runs in one figure, told apart by colour.

Data in (the tables `cnnlab.analysis.compare` reads), a Plotly figure or a pandas Styler
out: no Streamlit, no store access. Styled for a projector by `cnnlab.charts.style`: large
fonts, thick lines. One colour per run, the same in every figure, the baseline always near-black;
line style says train (dashed) or validation (solid), as the lectures draw them. Runs are
named by what makes them different from the baseline ("dropout_rate=0.5"), because that
is the question a comparison asks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlab.analysis.compare import config_diff, format_value
from cnnlab.charts.style import MIN_FONT_SIZE, TEMPLATE, TITLE_FONT_SIZE
from cnnlab.config import flatten
from cnnlab.text import plot, plot_all

BASELINE_COLOR = "#222222"
# Ten well-separated colours first (D3's), then more for large selections.
PALETTE = tuple(plotly.colors.qualitative.D3) + tuple(plotly.colors.qualitative.Dark24)
BASELINE_LABEL = "baseline"
HIGHLIGHT = "background-color: #fff3b0; font-weight: bold"
BASELINE_ROW = "background-color: #eeeeee"
# (title, train metric, validation metric) of the curves figure's three panels; the
# learning rate is one line, drawn solid.
CURVE_PANELS = (
    ("Loss", "loss", "val_loss"),
    ("Accuracy", "accuracy", "val_accuracy"),
    ("Learning rate", None, "learning_rate"),
)
METRIC_TITLES = {
    "val_accuracy": "validation accuracy", "val_loss": "validation loss",
    "accuracy": "train accuracy", "loss": "train loss", "learning_rate": "learning rate",
}
MAX_LABEL = 44
MAX_CATEGORIES = 12  # a text field with more values than this is no useful axis
# Parallel coordinates: red is worse, blue better (reversed for a loss); no pale colour,
# since Parcoords draws thin lines that a pale one would lose on white.
SCORE_COLORS = [[0.0, "#d62728"], [0.5, "#9467bd"], [1.0, "#1f3b99"]]
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def run_colors(run_ids: Sequence[str], baseline: str | None = None) -> dict[str, str]:
    """A colour per run: the baseline near-black, the others the palette in order.

    Why in order: the page keeps runs in creation order, so adding runs to a comparison
    leaves the colours of those already shown as they were.
    """
    colors, others = {}, iter(range(len(run_ids)))
    for run_id in run_ids:
        colors[run_id] = BASELINE_COLOR if run_id == baseline else PALETTE[next(others) % len(PALETTE)]
    return colors


def run_labels(configs: Mapping[str, Mapping], baseline: str | None = None,
               max_length: int = MAX_LABEL) -> dict[str, str]:
    """A short label per run saying how it differs: "dropout_rate=0.5, l2=0.0001".

    Relative to `baseline` when it is one of the runs (which is labelled "baseline"),
    else the values of the fields that differ among all the runs. Labels are unique:
    runs that would share one get the end of their run id added.

    Args:
        configs: {run id: config dict}, in the order to label them.
        baseline: the run the others are measured against (default: none).
        max_length: longer labels are cut with "…" (default 44).
    """
    flats = {run: flatten(config) for run, config in configs.items()}
    if baseline in configs:
        labels = {}
        for run, config in configs.items():
            if run == baseline:
                labels[run] = BASELINE_LABEL
                continue
            fields = config_diff({baseline: configs[baseline], run: config}).index
            labels[run] = _describe(fields, flats[run], max_length) or "same config"
    else:
        fields = config_diff(configs).index if len(configs) > 1 else []
        labels = {run: _describe(fields, flat, max_length) or run for run, flat in flats.items()}
    counts = pd.Series(list(labels.values())).value_counts()
    return {run: f"{label} ({run[-4:]})" if counts[label] > 1 else label
            for run, label in labels.items()}


def curves_figure(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str],
                  colors: Mapping[str, str], *, total_epochs: int | None = None) -> go.Figure:
    """Loss, accuracy and learning rate of several runs, epoch by epoch, in three panels.

    Train is dashed, validation solid; each run keeps its colour in all three panels and
    has one legend entry (clicking it hides the run everywhere).

    Args:
        curves: {run id: per-epoch table} as `compare.epoch_curves` gives them.
        labels, colors: {run id: text} and {run id: colour}, e.g. from `run_labels` and
            `run_colors`.
        total_epochs: the x axis's end, e.g. the most epochs any run plans, so the axis
            stays put while runs grow (default: the data's own range).
    """
    # Room between the panels for each one's axis title and ticks at 1024 px wide.
    figure = make_subplots(rows=1, cols=3, subplot_titles=[panel[0] for panel in CURVE_PANELS],
                           horizontal_spacing=0.11)
    longest = max((len(curve) for curve in curves.values()), default=0)
    mode = "lines+markers" if longest <= 30 else "lines"
    traces = []
    for run, curve in curves.items():
        label, color, shown = plot(labels.get(run, run)), colors.get(run, BASELINE_COLOR), False
        x = curve.index.to_numpy()
        for col, (_, train, validation) in enumerate(CURVE_PANELS, start=1):
            for metric, dash in ((train, "dash"), (validation, "solid")):
                if metric is None or metric not in curve or not curve[metric].notna().any():
                    continue
                what = METRIC_TITLES[metric]
                traces.append((col, {
                    "x": x, "y": curve[metric].to_numpy(dtype=float), "name": label,
                    "legendgroup": run, "showlegend": not shown, "mode": mode,
                    "line": {"color": color, "width": 3, "dash": dash}, "marker": {"size": 7},
                    "cliponaxis": False,  # whole markers at epoch 0 and the last epoch
                    "hovertemplate": f"{label}<br>epoch %{{x}}<br>{what} %{{y:.4g}}<extra></extra>",
                }))
                shown = True
    # A key to the line styles, drawn as legend entries without data.
    for name, dash in (("train", "dash"), ("validation", "solid")):
        traces.append((1, {"x": [None], "y": [None], "name": name, "mode": "lines",
                           "line": {"color": "#888888", "width": 3, "dash": dash},
                           "legendgroup": f"style {name}", "hoverinfo": "skip"}))
    _add_scatters(figure, traces)
    upper = total_epochs or max((int(curve.index.max()) for curve in curves.values() if len(curve)),
                                default=1)
    # From epoch 0 where a run has it (the untrained model's point, cnnlab.training.job).
    starts = [curve.index.min() for curve in curves.values() if len(curve)]
    lower = -0.2 if starts and min(starts) <= 0 else 0.8
    figure.update_xaxes(title_text="epoch", range=[lower, max(upper, 1) + 0.2], dtick=_epoch_dtick(upper))
    # Loss autoranged (runs' differences are what matters), accuracy always 0-100%.
    figure.update_yaxes(title_text="loss", row=1, col=1)
    figure.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    # At least a decade of room: float32 and float64 copies of one rate (1e-3 and
    # 1.00000005e-3) would otherwise be drawn far apart.
    rates = [curve["learning_rate"].to_numpy(dtype=float) for curve in curves.values() if "learning_rate" in curve]
    rates = np.concatenate(rates) if rates else np.zeros(0)
    rates = rates[np.isfinite(rates) & (rates > 0)]
    rate_range = [math.log10(rates.min()) - 0.5, math.log10(rates.max()) + 0.5] if len(rates) else None
    figure.update_yaxes(title_text="learning rate", type="log", exponentformat="power", dtick=1,
                        range=rate_range, row=1, col=3)
    _style(figure, height=470, legend_rows=len(curves) + 2)
    figure.update_annotations(font_size=TITLE_FONT_SIZE)
    return figure


def delta_figure(delta: pd.DataFrame, metric: str, labels: Mapping[str, str],
                 colors: Mapping[str, str]) -> go.Figure:
    """Each run's `metric` minus the baseline's, epoch by epoch: above zero is better for
    accuracy, below zero for loss; the baseline itself is the zero line.

    Args:
        delta: index epoch, a column per run (not the baseline), as `compare.delta` gives.
        metric: the stored metric, e.g. "val_accuracy".
        labels, colors: {run id: text} and {run id: colour}.
    """
    accuracy = "accuracy" in metric
    figure = go.Figure()
    figure.add_hline(y=0, line={"color": BASELINE_COLOR, "width": 3},
                     annotation_text=BASELINE_LABEL, annotation_position="top left")
    x, mode = delta.index.to_numpy(), "lines+markers" if len(delta) <= 30 else "lines"
    figure.add_traces([{
        "type": "scatter", "x": x, "y": delta[run].to_numpy(dtype=float), "name": plot(labels.get(run, run)),
        "mode": mode, "line": {"color": colors.get(run, BASELINE_COLOR), "width": 3}, "marker": {"size": 7},
        "hovertemplate": (f"{plot(labels.get(run, run))}<br>epoch %{{x}}<br>difference "
                          f"%{{y:{'+.1%' if accuracy else '+.4f'}}}<extra></extra>"),
    } for run in delta.columns])
    better = "higher is better" if accuracy else "lower is better"
    figure.update_xaxes(title_text="epoch", dtick=_epoch_dtick(int(delta.index.max()) if len(delta) else 1))
    figure.update_yaxes(title_text=f"Δ {METRIC_TITLES.get(metric, metric)}",
                        tickformat="+.0%" if accuracy else "+.3f", zeroline=False)
    _style(figure, height=430, legend_rows=len(delta.columns),
           title=f"{METRIC_TITLES.get(metric, metric).capitalize()}: run − baseline ({better})")
    return figure


def gradient_profiles_figure(profiles: Mapping[str, pd.Series], labels: Mapping[str, str],
                             colors: Mapping[str, str]) -> go.Figure:
    """The per-layer gradient norms of several runs side by side, input to output, log y.

    Why lines over the layers: a vanishing gradient is a line that climbs steeply from
    the first layers to the last; a cure (batch norm, ReLU, He initialization) flattens it.

    Args:
        profiles: {run id: Series of gradient norms indexed by layer}, as
            `compare.gradient_profile` gives them (runs without any are skipped).
        labels, colors: {run id: text} and {run id: colour}.
    """
    # Layers in network order: the longest profile's order, others' extra layers after.
    ordered = sorted(profiles.values(), key=len, reverse=True)
    layers = list(dict.fromkeys(layer for profile in ordered for layer in profile.index))
    figure = go.Figure([{
        # A zero norm has no place on a log axis.
        "type": "scatter", "x": list(profile.index), "y": profile.where(profile > 0).to_numpy(dtype=float),
        "name": plot(labels.get(run, run)), "mode": "lines+markers",
        "line": {"color": colors.get(run, BASELINE_COLOR), "width": 3}, "marker": {"size": 9},
        "hovertemplate": f"{plot(labels.get(run, run))}<br>%{{x}}<br>gradient norm %{{y:.2e}}<extra></extra>",
    } for run, profile in profiles.items() if not profile.empty])
    figure.update_xaxes(title_text="layer (input → output)", categoryorder="array",
                        categoryarray=layers, tickangle=-35)
    figure.update_yaxes(title_text="gradient L2 norm", type="log", exponentformat="power", dtick=1)
    _style(figure, height=500, legend_rows=len(profiles),
           title="Gradient norm per layer at the last recorded step")
    # The layer names are slanted: the legend goes lower, clear of them and the axis title.
    figure.update_layout(legend_y=-0.42, margin_b=150)
    return figure


def diff_styler(diff: pd.DataFrame, labels: Mapping[str, str],
                statuses: Mapping[str, str] | None = None, baseline: str | None = None,
                colors: Mapping[str, str] | None = None):
    """The config diff as a table to show: a row per run (the baseline first), a column
    per differing field, the cells that differ from the baseline's highlighted.

    Args:
        diff: `compare.config_diff` of the runs (a row per field, a column per run id).
        labels: {run id: label}: the first column, "run", as in the figures' legends.
        statuses: {run id: status}, shown as a second column when given.
        baseline: the run whose values the others are compared with (default: none, then
            nothing is highlighted).
        colors: {run id: colour}: each run's label is written in its figures' colour.
    Returns:
        a pandas Styler (hide the index when showing it) whose cells are text: mixed types
        read badly in one column.
    """
    runs = sorted(diff.columns, key=lambda run: run != baseline)  # stable: the baseline first
    table = pd.DataFrame({field: [format_value(diff.loc[field, run]) for run in runs] for field in diff.index})
    if statuses is not None:
        table.insert(0, "status", [statuses.get(run, "") for run in runs])
    table.insert(0, "run", [labels.get(run, run) for run in runs])
    fields = [column for column in table.columns if column not in ("run", "status")]
    reference = table.iloc[0] if baseline in runs else None

    def highlight(row: pd.Series) -> list[str]:
        run = runs[row.name]
        styles = []
        for column, value in row.items():
            style = ""
            if column == "run" and colors and run in colors:
                style = f"color: {colors[run]}; font-weight: bold"
            elif reference is not None and run == baseline:
                style = BASELINE_ROW
            elif reference is not None and column in fields and value != reference[column]:
                style = HIGHLIGHT
            styles.append(style)
        return styles

    return table.style.apply(highlight, axis=1)


def hyperparameter_table(configs: Mapping[str, Mapping], scores: Mapping[str, float]) -> pd.DataFrame:
    """The differing hyperparameters that make an axis, a row per run, and the score last.

    Numbers stay numbers, booleans become 0/1 (dtype bool), and text fields with few
    values stay text (categories). Fields that are lists, or None in some runs, are left
    out: they make no axis.

    Args:
        configs: {run id: config dict}.
        scores: {run id: the metric to colour by}; its name is the last column, "score".
    """
    diff = config_diff(configs) if len(configs) > 1 else pd.DataFrame()
    columns = {}
    for field in diff.index:
        values = [flatten(configs[run]).get(field) for run in configs]
        if all(isinstance(value, bool) for value in values):
            columns[field] = pd.Series(values, dtype=bool)
        elif all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
            columns[field] = pd.Series(values, dtype=float)
        elif all(isinstance(value, str) for value in values) and len(set(values)) <= MAX_CATEGORIES:
            columns[field] = pd.Series(values, dtype=object)
    table = pd.DataFrame(columns)
    table.index = pd.Index(list(configs), name="run")
    table["score"] = [scores.get(run, np.nan) for run in configs]
    return table


def parallel_coordinates(table: pd.DataFrame, metric: str) -> go.Figure:
    """Hyperparameters against a result, a line per run (go.Parcoords), coloured by it.

    Learning rates and regularization strengths that span decades are drawn on a log10
    axis labelled with their own values; booleans read "off"/"on".

    Args:
        table: `hyperparameter_table` (the last column, "score", colours the lines).
        metric: the score's name for its axis and colour bar, e.g. "best val accuracy".
    """
    dimensions = []
    for field in table.columns.drop("score"):
        dimensions.append(_dimension(field, table[field]))
    score = table["score"].astype(float)
    accuracy = "accuracy" in metric
    dimensions.append({"label": metric, "values": score,
                       "tickformat": ".0%" if accuracy else ".3f"})
    figure = go.Figure(go.Parcoords(
        line={"color": score, "colorscale": SCORE_COLORS, "reversescale": not accuracy,
              "showscale": True, "colorbar": {"title": {"text": metric}, "tickformat": ".0%" if accuracy else ".3f"}},
        dimensions=dimensions,
        labelfont={"size": TITLE_FONT_SIZE - 1}, tickfont={"size": MIN_FONT_SIZE},
        # The range labels repeat the end ticks and collide with the axis titles.
        rangefont={"size": 1, "color": "rgba(0, 0, 0, 0)"}, labelangle=-20,
    ))
    figure.update_layout(height=480, margin={"l": 90, "r": 60, "t": 120, "b": 40}, template=TEMPLATE)
    return figure


def seed_bands_figure(bands: Mapping[str, Mapping[str, pd.DataFrame]],
                      colors: Mapping[str, str]) -> go.Figure:
    """Runs repeated over seeds: the mean ± one standard deviation of validation loss and
    accuracy, one band per group; a gap between two bands that is wider than the bands is
    an effect, one inside them may be noise.

    Args:
        bands: {group label: {metric: `compare.seed_band` table}} for "val_loss" and
            "val_accuracy".
        colors: {group label: colour}.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"),
                           horizontal_spacing=0.08)
    traces = []
    for group, by_metric in bands.items():
        label = plot(group)
        color = colors.get(group, BASELINE_COLOR)
        for col, metric in ((1, "val_loss"), (2, "val_accuracy")):
            band = by_metric.get(metric)
            if band is None or band.empty:
                continue
            mean, std = band["mean"].to_numpy(dtype=float), band["std"].fillna(0.0).to_numpy(dtype=float)
            x = band.index.to_numpy()
            runs = int(band["count"].max())
            traces.append((col, {
                "x": np.concatenate([x, x[::-1]]), "y": np.concatenate([mean + std, (mean - std)[::-1]]),
                "fill": "toself", "mode": "lines", "fillcolor": _rgba(color, 0.2), "line": {"width": 0},
                "legendgroup": label, "showlegend": False, "hoverinfo": "skip"}))
            traces.append((col, {
                "x": x, "y": mean, "name": f"{label} ({runs} seeds)", "legendgroup": label,
                "showlegend": col == 1, "mode": "lines+markers",
                "line": {"color": color, "width": 3}, "marker": {"size": 7}, "customdata": std,
                "hovertemplate": (f"{label}<br>epoch %{{x}}<br>mean %{{y:.4g}} ± %{{customdata:.2g}}"
                                  "<extra></extra>")}))
    _add_scatters(figure, traces)
    longest = max((int(band.index.max()) for by_metric in bands.values() for band in by_metric.values()
                   if len(band)), default=1)
    figure.update_xaxes(title_text="epoch", dtick=_epoch_dtick(longest))
    figure.update_yaxes(title_text="loss", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text="accuracy", tickformat=".0%", row=1, col=2)
    _style(figure, height=450, legend_rows=len(bands))
    figure.update_annotations(font_size=TITLE_FONT_SIZE)
    return figure


# -- helpers ----------------------------------------------------------------------------


def _epoch_dtick(epochs: int) -> int:
    """Whole epochs between ticks, about ten ticks at most: no "epoch 2.5"."""
    return max(1, math.ceil(epochs / 10))


def _describe(fields, flat: Mapping, max_length: int) -> str:
    """"leaf=value, ..." of `fields`; several augmentation fields read "augmentation on/off"."""
    fields = list(fields)
    augmentation = [field for field in fields if field.startswith("augmentation.")]
    parts = [f"{field.split('.')[-1]}={format_value(flat.get(field))}" for field in fields
             if len(augmentation) < 2 or field not in augmentation]
    if len(augmentation) >= 2:
        on = any(flat.get(field) not in (None, False, 0, 0.0, "") for field in augmentation)
        parts.insert(fields.index(augmentation[0]), f"augmentation {'on' if on else 'off'}")
    text = ", ".join(parts)
    return text if len(text) <= max_length else text[:max_length - 1].rstrip(", ") + "…"


def _dimension(field: str, values: pd.Series) -> dict:
    label = field.split(".")[-1]
    if values.dtype == bool:
        return {"label": label, "values": values.astype(int), "range": [-0.1, 1.1],
                "tickvals": [0, 1], "ticktext": ["off", "on"]}
    if values.dtype == object:
        categories = sorted(set(values))
        codes = [categories.index(value) for value in values]
        return {"label": label, "values": codes, "tickvals": list(range(len(categories))),
                "ticktext": plot_all(categories), "range": [-0.2, len(categories) - 0.8]}
    positive = values[values > 0]
    if len(positive) and positive.max() / positive.min() >= 100:
        # Decades apart: a log10 axis, zero (a trick switched off) one decade below the rest.
        floor = math.floor(math.log10(positive.min())) - 1
        logs = np.log10(values.where(values > 0, 10.0 ** floor))
        ticks = list(range(floor, math.ceil(logs.max()) + 1))
        text = ["0" if tick == floor and (values <= 0).any() else "10" + str(tick).translate(SUPERSCRIPTS) for tick in ticks]
        return {"label": f"{label} (log)", "values": logs, "tickvals": ticks, "ticktext": text}
    dimension = {"label": label, "values": values, "tickformat": "~g"}  # 0.0001, not "100µ"
    if values.nunique() <= MAX_CATEGORIES:
        dimension["tickvals"] = sorted(values.unique())  # the values used: no "seed 1.5"
    return dimension


def _add_scatters(figure: go.Figure, traces: list[tuple[int, dict]]) -> None:
    """Add (column, scatter properties) pairs to a one-row grid of subplots in one call.

    Why one call, with dicts of NumPy arrays: Plotly validates every trace it is given, a
    go.Scatter twice, and pandas objects at length; one trace at a time, from pandas, costs
    ten times as long, and the Compare page draws a hundred traces a second.
    """
    if traces:
        figure.add_traces([{"type": "scatter", **properties} for _, properties in traces],
                          rows=[1] * len(traces), cols=[col for col, _ in traces])


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = plotly.colors.hex_to_rgb(color) if color.startswith("#") else \
        plotly.colors.unlabel_rgb(color)
    return f"rgba({int(red)}, {int(green)}, {int(blue)}, {alpha})"


def _style(figure: go.Figure, *, height: int, legend_rows: int, title: str | None = None) -> None:
    """The lab's projector template, a legend below the plot; taller when the legend has
    many entries."""
    extra = max(0, legend_rows - 4) * 12
    figure.update_layout(
        height=height + extra, template=TEMPLATE,
        margin={"l": 70, "r": 20, "t": 70 if title else 50, "b": 60},
        legend={"orientation": "h", "y": -0.2, "yanchor": "top"},
        title={"text": title} if title else None,
    )
