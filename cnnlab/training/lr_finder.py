"""The learning-rate finder: Leslie Smith's range test, as fast.ai's `lr_find` made it known.

Why: the learning rate matters more than any other setting, and the lectures' advice
("about right") needs a number. One short run raises the rate exponentially every batch,
from 1e-7 to 10, over about one epoch (at least `MIN_STEPS` batches, so the curve has
points enough); the loss first stays flat (too small to move), then falls, then explodes.
The run stops once the smoothed loss passes 4 times its minimum (or is not finite), and
the model's weights are put back as they were: the finder never trains the run, and never
changes a config by itself (the Train page offers its suggestion with a button).

Suggestion (on the smoothed curve, the one drawn):
    steepest descent: the rate where the smoothed loss falls fastest against log10(rate),
        looked for before the minimum;
    minimum / 10: a tenth of the rate at the smoothed loss's minimum.
The smaller (more cautious) of the two is suggested, with the rule that gave it.
Smith, "Cyclical Learning Rates for Training Neural Networks" (2017), section 3.3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

START_LEARNING_RATE = 1e-7
END_LEARNING_RATE = 10.0
MIN_STEPS = 100
# The smoothed loss this many times its minimum so far ends the test: the rate is too high.
DIVERGENCE_FACTOR = 4.0
# Exponential smoothing of the batch losses, bias-corrected (fast.ai's 0.98).
SMOOTHING = 0.98
# Points left out at the start when looking for the steepest descent: the bias-corrected
# average of a few batches is too noisy to differentiate.
SKIP_START = 5
STEEPEST = "steepest descent"
MINIMUM_OVER_10 = "minimum / 10"
# Metric names of a finder run's rows in the store (epoch 0, step = batch index).
LR_METRIC = "lr_find_learning_rate"
LOSS_METRIC = "lr_find_loss"


def finder_steps(steps_per_epoch: int) -> int:
    """Batches the test takes: one epoch, but never fewer than `MIN_STEPS`."""
    return max(int(steps_per_epoch), MIN_STEPS)


def learning_rates(steps: int, start: float = START_LEARNING_RATE, end: float = END_LEARNING_RATE) -> np.ndarray:
    """The rate of each batch: exponential, each one (end / start) ** (1 / (steps - 1)) times the last."""
    if steps < 2:
        raise ValueError(f"Invalid `steps`. Expected at least 2. Received: {steps!r}.")
    if not 0 < start < end:
        raise ValueError(f"Invalid range. Expected 0 < start < end. Received: start={start!r}, end={end!r}.")
    return start * (end / start) ** (np.arange(steps) / (steps - 1))


def smooth(losses, beta: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average: a_i = beta a_(i-1) + (1 - beta) x_i, / (1 - beta^(i+1))."""
    losses = np.asarray(losses, np.float64)
    smoothed, average = np.empty_like(losses), 0.0
    for index, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed[index] = average / (1 - beta ** (index + 1))
    return smoothed


def exploded(smoothed: float, best: float) -> bool:
    """Whether the test should stop: the smoothed loss is not finite, or past 4x its minimum."""
    return not math.isfinite(smoothed) or smoothed > DIVERGENCE_FACTOR * best


@dataclass(frozen=True)
class Suggestion:
    """The finder's answer.

    Args:
        learning_rate: the suggested rate, the smaller of the two below.
        rule: which rule gave it, `STEEPEST` or `MINIMUM_OVER_10`.
        steepest: the rate of steepest descent of the smoothed loss.
        minimum_over_10: a tenth of the rate at the smoothed loss's minimum.
        descent: how far the smoothed loss fell before its minimum, as a fraction of where
            it started (0.3: by 30%).
    """

    learning_rate: float
    rule: str
    steepest: float
    minimum_over_10: float
    descent: float

    @property
    def clear(self) -> bool:
        """Whether the curve fell enough to read: below `MIN_DESCENT` it is mostly noise
        (plain SGD with small batches hardly moves the loss in 100 batches), and the rules
        pick a noise dip."""
        return self.descent >= MIN_DESCENT


