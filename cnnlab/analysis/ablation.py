"""Building comparisons: "the same but with X changed", the ablation grid, repeats over seeds.

Why in the engine: a comparison is only fair when the paired runs differ in the one thing
being studied. Every variant here starts from the baseline's own config, so the seed, the
data set, the subset and the split stay the same; only the named fields change.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.analysis.compare import format_value
from cnnlab.config import ExperimentConfig

# The lectures' four classic tricks, each as the fields that switch it on at a typical
# strength. A trick already on in the baseline is switched off instead, so every variant
# still differs from the baseline in exactly that trick.
TRICKS = {
    "dropout": ({"tricks.dropout_rate": 0.5}, {"tricks.dropout_rate": 0.0}),
    "augmentation": (
        {"augmentation.rotation_range": 10.0, "augmentation.width_shift_range": 0.1,
         "augmentation.height_shift_range": 0.1, "augmentation.zoom_range": 0.1},
        {"augmentation": {}},  # every transform back to its default: off
    ),
    "batch_norm": ({"tricks.batch_norm": True}, {"tricks.batch_norm": False}),
    "l2": ({"tricks.l2": 1e-4}, {"tricks.l2": 0.0}),
}
ABLATION_GRID = tuple(TRICKS)
MAX_SEEDS = 10


def _value_at(config: ExperimentConfig, path: str):
    """The value of a dotted field ("tricks.batch_norm") of `config`, as validated."""
    value = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


@dataclass(frozen=True)
class Variant:
    """One run to start: its config and a name that says how it differs."""

    config: ExperimentConfig
    name: str


def with_changes(baseline: ExperimentConfig, changes: dict, label: str | None = None) -> Variant:
    """The baseline with dotted `changes` applied (same seed, same data); a ValueError if
    the changes alter nothing, since such a "comparison" would compare a run with itself."""
    config = baseline.with_overrides(changes)
    if config == baseline:
        raise ValueError(
            "The changes leave the experiment as it was. Expected at least one field with a "
            f"new value. Received: {changes!r}. Change a value, or start the same run again "
            "with another seed to see the noise instead.")
    what = label or ", ".join(f"{path.split('.')[-1]}={format_value(_value_at(config, path))}"
                              for path in changes)
    return Variant(config, f"{baseline.summary()} · {what}")


def toggle_trick(baseline: ExperimentConfig, trick: str) -> Variant:
    """The baseline with `trick` (a key of TRICKS) switched on, or off if it is on."""
    if trick not in TRICKS:
        raise ValueError(f"Unknown trick. Expected one of {list(TRICKS)}. Received: {trick!r}.")
    on, off = TRICKS[trick]
    if _is_on(baseline, trick):
        return with_changes(baseline, off, f"without {trick.replace('_', ' ')}")
    return with_changes(baseline, on, f"with {trick.replace('_', ' ')}")


def ablation_grid(baseline: ExperimentConfig, tricks=ABLATION_GRID) -> list[Variant]:
    """The baseline itself, then one variant per trick, each differing in that trick only."""
    return [Variant(baseline, f"{baseline.summary()} · baseline"),
            *(toggle_trick(baseline, trick) for trick in tricks)]


def over_seeds(config: ExperimentConfig, count: int) -> list[Variant]:
    """`count` runs of `config` with seeds seed, seed + 1, ...: the run-to-run noise."""
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_SEEDS:
        raise ValueError(
            f"Invalid number of seeds. Expected a whole number from 2 to {MAX_SEEDS}. "
            f"Received: {count!r}. Two seeds show some noise; five give a usable band.")
    return [Variant(config.with_overrides({"seed": config.seed + index}),
                    f"{config.summary()} · seed {config.seed + index}")
            for index in range(count)]


def _is_on(config: ExperimentConfig, trick: str) -> bool:
    return {
        "dropout": config.tricks.dropout_rate > 0,
        "augmentation": config.augmentation.enabled,
        "batch_norm": config.tricks.batch_norm,
        "l2": config.tricks.l2 > 0,
    }[trick]
