"""Learning-rate schedules against their closed-form formulas, computed here in numpy.

The reference below is written from ScheduleConfig's documented formulas, independently of
cnnlab.schedules (which uses Keras' schedule classes), and every way a rate reaches
training is checked against it: the schedule object, the preview, a real optimizer's
updates, Keras' plateau callback in `fit`, and the schedule after saving and loading.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from keras import ops

from cnnlab.charts import training as charts
from cnnlab.config import SCHEDULES, ExperimentConfig, ScheduleConfig
from cnnlab.schedules import (
    LinearWarmup,
    PerEpoch,
    make_learning_rate,
    preview,
    schedule_callbacks,
    schedule_formula,
)

UNITS = ("epoch", "iteration")
SCHEDULED = [kind for kind in SCHEDULES if kind not in ("constant", "plateau")]
# Parameters under which every kind changes visibly within a 5-epoch run of 4 batches.
PARAMETERS = {"decay_rate": 0.3, "step_size": 2, "drop_factor": 0.5, "warmup_epochs": 1.5,
              "min_learning_rate": 0.002, "patience": 2}
ETA0 = 0.1


def _config(kind: str, unit: str = "epoch", *, epochs: int = 5, learning_rate: float = ETA0,
            **overrides) -> ExperimentConfig:
    schedule = ScheduleConfig(kind=kind, unit=unit, **{**PARAMETERS, **overrides})
    return ExperimentConfig(learning_rate=learning_rate, epochs=epochs, schedule=schedule)


def reference(config: ExperimentConfig, steps_per_epoch: int, iterations: np.ndarray) -> np.ndarray:
    """The rate at each iteration (from 0), in float64, from the documented formulas."""
    s, eta0 = config.schedule, config.learning_rate
    i = np.asarray(iterations, dtype=np.int64)
    if s.unit == "epoch":  # the rate is held for a whole epoch
        t, total, warmup = i // steps_per_epoch, config.epochs, s.warmup_epochs
    else:
        t, total = i, config.epochs * steps_per_epoch
        warmup = s.warmup_epochs * steps_per_epoch
    t = t.astype(np.float64)
    if s.kind in ("constant", "plateau"):
        return np.full(t.shape, eta0)
    if s.kind == "time_based":
        return eta0 / (1 + s.decay_rate * t)
    if s.kind == "step":
        return eta0 * s.drop_factor ** np.floor(t / s.step_size)
    if s.kind == "exponential":
        return eta0 * np.exp(-s.decay_rate * t)
    if s.kind == "cosine":  # held at the floor once the run is over
        low = s.min_learning_rate
        return low + (eta0 - low) * 0.5 * (1 + np.cos(np.pi * np.minimum(t, total) / total))
    if s.kind == "warmup":
        return eta0 * np.minimum(1.0, (t + 1) / warmup)
    if s.kind == "one_cycle":
        rise = round(0.3 * total)
        start, end, fall = eta0 / 25, eta0 / 1e4, total - rise
        up = start + (eta0 - start) * t / max(rise, 1)
        down = end + (eta0 - end) * 0.5 * (1 + np.cos(np.pi * np.minimum(t - rise, fall) / fall))
        return np.where(t < rise, up, down)
    raise AssertionError(f"no reference for {s.kind}")


def _evaluate(learning_rate, iterations) -> np.ndarray:
    """The rate at each iteration, calling the schedule on a scalar integer as an optimizer does."""
    if not isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return np.full(len(iterations), learning_rate)
    return np.array([float(ops.convert_to_numpy(learning_rate(ops.convert_to_tensor(int(i), "int64"))))
                     for i in iterations])


def _assert_rates(actual, expected, eta0=ETA0):
    # float32 computes a rate to about 1e-7 of eta0; near the end of a cosine, 1 + cos(x)
    # cancels, so relative precision alone cannot hold for rates far below eta0.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6 * eta0)


# -- the schedule object against its formula ---------------------------------------------

FORMULA_CASES = [
    pytest.param(kind, unit, 4, {}, id=f"{kind}-{unit}") for kind in SCHEDULES for unit in UNITS
] + [
    # Long runs, where float32 rounding of t or of a per-iteration factor would show.
    pytest.param("exponential", "iteration", 500, {"decay_rate": 1e-3, "epochs": 20},
                 id="exponential-iteration-10k"),
    pytest.param("step", "iteration", 500, {"step_size": 999, "epochs": 20}, id="step-iteration-10k"),
    pytest.param("cosine", "iteration", 500, {"min_learning_rate": 0.0, "epochs": 20},
                 id="cosine-iteration-10k-to-zero"),
    pytest.param("one_cycle", "epoch", 500, {"epochs": 20}, id="one_cycle-epoch-10k"),
    pytest.param("warmup", "iteration", 7, {"warmup_epochs": 2.3}, id="warmup-fractional"),
    pytest.param("one_cycle", "epoch", 3, {"epochs": 1}, id="one_cycle-single-epoch"),
]


@pytest.mark.parametrize("kind, unit, steps_per_epoch, overrides", FORMULA_CASES)
def test_schedule_matches_its_formula(kind, unit, steps_per_epoch, overrides):
    config = _config(kind, unit, **overrides)
    total = config.epochs * steps_per_epoch
    if total <= 64:
        iterations = np.arange(total + 1)  # one past the end: schedules hold their last rate
    else:  # the start, every epoch boundary and the end, to keep the test fast
        boundaries = np.arange(0, total + 1, steps_per_epoch)
        iterations = np.unique(np.concatenate([np.arange(8), boundaries - 1, boundaries,
                                               np.arange(total - 8, total + 1)]))[1:]
    rates = _evaluate(make_learning_rate(config, steps_per_epoch), iterations)
    _assert_rates(rates, reference(config, steps_per_epoch, iterations))


def test_float_for_constant_and_plateau_schedule_object_otherwise():
    # ReduceLROnPlateau can only change a rate held in the optimizer's variable.
    for kind in SCHEDULES:
        learning_rate = make_learning_rate(_config(kind), 4)
        if kind in ("constant", "plateau"):
            assert type(learning_rate) is float and learning_rate == ETA0
        else:
            assert isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule)


def test_per_epoch_unit_holds_the_rate_within_each_epoch():
    rates = _evaluate(make_learning_rate(_config("exponential", "epoch"), 4), range(20))
    assert np.all(rates.reshape(5, 4) == rates.reshape(5, 4)[:, :1])
    assert len(np.unique(rates)) == 5


# -- preview -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("unit", UNITS)
def test_preview_gives_the_schedule_rate_at_every_iteration(kind, unit):
    config, steps_per_epoch = _config(kind, unit, epochs=3), 5
    epochs, rates = preview(config, steps_per_epoch)
    assert epochs.shape == rates.shape == (15,)
    # The batch that ends epoch e sits at x = e, as in charts.training_curves.
    np.testing.assert_allclose(epochs, np.arange(1, 16) / 5)
    # Same object, same formula; batched float32 kernels may round the last bit or so
    # differently from scalar calls, hence a few float32 ulps (1e-6), not exact equality.
    np.testing.assert_allclose(rates, _evaluate(make_learning_rate(config, steps_per_epoch), range(15)),
                               rtol=1e-6)
    _assert_rates(rates, reference(config, steps_per_epoch, np.arange(15)))


def test_preview_of_a_long_run_is_fast_and_complete():
    epochs, rates = preview(_config("one_cycle", "iteration", epochs=100), 1000)
    assert len(epochs) == len(rates) == 100_000
    assert rates.argmax() == round(0.3 * 100_000)


# -- the rate a real optimizer applies -----------------------------------------------------


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("unit", UNITS)
def test_sgd_steps_by_the_formula_rate(kind, unit):
    config, steps_per_epoch, steps = _config(kind, unit, epochs=2), 3, 6
    optimizer = keras.optimizers.SGD(learning_rate=make_learning_rate(config, steps_per_epoch))
    weight = keras.Variable(np.zeros(1, np.float32))
    applied = []
    for _ in range(steps):
        # With gradient 1 and weight 0, plain SGD leaves the weight at minus the rate used.
        weight.assign(np.zeros(1, np.float32))
        optimizer.apply_gradients([(ops.ones(1), weight)])
        applied.append(-float(ops.convert_to_numpy(weight)[0]))
    expected = reference(config, steps_per_epoch, np.arange(steps + 1))
    _assert_rates(applied, expected[:steps])
    assert int(ops.convert_to_numpy(optimizer.iterations)) == steps
    _assert_rates(float(ops.convert_to_numpy(optimizer.learning_rate)), expected[steps])


# -- plateau -------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
@pytest.mark.parametrize("patience, drop_factor, min_learning_rate", [
    (1, 0.5, 0.0),
    (2, 0.1, 0.0),
    (1, 0.5, 0.03),  # 0.1, 0.1, 0.05, then held at the floor 0.03
])
def test_plateau_drops_by_drop_factor_after_patience_epochs(patience, drop_factor, min_learning_rate):
    keras.utils.set_random_seed(0)
    epochs, learning_rate = 7, 0.1
    config = _config("plateau", epochs=epochs, learning_rate=learning_rate, patience=patience,
                     drop_factor=drop_factor, min_learning_rate=min_learning_rate)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    # Frozen weights: the validation loss after epoch 1 can never improve on epoch 1's.
    model.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(make_learning_rate(config, 2)), loss="mse")
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        float(ops.convert_to_numpy(model.optimizer.learning_rate))))
    x, y = np.random.rand(16, 3), np.random.rand(16, 1)
    model.fit(x, y, validation_data=(x[:8], y[:8]), batch_size=8, epochs=epochs, verbose=0,
              callbacks=[record, *schedule_callbacks(config)])
    # Keras' rule: epoch 0 sets the best loss; after `patience` epochs without improvement
    # the rate is multiplied by drop_factor (never below the floor) and the count restarts.
    # So epoch e (from 0) runs after max(0, (e - 1) // patience) drops.
    drops = np.maximum((np.arange(epochs) - 1) // patience, 0)
    expected = np.maximum(learning_rate * drop_factor ** drops, min_learning_rate)
    np.testing.assert_allclose(seen, expected, rtol=1e-6)


def test_only_plateau_needs_a_callback():
    for kind in SCHEDULES:
        callbacks = schedule_callbacks(_config(kind))
        if kind != "plateau":
            assert callbacks == []
            continue
        (callback,) = callbacks
        assert isinstance(callback, keras.callbacks.ReduceLROnPlateau)
        assert (callback.monitor, callback.factor, callback.patience, callback.min_lr) == (
            "val_loss", PARAMETERS["drop_factor"], PARAMETERS["patience"],
            PARAMETERS["min_learning_rate"])


# -- saving --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCHEDULED)
@pytest.mark.parametrize("unit", UNITS)
def test_schedule_survives_serialization(kind, unit):
    schedule = make_learning_rate(_config(kind, unit), 4)
    # Through JSON text, as model.save writes it.
    text = json.dumps(keras.saving.serialize_keras_object(schedule))
    restored = keras.saving.deserialize_keras_object(json.loads(text))
    assert type(restored) is type(schedule)
    if unit == "epoch":
        assert type(restored.schedule) is type(schedule.schedule)
    assert np.array_equal(_evaluate(restored, range(21)), _evaluate(schedule, range(21)))


def test_saved_model_reloads_with_its_schedule(tmp_path):
    config, steps_per_epoch = _config("one_cycle", "epoch"), 4
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(make_learning_rate(config, steps_per_epoch)), loss="mse")
    model.fit(np.ones((8, 3)), np.ones((8, 1)), batch_size=2, epochs=2, verbose=0)  # 8 iterations
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == 8
    _assert_rates(float(ops.convert_to_numpy(loaded.optimizer.learning_rate)),
                  reference(config, steps_per_epoch, np.array([8]))[0])


def test_custom_schedules_serialize_under_the_cnnlab_package():
    assert keras.saving.get_registered_name(PerEpoch) == "cnnlab>PerEpoch"
    assert keras.saving.get_registered_name(LinearWarmup) == "cnnlab>LinearWarmup"


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda: make_learning_rate(_config("step"), 0), r"`steps_per_epoch`.*Received: steps_per_epoch=0"),
    (lambda: make_learning_rate(_config("step"), 2.5), r"Expected a whole number >= 1"),
    (lambda: preview(_config("step"), True), r"Received: steps_per_epoch=True"),
    # The config itself refuses a floor above the rate, so no schedule is ever built with one.
    (lambda: _config("cosine", min_learning_rate=0.5), r"`min_learning_rate` is above the learning rate.*Received: 0.5"),
    (lambda: _config("plateau", min_learning_rate=0.5), r"`min_learning_rate` is above the learning rate"),
    (lambda: LinearWarmup(0.1, 0), r"Invalid `warmup_steps`"),
])
def test_invalid_arguments_raise_keras_style_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- formula text --------------------------------------------------------------------------


@pytest.mark.parametrize("kind, unit, expected", [
    ("constant", "epoch", "η = 0.1"),
    ("time_based", "epoch", "η = 0.1 / (1 + 0.3·t), t in epochs"),
    ("step", "iteration", "η = 0.1 · 0.5^⌊t/2⌋, t in iterations"),
    ("exponential", "epoch", "η = 0.1 · e^(−0.3·t), t in epochs"),
    ("cosine", "epoch", "η = 0.002 + (0.1 − 0.002) · ½(1 + cos(π·t/T)), T = 5 epochs, t in epochs"),
    ("cosine", "iteration", ("η = 0.002 + (0.1 − 0.002) · ½(1 + cos(π·t/T)), "
                             "T = the iterations of 5 epochs, t in iterations")),
    ("warmup", "iteration", ("η = 0.1 · min(1, (t + 1)/W), W = the iterations of 1.5 epochs, "
                             "t in iterations")),
    ("plateau", "epoch", "η = 0.1, × 0.5 after 2 epochs without a lower val_loss (never below 0.002)"),
    ("one_cycle", "epoch", ("η rises from 0.1/25 to 0.1 over the first 30% of the run, then "
                            "falls along a cosine to 0.1/10⁴, t in epochs")),
])
def test_schedule_formula_states_the_config_numbers(kind, unit, expected):
    assert schedule_formula(_config(kind, unit)) == expected


# -- chart ---------------------------------------------------------------------------------


@pytest.mark.parametrize("log_y", [False, True])
def test_schedule_figure_draws_one_line_of_the_rates(log_y):
    epochs, rates = preview(_config("step", "epoch"), 4)
    figure = charts.schedule_figure(epochs, rates, title="Step decay", log_y=log_y)
    (trace,) = figure.data
    assert len(trace.x) == len(trace.y) == 20
    np.testing.assert_array_equal(trace.y, rates)
    assert figure.layout.xaxis.title.text == "epoch"
    assert figure.layout.yaxis.title.text == "learning rate"
    assert (figure.layout.yaxis.type == "log") is log_y
    assert figure.layout.title.text == "Step decay"


def test_schedule_figure_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="same length"):
        charts.schedule_figure(np.arange(3), np.ones(4))


def test_reference_itself_matches_hand_computed_values():
    # The reference is the trusted side of every test above, so check it on a few rates
    # worked out by hand from the lectures' formulas.
    hand = {
        ("time_based", 2): ETA0 / 1.6,
        ("step", 2): ETA0 * 0.5,
        ("exponential", 3): ETA0 * math.exp(-0.9),
        ("cosine", 5): 0.002,
        ("warmup", 0): ETA0 / 1.5,
        ("one_cycle", 0): ETA0 / 25,
        ("one_cycle", 2): ETA0,
    }
    for (kind, epoch), rate in hand.items():
        assert reference(_config(kind), 1, np.array([epoch]))[0] == pytest.approx(rate, rel=1e-12)


# Another value for each parameter, still valid under the defaults of PARAMETERS.
CHANGED = {"decay_rate": 0.7, "step_size": 3, "drop_factor": 0.25, "warmup_epochs": 3.0,
           "min_learning_rate": 0.02, "patience": 4}


def _plan(config: ExperimentConfig) -> tuple:
    """What a schedule does to training: the planned rates and the callbacks' settings."""
    _, rates = preview(config, steps_per_epoch=4)
    callbacks = [(type(callback).__name__, callback.factor, callback.patience, callback.min_lr)
                 for callback in schedule_callbacks(config)]
    return tuple(np.round(rates, 12)), tuple(callbacks)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_a_schedule_s_parameters_are_exactly_the_fields_it_reads(kind):
    """The form shows `ScheduleConfig.parameters`: each must change the plan, no other may."""
    base = _plan(_config(kind))
    read = {name for name in CHANGED if _plan(_config(kind, **{name: CHANGED[name]})) != base}
    assert read == set(ScheduleConfig(kind=kind).parameters)
