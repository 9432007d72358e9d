"""Learning-rate schedules: from a config to what the optimizer and the preview use.

Why one module: the optimizer, the callbacks and the form's preview must agree on the rate
at every iteration. They all start from `make_learning_rate`, so the curve a student sees
before training is computed by the very object that training evaluates.

Every schedule is a function of t, which counts epochs or iterations (`schedule.unit`).
Keras optimizers count iterations (batches) from 0; with unit "epoch" the schedule is
wrapped in `PerEpoch`, which holds the rate for a whole epoch, as in the lectures'
per-epoch schedules. Keras' own schedules are used wherever they express the formula
exactly; the small classes below cover what they cannot (and `ShiftedSchedule` carries a
schedule across the phases of a transfer run). All are registered with Keras, so a model
saved with `model.save` loads with its schedule.
"""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import ops

from cnnlab.config import SCHEDULES, ExperimentConfig

schedules = keras.optimizers.schedules

# One-cycle policy: the rate starts at eta0 / 25, reaches eta0 after this share of the run,
# then falls along a cosine to eta0 / 1e4 (the defaults of PyTorch's OneCycleLR).
ONE_CYCLE_WARMUP_SHARE = 0.3
ONE_CYCLE_START_DIVISOR = 25.0
ONE_CYCLE_END_DIVISOR = 1e4


@keras.saving.register_keras_serializable(package="cnnlab")
class PerEpoch(schedules.LearningRateSchedule):
    """Hold a schedule's rate for whole epochs: evaluate it at t = iteration // steps_per_epoch.

    Why: optimizers count batches, while per-epoch schedules change the rate only at epoch
    boundaries. Integer division keeps t exact for any run length, where Keras' float
    `staircase` would round for very long runs.

    Args:
        schedule: a LearningRateSchedule whose step is the epoch number (from 0).
        steps_per_epoch: batches in one epoch.
        name: the name scope of the computation (default "PerEpoch").
    """

    def __init__(self, schedule, steps_per_epoch: int, name: str = "PerEpoch"):
        super().__init__()
        self.schedule = schedule
        self.steps_per_epoch = int(steps_per_epoch)
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            epoch = ops.floor_divide(ops.cast(step, "int64"), self.steps_per_epoch)
            return self.schedule(epoch)

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="cnnlab")
class LinearWarmup(schedules.LearningRateSchedule):
    """Linear warm-up, then constant: rate(t) = learning_rate * min(1, (t + 1) / warmup_steps).

    Why (t + 1): the first step already moves the weights with learning_rate / warmup_steps,
    and the full rate is reached at step warmup_steps - 1, so no step is spent at rate 0
    (the gradual warm-up of Goyal et al., 2017, "Accurate, Large Minibatch SGD").
    `warmup_steps` may be fractional, so a warm-up of 1.5 epochs means exactly that.

    Args:
        learning_rate: the rate after the warm-up (eta0).
        warmup_steps: length of the warm-up in steps (> 0).
        name: the name scope of the computation (default "LinearWarmup").
    """

    def __init__(self, learning_rate: float, warmup_steps: float, name: str = "LinearWarmup"):
        super().__init__()
        if not warmup_steps > 0:
            raise ValueError(
                "Invalid `warmup_steps`. Expected a number > 0. "
                f"Received: warmup_steps={warmup_steps!r}. Use a positive warm-up length."
            )
        self.learning_rate = float(learning_rate)
        self.warmup_steps = float(warmup_steps)
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            learning_rate = ops.convert_to_tensor(self.learning_rate)
            dtype = learning_rate.dtype
            progress = (ops.cast(step, dtype) + 1.0) / ops.cast(self.warmup_steps, dtype)
            return learning_rate * ops.minimum(ops.cast(1.0, dtype), progress)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps,
                "name": self.name}


