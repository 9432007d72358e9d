"""The insight chart builders: layer order, log scales, thresholds, the gap band, markers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cnnlab.analysis.alerts import (
    DEAD_FRACTION,
    EXPLODING_RATIO,
    VANISHING_RATIO,
    first_to_last_ratio,
)
from cnnlab.charts import insight as insight_charts

LAYERS = ["block1_conv1", "block2_conv1", "fc1", "predictions"]  # input to output


def _layer_table(values, steps_per_epoch=2) -> pd.DataFrame:
    """Per-layer rows at consecutive steps, as RunHistory.layer_table gives them."""
    values = np.asarray(values, dtype=float)
    index = pd.MultiIndex.from_tuples(
        [(1 + i // steps_per_epoch, 1 + i % steps_per_epoch) for i in range(len(values))],
        names=["epoch", "step"])
    return pd.DataFrame(values, index=index, columns=LAYERS[: values.shape[1]])


# A vanishing picture: the first layer a millionth of the last, at three steps.
VANISHING = [[1e-6, 1e-4, 1e-2, 1.0], [2e-6, 2e-4, 2e-2, 2.0], [1e-6, 1e-4, 1e-2, 0.5]]


def _heatmap(figure):
    (trace,) = [t for t in figure.data if t.type == "heatmap"]
    return trace


@pytest.mark.parametrize("kind, title", [
    ("grad_norm", "Gradient norm per layer"),
    ("weight_norm", "Weight norm per layer"),
    ("update_ratio", "Update-to-weight ratio per layer"),
])
def test_the_layer_heatmap_is_layers_by_steps_in_log10_with_the_input_at_the_top(kind, title):
    table = _layer_table(VANISHING)
    figure = insight_charts.layer_heatmap(table, kind=kind, steps_per_epoch=2)
    trace = _heatmap(figure)
    assert list(trace.y) == LAYERS  # rows in the table's order, input first ...
    assert figure.layout.yaxis.autorange == "reversed"  # ... drawn at the top
    z = np.asarray(trace.z, dtype=float)
    assert z.shape == (4, 3)  # layers × recorded steps
    np.testing.assert_allclose(z, np.log10(np.asarray(VANISHING)).T)
    np.testing.assert_allclose(np.asarray(trace.customdata, dtype=float), np.asarray(VANISHING).T)
    assert list(trace.x) == [0.5, 1.0, 1.5]  # fractional epochs, like the training curves
    # The colour bar covers whole decades and is labelled with powers of ten.
    assert (trace.zmin, trace.zmax) == (-6, 1)
    assert list(trace.colorbar.tickvals) == list(range(-6, 2))
    assert trace.colorbar.ticktext[0] == "10⁻⁶" and trace.colorbar.ticktext[-1] == "10¹"
    assert figure.layout.title.text == title


def test_a_zero_norm_leaves_a_gap_rather_than_minus_infinity():
    trace = _heatmap(insight_charts.layer_heatmap(_layer_table([[0.0, 1e-3]])))
    z = np.asarray(trace.z, dtype=float)
    assert math.isnan(z[0, 0]) and z[1, 0] == pytest.approx(-3)
    assert (trace.zmin, trace.zmax) == (-3, -2)  # at least one decade wide


def test_an_empty_table_gives_an_empty_figure_and_an_unknown_kind_is_refused():
    assert len(insight_charts.layer_heatmap(pd.DataFrame()).data) == 0
    assert len(insight_charts.latest_layer_bars(pd.DataFrame()).data) == 0
    with pytest.raises(ValueError, match="Unknown per-layer `kind`.*Received: 'gradient'"):
        insight_charts.layer_heatmap(_layer_table(VANISHING), kind="gradient")


def test_the_bars_show_the_latest_step_per_layer_on_a_log_axis():
    figure = insight_charts.latest_layer_bars(_layer_table(VANISHING))
    (bars,) = figure.data
    assert bars.orientation == "h"
    assert list(bars.y) == LAYERS and figure.layout.yaxis.autorange == "reversed"
    np.testing.assert_allclose(bars.x, VANISHING[-1])
    assert figure.layout.xaxis.type == "log"
    # Whole decades: each bar starts at a power of ten, 10⁻⁶ here, and reads as a magnitude.
    assert figure.layout.xaxis.range == (-6, 0)
    assert figure.layout.xaxis.dtick == 2  # six decades: a label every other one
    assert figure.layout.title.text == "Latest: epoch 2, step 1" and not figure.layout.showlegend
    assert not figure.layout.shapes  # the 1e-3 rule is for update ratios only


def test_the_update_ratio_bars_mark_the_healthy_ratio():
    figure = insight_charts.latest_layer_bars(_layer_table(VANISHING), kind="update_ratio")
    (line,) = figure.layout.shapes
    assert line.x0 == line.x1 == insight_charts.GOOD_UPDATE_RATIO
    (label,) = figure.layout.annotations
    assert label.x == pytest.approx(-3)  # on a log axis, annotations sit in log10 units
    assert figure.layout.xaxis.range == (-6, 0)  # the reference line is in range


def test_the_gradient_ratio_is_drawn_on_a_log_axis_with_the_vanishing_threshold():
    grads = _layer_table(VANISHING)
    figure = insight_charts.gradient_ratio_figure(first_to_last_ratio(grads), steps_per_epoch=2)
    (curve,) = figure.data
    np.testing.assert_allclose(curve.y, [1e-6, 1e-6, 2e-6])
    assert list(curve.x) == [0.5, 1.0, 1.5]
    assert figure.layout.yaxis.type == "log"
    lines = [s for s in figure.layout.shapes if s.type == "line"]
    assert [(line.y0, line.y1) for line in lines] == [(VANISHING_RATIO, VANISHING_RATIO)]
    (label,) = figure.layout.annotations
    assert label.text == "vanishing below 0.05" and label.y == pytest.approx(math.log10(VANISHING_RATIO))
    (band,) = [s for s in figure.layout.shapes if s.type == "rect"]
    assert band.y1 == VANISHING_RATIO and band.y0 < 1e-6  # the vanishing zone, shaded
    # The y range (log10) holds both the curve and the threshold.
    low, high = figure.layout.yaxis.range
    assert low < -6 and high > math.log10(VANISHING_RATIO)


def test_a_ratio_near_the_exploding_threshold_draws_that_line_too():
    grads = _layer_table([[500.0, 1.0, 1.0, 1.0]])
    figure = insight_charts.gradient_ratio_figure(first_to_last_ratio(grads))
    levels = sorted(s.y0 for s in figure.layout.shapes if s.type == "line")
    assert levels == [VANISHING_RATIO, EXPLODING_RATIO]


def test_dead_relus_show_the_latest_epoch_and_redden_the_dead_layers():
    dead = pd.DataFrame({"conv1_act": [0.0, 0.1], "fc1_act": [0.2, 0.9]},
                        index=pd.MultiIndex.from_tuples([(1, 7), (2, 7)], names=["epoch", "step"]))
    figure = insight_charts.dead_relu_figure(dead)
    (bars,) = figure.data
    assert list(bars.y) == ["conv1_act", "fc1_act"] and list(bars.x) == [0.1, 0.9]
    assert list(bars.marker.color) == [insight_charts.TRAIN_COLOR, insight_charts.ALERT_COLOR]
    (line,) = figure.layout.shapes
    assert line.x0 == DEAD_FRACTION
    assert "epoch 2" in figure.layout.title.text


@pytest.mark.parametrize("rates, log", [
    ([1e-3] * 4, False),                     # constant: a linear axis
    ([1e-2, 1e-3, 1e-4, 1e-5], True),        # decays over decades: a log axis
])
def test_the_learning_rate_is_drawn_per_batch_at_fractional_epochs(rates, log):
    batches = pd.DataFrame({"learning_rate": rates, "loss": 1.0},
                           index=pd.MultiIndex.from_tuples([(1, 1), (1, 2), (2, 1), (2, 2)],
                                                           names=["epoch", "step"]))
    figure = insight_charts.learning_rate_figure(batches, steps_per_epoch=2)
    (line,) = figure.data
    assert list(line.x) == [0.5, 1.0, 1.5, 2.0]
    np.testing.assert_allclose(line.y, rates)
    assert (figure.layout.yaxis.type == "log") is log


def _epochs(loss, val_loss, accuracy=None, val_accuracy=None):
    frame = pd.DataFrame({"loss": loss, "val_loss": val_loss},
                         index=pd.Index(range(1, len(loss) + 1), name="epoch"))
    if accuracy is not None:
        frame["accuracy"], frame["val_accuracy"] = accuracy, val_accuracy
    return frame


OVERFITTING = _epochs(loss=[1.0, 0.6, 0.3, 0.1], val_loss=[1.1, 0.8, 0.9, 1.2],
                      accuracy=[0.6, 0.8, 0.9, 0.99], val_accuracy=[0.55, 0.7, 0.72, 0.72])


def test_the_gap_is_a_band_between_train_and_validation_with_the_best_epoch_starred():
    figure = insight_charts.generalization_gap(OVERFITTING, total_epochs=6)
    train, validation, best = figure.data
    assert list(train.y) == [1.0, 0.6, 0.3, 0.1] and list(validation.y) == [1.1, 0.8, 0.9, 1.2]
    # The validation curve fills down (or up) to the train curve drawn just before it.
    assert validation.fill == "tonexty" and train.fill in (None, "none")
    assert list(best.x) == [2] and list(best.y) == [0.8]  # the lowest validation loss
    assert best.marker.symbol == "star"
    (marker_line,) = figure.layout.shapes
    assert marker_line.x0 == 2
    assert figure.layout.title.text == "Generalization gap: +1.100"  # validation 1.2, train 0.1
    assert figure.layout.xaxis.range == (0.5, 6.5)


def test_early_stopping_marks_its_own_best_epoch_and_where_it_stopped():
    figure = insight_charts.generalization_gap(OVERFITTING, metric="accuracy", best_epoch=3,
                                               early_stopping_epoch=4)
    best = figure.data[-1]
    assert list(best.x) == [3] and list(best.y) == [0.72]
    assert sorted(shape.x0 for shape in figure.layout.shapes) == [3, 4]
    assert any(a.text == "early stop" for a in figure.layout.annotations)
    assert figure.layout.title.text == "Generalization gap: +27.0 points"  # 99% vs 72%
    assert figure.layout.yaxis.tickformat == ".0%"


def test_the_gap_of_a_run_without_validation_is_empty_and_a_bad_metric_is_refused():
    assert len(insight_charts.generalization_gap(pd.DataFrame({"loss": [1.0]})).data) == 0
    with pytest.raises(ValueError, match="Expected 'loss' or 'accuracy'"):
        insight_charts.generalization_gap(OVERFITTING, metric="f1")


def test_the_confusion_matrix_has_true_rows_predicted_columns_and_counts_annotated():
    matrix = np.array([[5, 1, 0], [2, 2, 0], [0, 0, 0]])
    names = ["0", "1", "2"]  # digit names must stay categories, not become numbers
    figure = insight_charts.confusion_figure(matrix, names, selected=(1, 0))
    cells, targets = figure.data
    assert list(cells.x) == names and list(cells.y) == names
    assert figure.layout.xaxis.type == figure.layout.yaxis.type == "category"
    assert figure.layout.yaxis.autorange == "reversed"  # class 0's row at the top
    assert figure.layout.yaxis.title.text == "true class"
    assert figure.layout.xaxis.title.text == "predicted class"
    assert np.asarray(cells.text).tolist() == [["5", "1", ""], ["2", "2", ""], ["", "", ""]]
    assert cells.texttemplate == "%{text}"
    # Colour: the share of the true class; an empty row stays 0, not NaN.
    np.testing.assert_allclose(np.asarray(cells.z, dtype=float),
                               [[5 / 6, 1 / 6, 0], [0.5, 0.5, 0], [0, 0, 0]])
    (outline,) = figure.layout.shapes
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (-0.5, 0.5, 0.5, 1.5)
    # Click targets: one invisible point per cell, at its (predicted, true) names.
    assert cells.hoverinfo == "skip" and targets.type == "scatter"
    cell = list(zip(targets.x, targets.y)).index(("0", "1"))  # true 1, predicted 0
    assert list(targets.customdata[cell]) == [2, 0.5]
    assert len(targets.x) == 9 and targets.unselected.marker.opacity == 0
    assert figure.layout.hoverdistance == -1


def test_a_confusion_matrix_of_many_classes_drops_the_counts_and_a_bad_shape_is_refused():
    figure = insight_charts.confusion_figure(np.eye(30, dtype=int), [f"c{i}" for i in range(30)])
    assert figure.data[0].text is None
    with pytest.raises(ValueError, match="Expected shape \\(3, 3\\).*Received: \\(2, 2\\)"):
        insight_charts.confusion_figure(np.eye(2), ["a", "b", "c"])


@pytest.mark.parametrize("exponent, text", [(-3, "10⁻³"), (0, "10⁰"), (2, "10²"), (-12, "10⁻¹²")])
def test_powers_of_ten_are_written_with_superscripts(exponent, text):
    assert insight_charts.power_of_ten(exponent) == text
