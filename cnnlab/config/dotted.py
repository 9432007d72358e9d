"""Configs as dotted fields: `{"tricks.dropout_rate": 0.5}` and `tricks.dropout_rate=0.5`.

Why one place: the CLI's `--set`, the Compare page's custom change, a shared link's query
parameters and the comparison's "what differs" all name a field by its dotted path, and
read a value typed as text the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


def flatten(config: Mapping, prefix: str = "") -> dict:
    """A nested config dict as {"tricks.dropout_rate": 0.5, ...}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_overrides(items: list[str]) -> dict:
    """Turn ["epochs=3", "tricks.batch_norm=true"] into {"epochs": 3, "tricks.batch_norm": True}.

    Values are read as JSON where they parse (numbers, true/false, null), else as text;
    `ExperimentConfig.with_overrides` applies the result.
    """
    overrides = {}
    for item in items:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ValueError(
                f"Invalid --set. Expected FIELD=VALUE, e.g. 'learning_rate=0.01'. Received: {item!r}."
            )
        try:
            overrides[field.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[field.strip()] = raw
    return overrides