@keras.saving.register_keras_serializable(package="cnnlab")
class ShiftedSchedule(schedules.LearningRateSchedule):
    """A schedule read `offset` iterations later: `schedule(step + offset)`.

    Why: each phase of a transfer run (`cnnlab.training.transfer`) compiles a fresh
    optimizer, whose iteration count starts at 0 (a fresh Adam must, or its bias
    correction would be off), but the schedule should go on where the previous phase left it.

    Args:
        schedule: the LearningRateSchedule to shift.
        offset: iterations done before this phase.
    """

    def __init__(self, schedule, offset: int, name: str = "ShiftedSchedule"):
        super().__init__()
        self.schedule = schedule
        self.offset = int(offset)
        self.name = name

    def __call__(self, step):
        return self.schedule(keras.ops.add(step, self.offset))

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "offset": self.offset, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def make_learning_rate(config: ExperimentConfig, steps_per_epoch: int):
    """What to pass as the optimizer's `learning_rate`.

    A float for "constant" and "plateau": ReduceLROnPlateau can only change a rate held in
    a variable, never one computed by a schedule. Otherwise a LearningRateSchedule, which
    the optimizer evaluates at its iteration (the batch counter, from 0).

    Args:
        config: the experiment; `config.learning_rate` is eta0, `config.schedule` the rest.
        steps_per_epoch: batches in one epoch, which converts epochs into iterations.
    """
    steps_per_epoch = _check_steps_per_epoch(steps_per_epoch)
    schedule = config.schedule
    eta0 = float(config.learning_rate)
    per_epoch = schedule.unit == "epoch"
    # The run's length and the warm-up's length in the unit of t.
    total = config.epochs if per_epoch else config.epochs * steps_per_epoch
    warmup = schedule.warmup_epochs if per_epoch else schedule.warmup_epochs * steps_per_epoch

    if schedule.kind in ("constant", "plateau"):
        return eta0
    if schedule.kind == "time_based":
        # eta0 / (1 + k * t), with t / decay_steps = t.
        inner = schedules.InverseTimeDecay(eta0, decay_steps=1, decay_rate=schedule.decay_rate)
    elif schedule.kind == "step":
        # eta0 * drop ** floor(t / step_size): the staircase of ExponentialDecay.
        inner = schedules.ExponentialDecay(eta0, decay_steps=schedule.step_size,
                                           decay_rate=schedule.drop_factor, staircase=True)
    elif schedule.kind == "exponential":
        # eta0 * exp(-k t) = eta0 * (1/e) ** (t / (1/k)): the rate falls by a factor e every
        # 1/k units. Written with base 1/e, not exp(-k) ** t, because exp(-k) rounded to
        # float32 loses the small k of per-iteration decay (1e-4 relative after 10^4 steps).
        if schedule.decay_rate == 0:
            inner = schedules.ExponentialDecay(eta0, decay_steps=1, decay_rate=1.0)
        else:
            inner = schedules.ExponentialDecay(eta0, decay_steps=1.0 / schedule.decay_rate,
                                               decay_rate=math.exp(-1.0))
    elif schedule.kind == "cosine":
        inner = schedules.CosineDecay(eta0, decay_steps=total,
                                      alpha=schedule.min_learning_rate / eta0)
    elif schedule.kind == "warmup":
        inner = LinearWarmup(eta0, warmup_steps=warmup)
    elif schedule.kind == "one_cycle":
        # Keras' CosineDecay with its linear warm-up is the one-cycle policy exactly: up
        # from initial_learning_rate to warmup_target, then a cosine from warmup_target down
        # to alpha * warmup_target.
        rise = round(ONE_CYCLE_WARMUP_SHARE * total)
        inner = schedules.CosineDecay(
            eta0 / ONE_CYCLE_START_DIVISOR, decay_steps=total - rise,
            alpha=1.0 / ONE_CYCLE_END_DIVISOR, warmup_target=eta0, warmup_steps=rise,
        )
    else:
        raise ValueError(
            f"Unknown schedule `kind`. Expected one of {list(SCHEDULES)}. Received: {schedule.kind!r}. "
            "Choose one of the listed kinds."
        )
    return PerEpoch(inner, steps_per_epoch) if per_epoch else inner


def schedule_callbacks(config: ExperimentConfig) -> list[keras.callbacks.Callback]:
    """The callbacks a schedule needs: ReduceLROnPlateau for "plateau", none otherwise.

    Why a callback: the plateau schedule depends on the validation loss, which only the
    training loop knows. It changes the optimizer's rate variable at an epoch's end.
    """
    schedule = config.schedule
    if schedule.kind != "plateau":
        return []
    return [keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=schedule.drop_factor, patience=schedule.patience,
        min_lr=schedule.min_learning_rate,
    )]


