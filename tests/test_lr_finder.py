"""The learning-rate finder: its schedule, its rule, its weights put back, a real run stored."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.config import ExperimentConfig
from cnnlab.training.job import execute_run
from cnnlab.training.lr_finder import (
    END_LEARNING_RATE,
    MIN_STEPS,
    MINIMUM_OVER_10,
    START_LEARNING_RATE,
    STEEPEST,
    exploded,
    find_learning_rate,
    finder_steps,
    learning_rates,
    smooth,
    stored_curve,
    suggest,
)
from cnnlab.training.status import describe
from tests.apptest import ROOT, fresh_resources, plotly_figure  # noqa: F401  (fixture)


@pytest.mark.parametrize("steps", [2, 37, 100, 250])
def test_the_schedule_is_exponential_from_1e_7_to_10(steps):
    rates = learning_rates(steps)
    assert rates[0] == pytest.approx(START_LEARNING_RATE) and rates[-1] == pytest.approx(END_LEARNING_RATE)
    ratios = rates[1:] / rates[:-1]
    np.testing.assert_allclose(ratios, (END_LEARNING_RATE / START_LEARNING_RATE) ** (1 / (steps - 1)), rtol=1e-9)
    assert finder_steps(12) == MIN_STEPS and finder_steps(400) == 400


def test_smoothing_is_the_bias_corrected_average():
    np.testing.assert_allclose(smooth([2.0] * 10), 2.0)  # no pull towards 0 at the start
    smoothed = smooth([1.0, 3.0], beta=0.5)
    assert smoothed[1] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25))
    assert exploded(4.1, 1.0) and not exploded(3.9, 1.0) and exploded(float("nan"), 1.0)


def _curve(centre: float, rise_from: float, steps: int = 301):
    """A smoothed-loss shape in log10(rate): falls fastest at `centre`, rises after `rise_from`."""
    rates = learning_rates(steps)
    x = np.log10(rates)
    loss = 2.3 - np.tanh(2 * (x - centre)) + 8 * np.clip(x - rise_from, 0, None) ** 2
    return rates, loss


def test_the_suggestion_follows_the_rule_steepest_descent_when_it_is_smaller():
    rates, loss = _curve(centre=-4, rise_from=-1)
    result = suggest(rates, loss)
    lowest = rates[np.argmin(loss)]
    assert result.steepest == pytest.approx(1e-4, rel=0.1)  # the tanh's steepest point
    assert result.minimum_over_10 == pytest.approx(lowest / 10)
    assert 1e-3 < result.minimum_over_10 < 1e-1
    assert (result.rule, result.learning_rate) == (STEEPEST, result.steepest)


def test_the_suggestion_follows_the_rule_minimum_over_10_when_it_is_smaller():
    rates, loss = _curve(centre=-2, rise_from=-2.6)
    result = suggest(rates, loss)
    assert result.minimum_over_10 < result.steepest
    assert (result.rule, result.learning_rate) == (MINIMUM_OVER_10, result.minimum_over_10)
    assert result.minimum_over_10 == pytest.approx(rates[np.argmin(loss)] / 10)


def test_a_curve_that_never_falls_is_not_clear():
    rates = learning_rates(100)
    noise = 2.3 + 0.01 * np.random.default_rng(0).normal(size=100)
    assert not suggest(rates, smooth(noise)).clear
    assert suggest(*_curve(centre=-4, rise_from=-1)).clear


def test_too_short_a_curve_is_refused_clearly():
    with pytest.raises(ValueError, match="at least 3 finite losses"):
        suggest([1e-3, 1e-2], [1.0, float("nan")])


def test_the_weights_are_put_back_and_the_test_stops_once_the_loss_explodes():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(scale=5.0, size=(256, 8)).astype("float32")  # large inputs: a large rate overshoots
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")
    before = [w.copy() for w in model.get_weights()]
    seen = []
    rates, losses = find_learning_rate(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), 200,
                                       on_batch=lambda i, rate, loss: seen.append(rate))
    for kept, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
    assert len(losses) == len(seen) < 200  # SGD at a rate near 10 blows the loss up before the end
    np.testing.assert_allclose(rates, learning_rates(200)[:len(rates)])
    assert exploded(smooth(losses)[-1], smooth(losses).min())


def test_a_real_finder_run_on_digits_stores_its_curve_and_suggests_a_sane_rate(store, fresh_resources):
    config = ExperimentConfig(dataset="digits", image_size=16, train_size=512, batch_size=32, kind="lr_find")
    run_id = store.create_run(config.to_dict(), config.summary())
    assert execute_run(store, run_id, config, threading.Event()) == "completed"
    record = store.get_run(run_id)
    rates, losses = stored_curve(store, run_id)
    assert 20 <= len(rates) <= MIN_STEPS and np.isfinite(losses[:10]).all()
    np.testing.assert_allclose(rates, learning_rates(MIN_STEPS)[:len(rates)])
    suggestion = record.final_metrics["lr_find_suggestion"]
    assert suggestion == pytest.approx(suggest(rates, smooth(losses)).learning_rate)
    assert 1e-4 <= suggestion <= 1.0, suggestion
    assert not (store.run_dir(run_id) / "model.keras").exists()  # it trains nothing it keeps
    assert ExperimentConfig.from_dict(record.config).kind == "lr_find"
    assert "LR finder" in record.name

    # The Train page draws the curve and the rule, and the button loads the rate into the form.
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page("pages/1_Train.py")
    app.query_params["run"] = run_id
    app.run()
    assert not app.exception, app.exception
    figure = plotly_figure(app, f"train_lr_find_{run_id}")
    assert figure["layout"]["xaxis"]["type"] == "log"
    np.testing.assert_allclose(figure["data"][0]["x"], rates)
    text = "\n".join(element.value for element in app.markdown)
    assert f"Suggested learning rate: {suggestion:.2g}" in text
    button = next(b for b in app.button if b.label.startswith("Use "))
    assert app.session_state["train_learning_rate"] != float(f"{suggestion:.2g}")
    button.click().run()
    assert not app.exception, app.exception
    assert app.session_state["train_learning_rate"] == float(f"{suggestion:.2g}")
    assert ExperimentConfig.from_dict(store.get_run(run_id).config).learning_rate == config.learning_rate


def test_a_finder_run_in_progress_says_so():
    class Record:
        status, progress = "running", {"stage": "finding_lr", "step": 40, "steps": 100, "fraction": 0.4}

    assert describe(Record()).endswith("batch 40/100")
    assert describe(Record(), short=True) == "finding the rate, batch 40/100"
