"""Plain-language health alerts, each with the lectures' remedy, from a run's stored figures.

Pure functions of a RunHistory's tables: the Train page shows them live, the Compare page
and the CLI can show them for finished runs. They come ordered by likely cause, and an
alert that names a cause takes in the symptoms that follow from it: a learning rate far
too high kills the ReLUs and zeroes the first layer's gradient, so under "learning rate
too high" the page does not also say "vanishing gradients" and "dead ReLUs" (the cause's
detail mentions them instead); wrong batch-norm statistics make the probe's ReLUs look
dead and validation look like overfitting, so under "validation at chance" neither is
shown on its own.

Every threshold is measured, on real runs of the lab on the 2-core development CPU
(digits unless said otherwise, the small convnet, 6 epochs, seeds 0-2 or more; the
figures are in each constant's comment, and `benchmarks/alert_thresholds.py` prints them
again). "Skill" is accuracy rescaled so that chance (1 / classes) is 0 and 100% is 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Re-exported, so that every alert and threshold has one address: cnnlab.analysis.alerts.
from cnnlab.analysis.gradient_alerts import (
    DEAD_FRACTION,
    EXPLODING_GROWTH,
    EXPLODING_RATIO,
    VANISHING_RATIO,
    WINDOW,
    Alert,
    dead_relus,
    exploding,
    first_to_last_ratio,
    vanishing,
)

__all__ = [
    "CHANCE_SKILL", "DEAD_FRACTION", "EXPLODING_GROWTH", "EXPLODING_RATIO", "LOSS_EXPLOSION",
    "OVERFITTING_EPOCHS", "OVERFITTING_GAP", "OVERFITTING_LARGE_GAP", "TRAINED_SKILL",
    "VALIDATION_CHANCE_SKILL", "VANISHING_RATIO", "WINDOW", "Alert", "chance_accuracy",
    "first_to_last_ratio", "health_alerts", "skill",
]

OVERFITTING_EPOCHS = 3  # validation loss rising while training loss falls, epochs in a row
# A batch loss this many times the loss at the start (the first batch's, or ln(classes),
# a uniform guess, if larger) means the steps are too large. The peak over the start was
# 1.0-1.4 in healthy runs without batch norm (Adam 1e-3, SGD 0.01-0.1, deep sigmoid
# networks), up to 5.9 with it (SGD at 0.1, Adam at 5e-3: 3.1-8.0, learning); 53 to 1e11
# under Adam at 0.03 to 1 and RMSprop at 0.1 (always at the second step), 12-36 under SGD
# at 0.3 with batch norm, whose validation accuracy then swings 40 points between epochs.
# Adam at 0.01 without batch norm peaked at 1.5-6.6 (the stall rule below catches it).
LOSS_EXPLOSION = 10.0
# A run stuck at chance with its ReLUs dead is blamed on the learning rate only if the rate
# is at least this many times the optimizer's usual one: a stall alone does not tell the
# cause. SGD at 1 (100x) stalled in 3 seeds of 3 with 91-100% of a layer dead, SGD at 0.3
# (30x) in 2 of 3, Adam at 0.01 (10x) in 1 of 3 (3 of 3 on 16-pixel digits); but the
# plain 20-layer network at Adam's usual 1e-3 stalled too, with 72-84% dead, from its depth.
LEARNING_RATE_FACTOR = 10.0
# Keras' defaults, the lectures' starting points; Adadelta's is its paper's 1.0.
USUAL_LEARNING_RATES = {"sgd": 0.01, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3,
                        "adagrad": 1e-3, "adadelta": 1.0, "adamax": 1e-3, "nadam": 1e-3}
# Training accuracy at or below this skill counts as chance. Runs stuck at chance had
# skill -0.03 to 0.06 (digits, up to 15.7% with 10 classes); the default experiment had
# 0.43-0.50 after its first epoch.
CHANCE_SKILL = 0.1
# Validation at chance while training is at least this skilled: "validation at chance".
# Batch norm with Keras' momentum 0.99 on the default experiment: training 99.6% (skill
# 0.996), validation 9.7-22.9% (skill <= 0.14) at every epoch past the first, 5 seeds;
# healthy runs' validation skill was above 0.7 by their second epoch.
TRAINED_SKILL = 0.5
VALIDATION_CHANCE_SKILL = 0.15
# Overfitting by the train-validation accuracy gap (the mean of the last two epochs): at
# least OVERFITTING_GAP and widening (a positive least-squares slope over the last
# GAP_TREND_EPOCHS epochs), or at least OVERFITTING_LARGE_GAP whatever its trend. Healthy
# runs: the default experiment's gap stayed under 5 points (5 seeds), shapes with batch
# norm 5-9. The ants-and-bees photos (155 training images, 64 pixels, 30 epochs) ended 27
# to 46 points apart without regularization (six seeds), the case the rising-validation-
# loss rule caught in only some runs; with dropout 0.5 and augmentation -1 to 12 in three
# seeds, 14 to 20 in one and 18 to 34 in two (validation 46-56%: overfitting all the same).
# Ten digits (one a class) ended 30-38 apart. A 39-image validation set alone moves the
# two-epoch gap by about 6 points.
OVERFITTING_GAP = 0.15
OVERFITTING_LARGE_GAP = 0.25
GAP_TREND_EPOCHS = 5
# A slope under a tenth of a point an epoch is flat: least squares over a steady gap gives
# +-1e-17, whose sign depends on the numpy build (a steady 20-point gap once read as widening).
GAP_FLAT_SLOPE = 0.001


def health_alerts(history, *, status: str | None = None, config: dict | None = None) -> list[Alert]:
    """Every alert that the run's figures so far support, the likeliest cause first.

    Args:
        history: a RunHistory (or anything with `epochs`, `batches` and `layer_table`).
        status: the run's stored status; "diverged" adds the divergence alert.
        config: the run's config as a dict (`RunRecord.config`). It gives the number of
            classes, and so chance; without it the alerts that need chance stay silent.
    """
    config = config or {}
    chance = chance_accuracy(config)
    grads = history.layer_table("grad_norm")
    symptoms = [alert for alert in (exploding(grads, _finite(history.batches, "loss")),
                                    vanishing(grads),
                                    dead_relus(history.layer_table("dead_fraction")))
                if alert is not None]
    diverged = _diverged(history.batches, status)
    rate = None if diverged else _learning_rate_too_high(history, chance, symptoms, config)
    cause = diverged or rate
    if cause is not None:  # the gradient symptoms follow from the steps being too large
        cause = _taking_in(cause, symptoms)
        return [cause]
    overfitting = [alert for alert in (_overfitting(history.epochs),) if alert is not None]
    at_chance = _validation_at_chance(history.epochs, chance, config)
    if at_chance is None:
        return overfitting + symptoms
    # The probe that counts dead ReLUs runs on the same moving statistics as validation.
    dead = [alert for alert in symptoms if alert.kind == "dead_relu"]
    others = [alert for alert in symptoms if alert.kind != "dead_relu"]
    return [_taking_in(at_chance, dead + overfitting)] + others


def chance_accuracy(config: dict) -> float | None:
    """1 / the number of classes of the config's data set; None if it is not known."""
    from cnnlab.data.registry import get_info

    try:
        classes = get_info(config.get("dataset", "")).num_classes
    except ValueError:  # an imported data set deleted since, or no config
        return None
    return 1.0 / classes if classes > 1 else None