# The least fall of the smoothed loss (a fraction of its start) that makes a readable curve.
# Measured (README): Adam on 16 px digits falls 2.7% within the test's 100 batches (the
# 0.98 smoothing lags the raw loss, which fell 25%); plain SGD with batches of 8 (Lessons,
# "Learning rate") 0.02 to 0.2%, where the rules pick noise.
MIN_DESCENT = 0.02


def suggest(rates, smoothed) -> Suggestion:
    """The suggested rate for a smoothed loss curve (see the module docstring for the rules).

    The first `SKIP_START` points, where the bias-corrected average rests on a few batches,
    are left out of both rules.
    """
    rates, smoothed = np.asarray(rates, np.float64), np.asarray(smoothed, np.float64)
    finite = np.isfinite(smoothed)
    if rates.shape != smoothed.shape or finite.sum() < 3:
        raise ValueError("Cannot suggest a learning rate. Expected at least 3 finite losses, one per "
                         f"rate. Received {finite.sum()} finite losses for {rates.size} rates. "
                         "Run the finder on more batches.")
    rates, smoothed = rates[finite], smoothed[finite]
    start = min(SKIP_START, len(smoothed) - 3)
    lowest = start + int(np.argmin(smoothed[start:]))
    minimum_over_10 = float(rates[lowest] / 10)
    window = slice(start, max(lowest + 1, start + 2))
    slopes = np.gradient(smoothed, np.log10(rates))[window]
    steepest = float(rates[window][int(np.argmin(slopes))])
    first = smoothed[start]
    descent = float((first - smoothed[lowest]) / first) if first > 0 else 0.0
    if steepest <= minimum_over_10:
        return Suggestion(steepest, STEEPEST, steepest, minimum_over_10, descent)
    return Suggestion(minimum_over_10, MINIMUM_OVER_10, steepest, minimum_over_10, descent)


def find_learning_rate(model, train, steps: int, *, on_batch=None, stop_event=None) -> tuple[np.ndarray, np.ndarray]:
    """Run the range test on a compiled `model`; return the rates and the batch losses seen.

    The weights are saved before and put back after, whatever happens; the optimizer's
    state (Adam's moments) is left as the test made it, which a caller that trains next
    must reset by compiling again (a run of its own does).

    Args:
        model: a compiled Keras model whose optimizer has a variable learning rate.
        train: a batched tf.data.Dataset (or anything `fit` takes) of one epoch.
        steps: batches to take (`finder_steps`); the data set is repeated to reach them.
        on_batch: called as on_batch(index, rate, loss) after each batch; defaults to None.
        stop_event: a threading.Event that stops the test after the current batch.
    """
    import keras

    rates = learning_rates(steps)
    seen_rates: list[float] = []
    losses: list[float] = []

    class RangeTest(keras.callbacks.Callback):
        best = math.inf
        average = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(float(rates[len(losses)]))
            # Keras logs the epoch's running mean; emptied before each batch, it is the batch's own.
            self.model.reset_metrics()

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", math.nan))
            index = len(losses)
            seen_rates.append(float(rates[index]))
            losses.append(loss)
            if on_batch is not None:
                on_batch(index, float(rates[index]), loss)
            self.average = SMOOTHING * self.average + (1 - SMOOTHING) * loss
            smoothed = self.average / (1 - SMOOTHING ** (index + 1))
            self.best = min(self.best, smoothed)
            stop = stop_event is not None and stop_event.is_set()
            if len(losses) >= steps or stop or exploded(smoothed, self.best):
                self.model.stop_training = True

    weights = [np.array(w) for w in model.get_weights()]
    try:
        per_epoch = getattr(train, "cardinality", lambda: None)()
        per_epoch = int(per_epoch) if per_epoch is not None and int(per_epoch) > 0 else steps
        epochs = math.ceil(steps / per_epoch)
        data = train.repeat(epochs) if hasattr(train, "repeat") else train
        model.fit(data, epochs=1, steps_per_epoch=min(steps, per_epoch * epochs), verbose=0, shuffle=False,
                  callbacks=[RangeTest()])
    finally:
        model.set_weights(weights)
    return np.array(seen_rates), np.array(losses)


