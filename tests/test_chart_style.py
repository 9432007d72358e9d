"""Every chart of the lab reads on a projector: one template, no text under 14 px.

The trusted reference is Plotly's own resolution of a figure's text: a size stated on an
element, or else the template's for that kind of text, or else the layout font. Each
figure builder is called with small real-shaped inputs, and every text it can show is
checked; the pages must draw the figures without Streamlit's theme (which would put its
12 px sizes back into the template), which a scan of their source checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnlab.charts import compare as compare_charts
from cnnlab.charts import insight as insight_charts
from cnnlab.charts import training as charts
from cnnlab.charts.style import MIN_FONT_SIZE, TEMPLATE

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["block1_conv1", "block2_conv1", "fc1", "predictions"]
INDEX = pd.MultiIndex.from_tuples([(1, 1), (1, 2), (2, 1), (2, 2)], names=["epoch", "step"])
LAYER_TABLE = pd.DataFrame(np.geomspace(1e-5, 1.0, 16).reshape(4, 4), index=INDEX, columns=LAYERS)
EPOCHS = pd.DataFrame({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
                       "val_accuracy": [0.45, 0.7]}, index=pd.Index([1, 2], name="epoch"))
BATCHES = pd.DataFrame({"loss": [1.2, 1.0, 0.7, 0.5], "running_accuracy": [0.3, 0.4, 0.6, 0.7],
                        "learning_rate": [1e-3, 1e-3, 1e-4, 1e-4]}, index=INDEX)
CURVES = {run: EPOCHS.assign(learning_rate=1e-3) for run in ("base", "drop", "l2")}
LABELS = {"base": "baseline", "drop": "dropout_rate=0.5", "l2": "l2=0.001"}
COLORS = compare_charts.run_colors(list(CURVES), "base")
CONFIGS = {"base": {"learning_rate": 0.001, "tricks": {"batch_norm": False}},
           "drop": {"learning_rate": 0.01, "tricks": {"batch_norm": True}},
           "l2": {"learning_rate": 0.1, "tricks": {"batch_norm": False}}}
BAND = pd.DataFrame({"mean": [0.5, 0.6], "std": [0.05, 0.04], "count": [3, 3]}, index=[1, 2])

BUILDERS = {
    "training curves": lambda: charts.training_curves(EPOCHS, BATCHES, total_epochs=4),
    "schedule": lambda: charts.schedule_figure(np.linspace(0, 2, 8), np.geomspace(1e-2, 1e-4, 8), log_y=True),
    "layer heatmap": lambda: insight_charts.layer_heatmap(LAYER_TABLE),
    "latest layer bars": lambda: insight_charts.latest_layer_bars(LAYER_TABLE, kind="update_ratio"),
    "gradient ratio": lambda: insight_charts.gradient_ratio_figure(
        pd.Series([1e-3, 1e-2, 5e2, 1e3], index=INDEX)),
    "dead relus": lambda: insight_charts.dead_relu_figure(LAYER_TABLE.clip(upper=1.0)),
    "learning rate": lambda: insight_charts.learning_rate_figure(BATCHES),
    "generalization gap": lambda: insight_charts.generalization_gap(EPOCHS, early_stopping_epoch=2),
    "confusion 10 classes": lambda: insight_charts.confusion_figure(
        np.arange(100).reshape(10, 10), [f"class {i}" for i in range(10)], selected=(1, 2)),
    "confusion 20 classes": lambda: insight_charts.confusion_figure(
        np.ones((20, 20), int), [str(i) for i in range(20)]),
    "compare curves": lambda: compare_charts.curves_figure(CURVES, LABELS, COLORS, total_epochs=4),
    "difference": lambda: compare_charts.delta_figure(
        pd.DataFrame({"drop": [0.01, 0.05], "l2": [-0.02, 0.0]}, index=[1, 2]), "val_accuracy",
        LABELS, COLORS),
    "gradient profiles": lambda: compare_charts.gradient_profiles_figure(
        {run: LAYER_TABLE.iloc[-1] for run in CURVES}, LABELS, COLORS),
    "parallel coordinates": lambda: compare_charts.parallel_coordinates(
        compare_charts.hyperparameter_table(CONFIGS, {"base": 0.7, "drop": 0.8, "l2": 0.6}),
        "best val accuracy"),
    "seed bands": lambda: compare_charts.seed_bands_figure(
        {"dropout": {"val_loss": BAND, "val_accuracy": BAND}}, {"dropout": "#1f77b4"}),
}


def _sizes(node, path: str = "", inherited: bool = False):
    """(path, size) of every font size stated anywhere in a figure's JSON."""
    if isinstance(node, dict):
        font = path.rsplit(".", 1)[-1].lower().endswith("font")
        color = str(node.get("color", ""))
        invisible = font and color.replace(" ", "").endswith(",0)")  # rgba(..., 0): never seen
        if font and "size" in node and not invisible:
            size = node["size"]
            for value in (size if isinstance(size, list) else [size]):
                yield path, value
        for key, value in node.items():
            yield from _sizes(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _sizes(item, f"{path}[{index}]")


def test_the_template_sizes_every_kind_of_text_at_least_14_px():
    layout = TEMPLATE.layout
    stated = {
        "font": layout.font.size, "title": layout.title.font.size, "legend": layout.legend.font.size,
        "hover": layout.hoverlabel.font.size, "annotations": layout.annotationdefaults.font.size,
        "x ticks": layout.xaxis.tickfont.size, "x title": layout.xaxis.title.font.size,
        "y ticks": layout.yaxis.tickfont.size, "y title": layout.yaxis.title.font.size,
        "colour bar ticks": layout.coloraxis.colorbar.tickfont.size,
    }
    assert all(size is not None and size >= MIN_FONT_SIZE for size in stated.values()), stated
    assert MIN_FONT_SIZE >= 14


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_figure_uses_the_template_and_states_no_text_under_14_px(name):
    figure = BUILDERS[name]()
    assert figure.layout.template.to_plotly_json() == TEMPLATE.to_plotly_json(), name
    # The template's own sizes are checked above; what a builder states on top of it must
    # not undercut them.
    small = [(path, size) for path, size in _sizes(figure.to_plotly_json())
             if not path.startswith("layout.template") and size < MIN_FONT_SIZE]
    assert not small, f"{name}: text under {MIN_FONT_SIZE} px at {small}"


def test_the_size_walk_finds_a_small_font_where_there_is_one():
    """The check above can fail: a figure with 12 px ticks is caught."""
    figure = charts.schedule_figure(np.arange(3.0), np.ones(3))
    figure.update_xaxes(tickfont_size=12)
    assert ("layout.xaxis.tickfont", 12) in list(_sizes(figure.to_plotly_json()))


def test_the_pages_draw_every_chart_without_streamlits_theme():
    """Streamlit's chart theme writes its 12 px sizes into the figure's template."""
    calls = []
    for path in [*ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            # st.plotly_chart, or ui.projector's plotly_chart that wraps it.
            func = node.func if isinstance(node, ast.Call) else None
            if getattr(func, "attr", "") == "plotly_chart" or getattr(func, "id", "") == "plotly_chart":
                theme = [k.value for k in node.keywords if k.arg == "theme"]
                calls.append((path.name, node.lineno,
                              bool(theme) and isinstance(theme[0], ast.Constant) and theme[0].value is None))
    assert len(calls) >= 10, calls
    assert all(ok for _, _, ok in calls), [call for call in calls if not call[2]]


def test_every_chart_goes_through_the_projector_wrapper():
    """Projector mode enlarges a chart's text only where ui.projector.plotly_chart draws it:
    a page that calls Streamlit's own (st.plotly_chart, a column's .plotly_chart) would show
    that chart at desk size on a projector."""
    direct = []
    for path in [*ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]:
        if path.name == "projector.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "plotly_chart":
                direct.append(f"{path.name}:{node.lineno}")
    assert direct == []