def skill(accuracy: float, chance: float) -> float:
    """Accuracy rescaled so that chance is 0 and a perfect score 1."""
    return (accuracy - chance) / (1.0 - chance)


def _taking_in(cause: Alert, symptoms: list[Alert]) -> Alert:
    """`cause` with the symptoms it explains named in its detail and `explains`."""
    if not symptoms:
        return cause
    unnamed = [alert.brief for alert in symptoms if alert.brief not in cause.detail]
    detail = cause.detail
    if unnamed:
        detail += f" This also explains the other signs ({'; '.join(unnamed)})."
    return Alert(cause.kind, cause.title, detail, cause.remedy,
                 cause.explains + tuple(alert.kind for alert in symptoms), cause.brief)


# -- causes ------------------------------------------------------------------------------


def _learning_rate_too_high(history, chance: float | None, symptoms: list[Alert],
                            config: dict) -> Alert | None:
    """The loss jumped far above its start, or training stalls at chance with its ReLUs dead
    at a rate far above the optimizer's usual one."""
    loss = _finite(history.batches, "loss")
    if loss.empty:
        return None
    start = float(loss.iloc[0])
    if chance is not None:
        start = max(start, math.log(1.0 / chance))
    peak_at = loss.idxmax()
    peak = float(loss.loc[peak_at])
    if peak >= LOSS_EXPLOSION * start:
        detail = (f"The training loss jumped to {_amount(peak)} at epoch {peak_at[0]}, step "
                  f"{peak_at[1]}, {_amount(peak / start)} times its {start:.3g} at the start: "
                  "each step overshoots the minimum by so much that the loss climbs "
                  "instead of falling.")
    else:
        stalled = _stalled_at_chance(history.epochs, chance)
        dead = next((a for a in symptoms if a.kind == "dead_relu"), None)
        usual = USUAL_LEARNING_RATES.get(config.get("optimizer"))
        rate = config.get("learning_rate")
        if stalled is None or dead is None or not usual or not rate:
            return None
        if rate < LEARNING_RATE_FACTOR * usual:
            return None
        detail = (f"After {_epochs(stalled[0])} the training accuracy is {stalled[1]:.1%}, "
                  f"chance for {round(1 / chance)} classes, and {dead.brief}, at a learning "
                  f"rate of {rate:g}, {_amount(rate / usual)} times {config['optimizer']}'s usual "
                  f"{usual:g}: large steps pushed the units' inputs below zero for every "
                  "image, where they get no gradient, so the network stopped learning.")
    usual = USUAL_LEARNING_RATES.get(config.get("optimizer"))
    rate = config.get("learning_rate")
    if usual and rate and rate > usual:
        start_from = (f"This run's {rate:g} is {_amount(rate / usual)} times {config['optimizer']}'s "
                      f"usual {usual:g}: train again from the usual rate, then raise it step by "
                      "step while the loss still falls")
    else:
        start_from = "Lower the learning rate 10x and train again"
    return Alert("learning_rate", "Learning rate too high", detail,
                 f"{start_from}; a warm-up schedule, gradient clipping or batch normalization "
                 "make larger rates safer.")