def run_finder(store, run_id: str, config, stop_event, tell_stage) -> tuple[str, dict, str | None]:
    """A finder run (`config.kind == "lr_find"`) from data to suggestion, as `job._train` runs a
    training: returns (status, final metrics, error). Its curve goes to the store as rows
    `LR_METRIC` and `LOSS_METRIC` (epoch 0, step = batch); the suggestion to the final
    metrics. No model is saved: the weights end as they began.

    Args:
        tell_stage: records a progress dict for the run (`job._tell_stage`).
    """
    import keras

    from cnnlab.augment.pipeline import make_training_dataset
    from cnnlab.data import load_dataset
    from cnnlab.training.seeding import seed_lock
    from cnnlab.training.train_step import compile_for_training, wrap
    from cnnlab.training.transfer import build_run_model, phase_config

    tell_stage({"stage": "loading_data"})
    data = load_dataset(config.dataset, image_size=config.image_size, train_size=config.train_size,
                        validation_fraction=config.validation_fraction, seed=config.seed)
    steps = finder_steps(math.ceil(len(data.x_train) / config.batch_size))
    tell_stage({"stage": "building_model"})
    with seed_lock:
        keras.utils.set_random_seed(config.seed)
        built, phases = build_run_model(config, data, store)
        model = wrap(built)
        train = make_training_dataset(
            data.x_train, data.y_train, num_classes=data.num_classes, batch_size=config.batch_size,
            augmentation=config.augmentation, seed=config.seed)
    if stop_event.is_set():
        return "stopped", {}, None
    phases[0].apply(model)  # a transfer run's first phase: the frozen base stays frozen
    compile_for_training(model, phase_config(config, phases[0]), START_LEARNING_RATE)
    rows: list[tuple[int, int, str, float]] = []

    def on_batch(index, rate, loss):
        rows.extend([(0, index, LR_METRIC, rate), (0, index, LOSS_METRIC, loss)])
        if len(rows) >= 20 or index + 1 == steps:
            store.add_metrics_and_progress(run_id, rows, {
                "stage": "finding_lr", "step": index + 1, "steps": steps, "fraction": (index + 1) / steps})
            rows.clear()

    tell_stage({"stage": "finding_lr", "step": 0, "steps": steps, "fraction": 0.0})
    rates, losses = find_learning_rate(model, train, steps, on_batch=on_batch, stop_event=stop_event)
    if rows:
        store.add_metrics(run_id, rows)
    if stop_event.is_set():
        return "stopped", {}, None
    suggestion = suggest(rates, smooth(losses))
    final = {"lr_find_suggestion": suggestion.learning_rate, "lr_find_steepest": suggestion.steepest,
             "lr_find_minimum_over_10": suggestion.minimum_over_10, "lr_find_batches": len(losses),
             "lr_find_descent": suggestion.descent,
             "lr_find_last_rate": float(rates[-1])}
    return "completed", final, None


def stored_curve(store, run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A finder run's (rates, batch losses), from its rows in the store, in batch order."""
    by_step: dict[int, dict[str, float]] = {}
    for row in store.metrics(run_id, names=(LR_METRIC, LOSS_METRIC)):
        by_step.setdefault(row.step, {})[row.name] = row.value
    steps = sorted(step for step, values in by_step.items() if len(values) == 2)
    return (np.array([by_step[s][LR_METRIC] for s in steps], np.float64),
            np.array([by_step[s][LOSS_METRIC] if by_step[s][LOSS_METRIC] is not None else np.nan
                      for s in steps], np.float64))
