"""Whether a run fits in this machine's memory: the estimate, and the warning when it does not.

Why in training and not beside the model summary: the estimate is of a run, not of a
model alone. It builds the model the run trains (frozen as a transfer run's first phase
freezes it, `cnnlab.training.transfer`), for the config's data set, and counts the
optimizer state the config's optimizer keeps. The per-image figures come from
`cnnlab.models.summary`; `cnnlab.training.admission` refuses a run that would not fit.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from cnnlab.models.summary import ModelSummary, summarize
from cnnlab.units import format_bytes

if TYPE_CHECKING:
    from cnnlab.config import ExperimentConfig, Tricks

# Share of the available memory one run may plan to use; the rest is headroom for
# TensorFlow's workspace, the data set and the rest of the machine.
SAFE_MEMORY_SHARE = 0.7
# Optimizer state: values kept per trainable weight, from each Keras optimizer's `build`.
_OPTIMIZER_SLOTS = {"sgd": 0, "rmsprop": 1, "adam": 2, "adamw": 2, "adagrad": 1,
                    "adadelta": 2, "adamax": 2, "nadam": 2}


def optimizer_slots(optimizer: str, momentum: float = 0.0) -> int:
    """Values each optimizer keeps per trainable weight, as Keras' optimizers allocate them.

    SGD keeps none, or one velocity with momentum; RMSprop and AdaGrad one running sum
    (RMSprop one more with momentum); Adam, AdamW, Adamax, Nadam and Adadelta two.

    Args:
        optimizer: a name from `cnnlab.config.OPTIMIZERS`.
        momentum: the SGD/RMSprop momentum; defaults to 0.0.
    """
    if optimizer not in _OPTIMIZER_SLOTS:
        raise ValueError(
            f"Unknown `optimizer`. Expected one of {list(_OPTIMIZER_SLOTS)}. "
            f"Received: {optimizer!r}."
        )
    extra = 1 if optimizer in ("sgd", "rmsprop") and momentum > 0 else 0
    return _OPTIMIZER_SLOTS[optimizer] + extra


def available_memory_bytes() -> int | None:
    """Memory this machine can still give a process, in bytes; None when unknown.

    Linux reports MemAvailable (free memory plus caches it can drop) in /proc/meminfo;
    elsewhere the free physical pages from `os.sysconf` are a cruder stand-in.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def memory_warning(
    summary: ModelSummary,
    batch_size: int,
    available_bytes: int | None = None,
    *,
    optimizer_slots: int = 2,
    safe_share: float = SAFE_MEMORY_SHARE,
) -> str | None:
    """A warning when training would need more than a safe share of the available memory.

    Args:
        summary: the model's summary.
        batch_size: images per training step.
        available_bytes: memory to compare with; defaults to None, i.e. what this
            machine has available now (no warning when that is unknown).
        optimizer_slots: optimizer values per trainable weight; defaults to 2 (Adam).
        safe_share: fraction of the available memory a run may plan on; defaults to 0.7.
    """
    needed = summary.training_memory_bytes(batch_size, optimizer_slots)
    available = available_memory_bytes() if available_bytes is None else available_bytes
    if available is None or needed <= safe_share * available:
        return None
    per_image = format_bytes(2 * summary.activation_bytes)
    state = format_bytes(summary.weight_state_bytes(optimizer_slots))
    return (
        f"Training needs about {format_bytes(needed)} ({per_image} of activations and their "
        f"gradients per image x {batch_size:,} images per batch + {state} of weights, "
        f"gradients and optimizer state) but this machine has {format_bytes(available)} "
        f"available, of which a run should plan on at most {safe_share:.0%}. "
        "Lower the batch size or the image size."
    )


def check_memory_fits(
    config_or_bytes: ExperimentConfig | int, available_bytes: int | None = None
) -> str | None:
    """The memory warning for an experiment, or for a number of bytes; None when it fits.

    Args:
        config_or_bytes: an ExperimentConfig (its model, batch size and optimizer are
            used) or the bytes a run needs.
        available_bytes: defaults to None, i.e. what this machine has available now.
    """
    if isinstance(config_or_bytes, int) and not isinstance(config_or_bytes, bool):
        available = available_memory_bytes() if available_bytes is None else available_bytes
        if available is None or config_or_bytes <= SAFE_MEMORY_SHARE * available:
            return None
        return (
            f"Training needs about {format_bytes(config_or_bytes)} but this machine has "
            f"{format_bytes(available)} available, of which a run should plan on at most "
            f"{SAFE_MEMORY_SHARE:.0%}. Lower the batch size or the image size."
        )
    config = config_or_bytes
    slots = optimizer_slots(config.optimizer, config.optimizer_options.momentum)
    return memory_warning(estimate_for_config(config), config.batch_size, available_bytes,
                          optimizer_slots=slots)


def estimate_for_config(config: ExperimentConfig) -> ModelSummary:
    """The summary of the model a config trains, built for its data set's input shape.

    Why cached: a form redraws on every widget change, and building a deep model takes
    seconds; the summary depends only on the architecture, the input shape, the number
    of classes and the tricks, so it is kept per such key (the model itself is dropped).
    """
    from cnnlab.data import get_info
    from cnnlab.training.transfer import plan_phases, uses_transfer

    info = get_info(config.dataset)
    side = config.image_size or info.default_size
    # A transfer run's first phase freezes part of the network: the trainable counts say so.
    first = plan_phases(config)[0] if uses_transfer(config) else None
    frozen = (first.trainable, first.fine_tune_layers) if first else ("all", 0)
    return model_estimate(config.architecture, (side, side, info.channels),
                          config.head_units(info.num_classes), config.tricks, frozen)


@functools.lru_cache(maxsize=32)
def model_estimate(architecture: str, input_shape: tuple, num_classes: int,
                   tricks: Tricks, trainable: tuple[str, int] = ("all", 0)) -> ModelSummary:
    """The summary of `architecture` built for this input and these tricks; with
    `trainable` = (what, fine_tune_layers), frozen as `set_trainable` freezes it."""
    from cnnlab.models import build_model

    model = build_model(architecture, input_shape, num_classes, tricks=tricks)
    if trainable[0] != "all":
        from cnnlab.training.transfer import set_trainable

        set_trainable(model, *trainable)
    return summarize(model)