def _stalled_at_chance(epochs: pd.DataFrame, chance: float | None) -> tuple[int, float] | None:
    """(epochs trained, training accuracy) if the latest epoch's accuracy is at chance."""
    if chance is None or "accuracy" not in epochs:
        return None
    accuracy = epochs["accuracy"].dropna()
    if accuracy.empty or skill(float(accuracy.iloc[-1]), chance) > CHANCE_SKILL:
        return None
    return int(accuracy.index[-1]), float(accuracy.iloc[-1])


def _diverged(batches: pd.DataFrame, status: str | None) -> Alert | None:
    loss = batches["loss"] if "loss" in batches else pd.Series(dtype="float64")
    bad = loss[~np.isfinite(loss.to_numpy(dtype="float64", na_value=math.nan))]
    if status != "diverged" and bad.empty:
        return None
    where = f" at epoch {bad.index[0][0]}, step {bad.index[0][1]}" if not bad.empty else ""
    return Alert("diverged", "Training diverged",
                 f"The loss became NaN or infinite{where}: the weights overflowed, almost "
                 "always because the learning rate is too high.",
                 "Lower the learning rate (try 10x smaller), clip gradients, or add batch "
                 "normalization.")


def _validation_at_chance(epochs: pd.DataFrame, chance: float | None, config: dict) -> Alert | None:
    if chance is None or not {"accuracy", "val_accuracy"} <= set(epochs.columns):
        return None
    latest = epochs[["accuracy", "val_accuracy"]].dropna()
    if latest.empty:
        return None
    epoch = int(latest.index[-1])
    train, val = (float(value) for value in latest.iloc[-1])
    if skill(train, chance) < TRAINED_SKILL or skill(val, chance) > VALIDATION_CHANCE_SKILL:
        return None
    causes, remedies = [], []
    if _batch_norm_learns(config):
        momentum = (config.get("tricks") or {}).get("batch_norm_momentum")
        why = ""
        if momentum is not None:
            why = f" (momentum {momentum:g}" + (
                ": close to 1, they follow too slowly for a short run)" if momentum >= 0.9 else ")")
        causes.append("batch normalization's moving mean and variance, which validation uses "
                      "instead of each batch's own, have not caught up with the training "
                      f"batches{why}")
        remedies.append("lower batch norm's momentum (0.5 follows the last few batches) or "
                        "train longer")
    causes += ["a training set so small that the network memorized it",
               "the validation images differ from the training images, or their labels do "
               "not match (a data split or label problem)"]
    remedies += ["give the network more training images, or regularize it (dropout, "
                 "augmentation)", "check that the validation split and the labels come from "
                 "the same data"]
    listed = "; ".join(f"({number}) {cause}" for number, cause in enumerate(causes, start=1))
    remedy = "; ".join(remedies)
    return Alert(
        "chance", "Validation at chance while training learns",
        f"At epoch {epoch} the training accuracy is {train:.1%} but the validation accuracy "
        f"is {val:.1%}, chance for {round(1 / chance)} classes. Likely causes: {listed}.",
        remedy[0].upper() + remedy[1:] + ".",
        brief=f"validation accuracy {val:.1%} at chance",
    )


