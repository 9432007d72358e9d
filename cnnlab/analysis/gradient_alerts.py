"""Alerts about the gradients and the units: vanishing, exploding, dead ReLUs.

They are symptoms: `cnnlab.analysis.alerts` shows them on their own, or inside the alert of the
cause they follow from (a learning rate far too high kills the ReLUs and zeroes the first
layer's gradient). Here also lives `Alert`, the type every alert is.

Vanishing gradients: the lectures' measure is how much smaller the first layer's gradient
is than the last's. On `deep_plain` (ten weight layers) trained on digits, the median
first-to-last ratio of kernel-gradient norms was 2e-7 to 3e-6 for sigmoid with Glorot
weights, 3e-3 to 1.6e-2 for sigmoid with N(0, 1) weights (under Adam and SGD, several
seeds), and 0.2 to 3 for ReLU with He weights, with batch norm or without. A first layer's
kernel gradient sums over every position of its feature map, which keeps it larger than a
dense layer's, so the 1e-3 often quoted for dense networks would miss the N(0, 1) case;
`VANISHING_RATIO` = 0.05 sits a factor three or more from both sides. The ratio must hold
as a median over `WINDOW` recorded steps, so one noisy batch neither raises nor clears an
alert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

VANISHING_RATIO = 0.05
# First-layer gradients this many times the last layer's, or any layer's gradient growing
# this many times over the run, count as exploding. The median first-to-last ratio was
# 0.2-3 in healthy runs on digits and shapes, up to 9 on 64-pixel photos and 14 on 128-pixel
# ones (a first layer's gradient sums over every position of its map); 1.2e8-1.9e8 in the
# plain 20-layer network with tanh and N(0, 1) weights, 1.8e4-2.9e4 in VGG-11 with them.
# The ten-layer deep_plain with tanh and N(0, 1) reached 20-64, a mild case left unflagged.
EXPLODING_RATIO = 100.0
# A layer's gradient growing this many times counts only while the loss is not falling:
# with the loss falling it was a network waking up from a slow or dead start (shapes at
# Adam's usual rate, seed 2 of 3: 100-fold and more as its accuracy rose from chance to
# 52%; Adam at 0.01, seed 0 of 3, after most of its ReLUs died), not an explosion.
EXPLODING_GROWTH = 100.0
WINDOW = 10  # recorded steps
# Of a ReLU layer's units that never fire on the probe batch. Healthy runs left up to 62%
# of a layer dead (the default experiment's fc1: 34-46%, with batch norm 38-42%; SGD at 0.1
# with batch norm 35-56%; shapes 47-62%), the ants-and-bees photos up to 69%, all while
# learning. Runs whose learning rate was 5x or more too high: 79-100% (Adam at 5e-3 with
# batch norm, still learning: 79-89%; Adam at 0.01 to 1 and SGD at 1, stuck: 84-100%).
# 0.75 sits between the two; the old 0.5 fired on healthy shapes and photo runs.
DEAD_FRACTION = 0.75


@dataclass(frozen=True)
class Alert:
    """One finding: what was seen, in plain words, and what the lectures say to do.

    `explains` lists the kinds of the alerts this one takes in: symptoms of its cause
    that are not shown on their own (their figures are in `detail`).
    """

    kind: str  # "learning_rate", "diverged", "chance", "overfitting", "exploding",
    #            "vanishing" or "dead_relu"
    title: str
    detail: str
    remedy: str
    explains: tuple[str, ...] = ()
    brief: str = ""  # the finding in a few words, for the cause that takes it in


def first_to_last_ratio(grads: pd.DataFrame) -> pd.Series:
    """Per recorded step, the first layer's gradient norm over the last layer's."""
    if grads.shape[1] < 2:
        return pd.Series(dtype="float64")
    last = grads.iloc[:, -1].where(grads.iloc[:, -1] > 0)
    return grads.iloc[:, 0] / last


def vanishing(grads: pd.DataFrame) -> Alert | None:
    """The first layer's gradient far below the last layer's, over the last WINDOW steps."""
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW)
    if len(ratio) < WINDOW or not ratio.median() < VANISHING_RATIO:
        return None
    first, last = grads.columns[0], grads.columns[-1]
    return Alert(
        "vanishing", "Vanishing gradients",
        f"The first layer's gradient ({first}) is {ratio.median():.1e} times the last "
        f"layer's ({last}), the median of the last {WINDOW} recorded steps: the layers near "
        "the input barely learn.",
        "Use ReLU (or leaky ReLU / ELU) instead of sigmoid or tanh, He initialization "
        "instead of N(0, 1), and batch normalization; residual connections help very deep "
        "networks.",
        brief=("the first layer gets no gradient at all" if ratio.median() == 0 else
               f"the first layer's gradient is {ratio.median():.1e} times the last layer's"),
    )


def exploding(grads: pd.DataFrame, loss: pd.Series | None = None) -> Alert | None:
    """The first layer's gradient far above the last layer's, or a layer's grown far while
    the loss (the batch losses in order, if known) did not fall."""
    if len(grads) < WINDOW:
        return None
    falling = (loss is not None and len(loss) >= 2 * WINDOW
               and loss.tail(WINDOW).median() < loss.head(WINDOW).median())
    ratio = first_to_last_ratio(grads).dropna().tail(WINDOW)
    recent = grads.tail(WINDOW).median()
    start = grads.head(WINDOW).median()
    growth = (recent / start.where(start > 0)).max()
    if len(ratio) == WINDOW and ratio.median() > EXPLODING_RATIO:
        detail = (f"The first layer's gradient is {ratio.median():,.3g} times the last "
                  "layer's: gradients grow on their way back to the input.")
    elif np.isfinite(growth) and growth > EXPLODING_GROWTH and not falling:
        layer = (recent / start).idxmax()
        detail = (f"The gradient of {layer} grew {growth:.0f}-fold since the start of "
                  "training.")
    else:
        return None
    return Alert("exploding", "Exploding gradients", detail,
                 "Lower the learning rate, clip gradients by norm (e.g. 1.0), use batch "
                 "normalization and a variance-preserving initialization (He or Glorot).",
                 brief=detail[0].lower() + detail[1:].rstrip("."))


def dead_relus(dead: pd.DataFrame) -> Alert | None:
    """Most units of a ReLU layer silent on the probe images at the latest epoch."""
    if dead.empty:
        return None
    latest = dead.ffill().iloc[-1].dropna()
    worst = latest[latest > DEAD_FRACTION]
    if worst.empty:
        return None
    layer = worst.idxmax()
    return Alert(
        "dead_relu", "Dead ReLUs",
        f"{worst[layer]:.0%} of the units of {layer} never fire on the probe images"
        + (f" (and over {DEAD_FRACTION:.0%} in {len(worst) - 1} more layer(s))" if len(worst) > 1 else "")
        + ": a dead unit outputs 0 for every input and gets no gradient of its own, so it "
          "rarely comes back.",
        "Lower the learning rate, use leaky ReLU or ELU, He initialization, or batch "
        "normalization before the activation.",
        brief=f"{worst[layer]:.0%} of the ReLUs of {layer} are dead",
    )