def preview(config: ExperimentConfig, steps_per_epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The planned learning rate at every iteration of the run, before training.

    Why the same object: the rates come from `make_learning_rate`, evaluated as the
    optimizer evaluates it, so the preview cannot drift from training. For "plateau" the
    curve is the constant eta0: its drops happen only when the validation loss stops
    improving, which no one can know before training.

    Args:
        config: the experiment.
        steps_per_epoch: batches in one epoch.

    Returns:
        (epochs, rates), both of length epochs * steps_per_epoch. Iteration i sits at epoch
        position (i + 1) / steps_per_epoch: the batch that ends epoch e is at e, as in
        `charts.training_curves`. The rates are the float32 values the optimizer uses.
    """
    steps_per_epoch = _check_steps_per_epoch(steps_per_epoch)
    learning_rate = make_learning_rate(config, steps_per_epoch)
    count = config.epochs * steps_per_epoch
    if isinstance(learning_rate, schedules.LearningRateSchedule):
        # vectorized_map evaluates the schedule one iteration at a time, as the optimizer
        # does (CosineDecay's warm-up branches on a scalar step), in one batched graph.
        iterations = ops.arange(count, dtype="int64")
        rates = ops.convert_to_numpy(ops.vectorized_map(learning_rate, iterations))
    else:
        rates = np.full(count, learning_rate, dtype=np.float32)
    epochs = (np.arange(count, dtype=np.float64) + 1.0) / steps_per_epoch
    return epochs, rates.astype(np.float64)


def schedule_formula(config: ExperimentConfig) -> str:
    """The schedule as a short plain-text formula for the form, with the config's numbers.

    Why plain text: it reads the same in a tooltip, a caption and the CLI.
    """
    schedule = config.schedule
    eta0 = f"{config.learning_rate:g}"
    unit = "epochs" if schedule.unit == "epoch" else "iterations"
    over = f"t in {unit}"
    k, drop = f"{schedule.decay_rate:g}", f"{schedule.drop_factor:g}"
    floor = f"{schedule.min_learning_rate:g}"
    run = f"{config.epochs} epochs" if schedule.unit == "epoch" else \
        f"the iterations of {config.epochs} epochs"
    warmup = f"{schedule.warmup_epochs:g} epochs" if schedule.unit == "epoch" else \
        f"the iterations of {schedule.warmup_epochs:g} epochs"
    formulas = {
        "constant": f"η = {eta0}",
        "time_based": f"η = {eta0} / (1 + {k}·t), {over}",
        "step": f"η = {eta0} · {drop}^⌊t/{schedule.step_size}⌋, {over}",
        "exponential": f"η = {eta0} · e^(−{k}·t), {over}",
        "cosine": f"η = {floor} + ({eta0} − {floor}) · ½(1 + cos(π·t/T)), T = {run}, {over}",
        "warmup": f"η = {eta0} · min(1, (t + 1)/W), W = {warmup}, {over}",
        "plateau": f"η = {eta0}, × {drop} after {schedule.patience} epochs without a lower "
                   f"val_loss (never below {floor})",
        "one_cycle": f"η rises from {eta0}/25 to {eta0} over the first 30% of the run, then "
                     f"falls along a cosine to {eta0}/10⁴, {over}",
    }
    if schedule.kind not in formulas:
        raise ValueError(
            f"Unknown schedule `kind`. Expected one of {list(SCHEDULES)}. Received: {schedule.kind!r}. "
            "Choose one of the listed kinds."
        )
    return formulas[schedule.kind]


# -- checks ------------------------------------------------------------------------------


def _check_steps_per_epoch(steps_per_epoch) -> int:
    if (isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, numbers.Integral)
            or steps_per_epoch < 1):
        raise ValueError(
            "Invalid `steps_per_epoch`. Expected a whole number >= 1 (batches in one epoch). "
            f"Received: steps_per_epoch={steps_per_epoch!r}. Pass ceil(train images / batch size)."
        )
    return int(steps_per_epoch)
