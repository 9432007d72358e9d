"""The Compare page's chart builders: colours, labels, curves, deltas, diffs, axes, bands.

Every figure is checked against the tables it was drawn from, computed independently here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cnnlab.analysis import compare
from cnnlab.charts import compare as compare_charts
from cnnlab.charts.compare import BASELINE_COLOR, PALETTE
from cnnlab.config import ExperimentConfig

BASE = ExperimentConfig(train_size=200)
CONFIGS = {
    "base": BASE.to_dict(),
    "drop": BASE.with_overrides({"tricks.dropout_rate": 0.5}).to_dict(),
    "bn": BASE.with_overrides({"tricks.batch_norm": True, "learning_rate": 0.01}).to_dict(),
}


def _curve(val_accuracy, learning_rate=1e-3) -> pd.DataFrame:
    """A per-epoch table as compare.epoch_curves gives it."""
    acc = np.asarray(val_accuracy, dtype=float)
    return pd.DataFrame({"loss": 1 - acc + 0.05, "accuracy": acc + 0.05, "val_loss": 1 - acc,
                         "val_accuracy": acc, "learning_rate": learning_rate},
                        index=pd.Index(range(1, len(acc) + 1), name="epoch"))


CURVES = {"base": _curve([0.5, 0.6, 0.7]), "drop": _curve([0.4, 0.65, 0.8]),
          "bn": _curve([0.6, 0.7], learning_rate=1e-2)}


def test_each_run_keeps_its_colour_and_the_baseline_is_near_black():
    colors = compare_charts.run_colors(["a", "b", "c"], baseline="b")
    assert colors == {"a": PALETTE[0], "b": BASELINE_COLOR, "c": PALETTE[1]}
    # Adding a newer run to the comparison leaves the colours already shown alone.
    more = compare_charts.run_colors(["a", "b", "c", "d"], baseline="b")
    assert {run: more[run] for run in colors} == colors and more["d"] == PALETTE[2]
    assert len(set(compare_charts.run_colors([str(i) for i in range(30)]).values())) == 30


@pytest.mark.parametrize("baseline, expected", [
    ("base", {"base": "baseline", "drop": "dropout_rate=0.5", "bn": "batch_norm=on, learning_rate=0.01"}),
    ("drop", {"base": "dropout_rate=0", "drop": "baseline",
              "bn": "dropout_rate=0, batch_norm=on, learning_rate=0.01"}),
    # Without a baseline: each run's values of the fields that differ among all of them.
    (None, {"base": "dropout_rate=0, batch_norm=off, learning_rate=0.001",
            "drop": "dropout_rate=0.5, batch_norm=off, learning_rate=0.001",
            "bn": "dropout_rate=0, batch_norm=on, learning_rate=0.01"}),
])
def test_runs_are_labelled_by_what_differs(baseline, expected):
    assert compare_charts.run_labels(CONFIGS, baseline, max_length=80) == expected


def test_labels_are_short_and_unique():
    twins = {"20260101-000000-aaaa": BASE.to_dict(), "20260101-000000-bbbb": BASE.to_dict(),
             "base": BASE.with_overrides({"seed": 9}).to_dict()}
    labels = compare_charts.run_labels(twins, "base")
    assert labels == {"20260101-000000-aaaa": "seed=0 (aaaa)", "20260101-000000-bbbb": "seed=0 (bbbb)",
                      "base": "baseline"}
    many = BASE.with_overrides({"augmentation.rotation_range": 10.0, "augmentation.zoom_range": 0.1,
                                "augmentation.width_shift_range": 0.1})
    # Several augmentation fields read as one switch, both ways.
    both = {"base": BASE.to_dict(), "aug": many.to_dict()}
    assert compare_charts.run_labels(both, "base")["aug"] == "augmentation on"
    assert compare_charts.run_labels(both, "aug")["base"] == "augmentation off"
    one = BASE.with_overrides({"augmentation.rotation_range": 15.0, "learning_rate": 0.01})
    assert compare_charts.run_labels({"base": BASE.to_dict(), "one": one.to_dict()}, "base")["one"] \
        == "rotation_range=15, learning_rate=0.01"
    long = BASE.with_overrides({"learning_rate": 0.0123, "optimizer": "rmsprop", "batch_size": 64,
                                "tricks.l2": 0.000123, "epochs": 17})
    label = compare_charts.run_labels({"base": BASE.to_dict(), "long": long.to_dict()}, "base")["long"]
    assert len(label) == compare_charts.MAX_LABEL and label.endswith("…")


def test_the_curves_figure_overlays_every_run_train_dashed_validation_solid():
    labels = compare_charts.run_labels(CONFIGS, "base")
    colors = compare_charts.run_colors(list(CURVES), "base")
    figure = compare_charts.curves_figure(CURVES, labels, colors, total_epochs=6)
    drawn = [trace for trace in figure.data if trace.x is not None and trace.x[0] is not None]
    # Per run: train and validation loss and accuracy, and the learning rate.
    assert len(drawn) == 5 * len(CURVES)
    panels = {"loss": "x", "val_loss": "x", "accuracy": "x2", "val_accuracy": "x2", "learning_rate": "x3"}
    for run, curve in CURVES.items():
        traces = [trace for trace in drawn if trace.legendgroup == run]
        assert [trace.name for trace in traces] == [labels[run]] * 5
        assert sum(bool(trace.showlegend) for trace in traces) == 1  # one legend entry a run
        assert {trace.line.color for trace in traces} == {colors[run]}
        for trace, (metric, axis) in zip(traces, panels.items()):
            assert trace.xaxis == axis
            np.testing.assert_allclose(np.asarray(trace.y, dtype=float), curve[metric].to_numpy())
            assert list(trace.x) == list(curve.index)
            assert trace.line.dash == ("solid" if metric.startswith("val_") or metric == "learning_rate"
                                       else "dash")
    assert [trace.name for trace in figure.data[-2:]] == ["train", "validation"]  # the style key
    assert tuple(figure.layout.xaxis.range) == (0.8, 6.2)  # room for the planned epochs
    assert figure.layout.yaxis3.type == "log"
    # Half a decade either side of the rates used (1e-3 and 1e-2), whatever their float type.
    np.testing.assert_allclose(figure.layout.yaxis3.range, [-3.5, -1.5])
    assert figure.layout.template.layout.font.size >= 16  # tests/test_chart_style.py: every text


def test_a_run_without_epochs_yet_draws_nothing_and_long_runs_lose_their_markers():
    figure = compare_charts.curves_figure({"queued": pd.DataFrame(), "base": _curve([0.5] * 40)},
                                          {}, {})
    assert {trace.legendgroup for trace in figure.data if trace.x[0] is not None} == {"base"}
    assert {trace.mode for trace in figure.data if trace.legendgroup == "base"} == {"lines"}


def test_the_delta_figure_draws_run_minus_baseline():
    table = compare.delta(CURVES, "val_accuracy", "base")
    figure = compare_charts.delta_figure(table, "val_accuracy", {"drop": "dropout"}, {"drop": "#123456"})
    drop, bn = figure.data
    np.testing.assert_allclose(np.asarray(drop.y, dtype=float), [-0.1, 0.05, 0.1])
    assert math.isnan(float(bn.y[2]))  # no epoch 3 in that run
    assert (drop.name, drop.line.color, bn.name) == ("dropout", "#123456", "bn")
    (zero,) = figure.layout.shapes
    assert (zero.y0, zero.y1) == (0, 0)
    assert figure.layout.yaxis.tickformat == "+.0%"
    assert "higher is better" in figure.layout.title.text
    loss = compare_charts.delta_figure(compare.delta(CURVES, "val_loss", "base"), "val_loss", {}, {})
    assert "lower is better" in loss.layout.title.text and loss.layout.yaxis.tickformat == "+.3f"


def test_gradient_profiles_are_drawn_input_to_output_on_a_log_axis():
    profiles = {
        "short": pd.Series([1e-3, 0.0], index=["conv1", "predictions"]),
        "long": pd.Series([1e-4, 1e-3, 1e-1], index=["conv1", "fc1", "predictions"]),
        "empty": pd.Series(dtype=float),
    }
    figure = compare_charts.gradient_profiles_figure(profiles, {}, {})
    assert [trace.name for trace in figure.data] == ["short", "long"]
    assert list(figure.layout.xaxis.categoryarray) == ["conv1", "fc1", "predictions"]
    assert figure.layout.yaxis.type == "log"
    short = np.asarray(figure.data[0].y, dtype=float)
    assert short[0] == 1e-3 and math.isnan(short[1])  # a zero norm is a gap, not -inf


def test_the_config_diff_table_highlights_what_differs_from_the_baseline():
    diff = compare.config_diff(CONFIGS)
    labels = compare_charts.run_labels(CONFIGS, "drop")
    colors = compare_charts.run_colors(list(CONFIGS), "drop")
    statuses = {"base": "completed", "drop": "running", "bn": "queued"}
    styler = compare_charts.diff_styler(diff, labels, statuses, "drop", colors)
    table = styler.data
    # The baseline first, then the others in their order; values as short text.
    assert table["run"].tolist() == ["baseline", "dropout_rate=0", labels["bn"]]
    assert list(table.columns) == ["run", "status", "tricks.dropout_rate", "tricks.batch_norm",
                                   "learning_rate"]
    assert table.iloc[0].tolist() == ["baseline", "running", "0.5", "off", "0.001"]
    assert table.iloc[2].tolist()[2:] == ["0", "on", "0.01"]
    styles = styler._compute().ctx  # {(row, column): [(property, value), ...]}
    highlighted = {cell for cell, style in styles.items()
                   if ("background-color", "#fff3b0") in style}
    assert highlighted == {(1, 2), (2, 2), (2, 3), (2, 4)}  # exactly the cells unlike the baseline's
    assert all(("background-color", "#eeeeee") in styles[(0, col)] for col in range(1, 5))
    assert [("color", colors[run]) in styles[(row, 0)] for row, run in enumerate(["drop", "base", "bn"])] \
        == [True] * 3  # each label in its run's colour
    plain = compare_charts.diff_styler(diff, labels)._compute().ctx
    assert not any(style for style in plain.values())  # no baseline, no colours: plain


def test_the_hyperparameter_table_keeps_fields_that_make_an_axis():
    configs = {
        "a": BASE.to_dict(),
        "b": BASE.with_overrides({"learning_rate": 0.1, "optimizer": "sgd", "tricks.batch_norm": True,
                                  "tricks.activation": "elu", "tricks.l2": 1e-5}).to_dict(),
        "c": BASE.with_overrides({"learning_rate": 1e-4, "tricks.l2": 1e-3}).to_dict(),
    }
    table = compare_charts.hyperparameter_table(configs, {"a": 0.5, "b": 0.9})
    # activation is None in some runs: no axis.
    assert list(table.columns) == ["tricks.batch_norm", "tricks.l2", "optimizer", "learning_rate", "score"]
    assert table["tricks.batch_norm"].tolist() == [False, True, False]
    assert table["optimizer"].tolist() == ["adam", "sgd", "adam"]
    assert table["score"].iloc[:2].tolist() == [0.5, 0.9] and math.isnan(table["score"].iloc[2])

    figure = compare_charts.parallel_coordinates(table, "best val accuracy")
    (lines,) = figure.data
    dims = {dim.label: dim for dim in lines.dimensions}
    assert list(dims) == ["batch_norm", "l2 (log)", "optimizer", "learning_rate (log)", "best val accuracy"]
    assert list(dims["batch_norm"].values) == [0, 1, 0] and list(dims["batch_norm"].ticktext) == ["off", "on"]
    assert list(dims["optimizer"].values) == [0, 1, 0] and list(dims["optimizer"].ticktext) == ["adam", "sgd"]
    # Four decades of learning rate on a log10 axis, labelled with the powers of ten.
    np.testing.assert_allclose(dims["learning_rate (log)"].values, [-3, -1, -4])
    assert "10⁻⁴" in dims["learning_rate (log)"].ticktext
    # L2 off (0) sits one decade below the smallest strength used, labelled "0".
    np.testing.assert_allclose(dims["l2 (log)"].values, [-6, -5, -3])
    assert dims["l2 (log)"].ticktext[0] == "0"
    np.testing.assert_allclose(np.asarray(lines.line.color, dtype=float)[:2], [0.5, 0.9])
    seeds = compare_charts.hyperparameter_table(
        {run: ExperimentConfig(seed=seed).to_dict() for run, seed in (("a", 0), ("b", 2), ("c", 1))}, {})
    (seed,) = compare_charts.parallel_coordinates(seeds, "best val loss").data[0].dimensions[:1]
    assert seed.label == "seed" and list(seed.tickvals) == [0, 1, 2]  # ticks at the values used
    # Blue is better: the high end of the scale for an accuracy, the low end for a loss.
    assert lines.line.colorscale[-1][1] == "#1f3b99" and lines.line.reversescale is False
    loss = compare_charts.parallel_coordinates(table, "best val loss")
    assert loss.data[0].line.reversescale is True


def test_seed_bands_are_mean_plus_minus_one_standard_deviation():
    runs = {"s0": _curve([0.5, 0.6]), "s1": _curve([0.6, 0.7]), "s2": _curve([0.7, 0.8])}
    bands = {"lenet": {metric: compare.seed_band(runs, list(runs), metric)
                       for metric in ("val_loss", "val_accuracy")}}
    figure = compare_charts.seed_bands_figure(bands, {"lenet": "#ff0000"})
    band, mean = [trace for trace in figure.data if trace.xaxis == "x2"]
    np.testing.assert_allclose(np.asarray(mean.y, dtype=float), [0.6, 0.7])
    assert band.fill == "toself" and band.fillcolor == "rgba(255, 0, 0, 0.2)"
    # Upper edge forwards, lower edge backwards: mean ± 0.1 (the sample standard deviation).
    np.testing.assert_allclose(np.asarray(band.y, dtype=float), [0.7, 0.8, 0.6, 0.5])
    assert list(band.x) == [1, 2, 2, 1]
    assert mean.name == "lenet (3 seeds)"
    assert sum(bool(trace.showlegend) for trace in figure.data) == 1