def _batch_norm_learns(config: dict) -> bool:
    """Whether the run has BN layers that train: the trick's, or a backbone's with random
    weights (with ImageNet weights they stay frozen, in inference mode)."""
    tricks = config.get("tricks") or {}
    if tricks.get("batch_norm") or tricks.get("batch_norm_dense"):
        return True
    backbone = str(config.get("architecture", "")).startswith("pretrained_")
    return backbone and (config.get("transfer") or {}).get("weights") == "random"


def _overfitting(epochs: pd.DataFrame) -> Alert | None:
    """A large train-validation accuracy gap that is not closing, or validation loss rising."""
    gap = _accuracy_gap(epochs)
    if gap is not None:
        return gap
    if not {"loss", "val_loss"} <= set(epochs.columns):
        return None
    recent = epochs[["loss", "val_loss"]].dropna().tail(OVERFITTING_EPOCHS + 1)
    if len(recent) < OVERFITTING_EPOCHS + 1:
        return None
    change = recent.diff().iloc[1:]
    if not ((change["val_loss"] > 0).all() and (change["loss"] < 0).all()):
        return None
    best = int(epochs["val_loss"].idxmin())
    return Alert(
        "overfitting", "Overfitting",
        f"Validation loss has risen for {OVERFITTING_EPOCHS} epochs while training loss "
        f"fell; it was lowest at epoch {best}. The network is memorizing the training set.",
        _OVERFITTING_REMEDY,
        brief=f"validation loss rising for {OVERFITTING_EPOCHS} epochs",
    )


_OVERFITTING_REMEDY = ("Add dropout, L2 regularization or data augmentation, use more data, "
                       "or stop early (early stopping with restore best weights).")


def _accuracy_gap(epochs: pd.DataFrame) -> Alert | None:
    if not {"accuracy", "val_accuracy"} <= set(epochs.columns):
        return None
    table = epochs[["accuracy", "val_accuracy"]].dropna()
    if len(table) < 2:
        return None
    gaps = table["accuracy"] - table["val_accuracy"]
    # Two epochs' mean: a validation set of a few dozen images moves several points an epoch.
    gap = float(gaps.tail(2).mean())
    recent = gaps.tail(GAP_TREND_EPOCHS)
    trend = float(np.polyfit(recent.index.to_numpy(dtype="float64"), recent.to_numpy(), 1)[0])
    widening = trend > GAP_FLAT_SLOPE
    if gap < OVERFITTING_GAP or (gap < OVERFITTING_LARGE_GAP and not widening):
        return None
    train, val = table["accuracy"].tail(2).mean(), table["val_accuracy"].tail(2).mean()
    how = ("and widening" if widening else "and not closing")
    return Alert(
        "overfitting", "Overfitting",
        f"The training accuracy is {gap * 100:.0f} points above the validation accuracy "
        f"({train:.1%} against {val:.1%}, the mean of the last two epochs), {how} "
        f"({trend * 100:+.1f} points an epoch over the last {len(recent)} epochs): the "
        "network is memorizing the training set instead of learning what generalizes.",
        _OVERFITTING_REMEDY,
        brief=f"training accuracy {gap * 100:.0f} points above validation",
    )


def _amount(value: float) -> str:
    """2.5, 12,534 or 2.5e+10: a number a student can read."""
    if value < 10:
        return f"{value:.2g}"
    return f"{value:,.0f}" if value < 1e6 else f"{value:.1e}"


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def _finite(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table:
        return pd.Series(dtype="float64")
    values = table[column].astype("float64")
    return values[np.isfinite(values.to_numpy())]
