"""Configs as dotted fields: `{"tricks.dropout_rate": 0.5}` and `tricks.dropout_rate=0.5`.

Why one place: the CLI's `--set`, the Compare page's custom change, a shared link's query
parameters and the comparison's "what differs" all name a field by its dotted path, and
read a value typed as text the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# A comma starts a new change only where a FIELD= follows, so "filters=[32, 64]" stays whole.
CHANGE_SEPARATOR = re.compile(r",\s*(?=[A-Za-z_][\w.]*\s*=)")


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
        overrides[field.strip()] = parse_value(raw)
    return overrides


def parse_changes(text: str) -> dict:
    """Changes typed on one line, "learning_rate=0.01, tricks.dropout_rate=0.3", as overrides.

    A comma separates two changes only where a field name and "=" follow it, so a value
    may hold commas ("filters=[32, 64]").
    """
    if not text.strip():
        raise ValueError("No change given. Expected FIELD=VALUE pairs separated by commas, "
                         "e.g. 'learning_rate=0.01, tricks.dropout_rate=0.3'. Received: ''.")
    return parse_overrides(CHANGE_SEPARATOR.split(text.strip()))


def parse_value(raw: str):
    """A value typed as text: JSON where it parses (numbers, true/false, null, lists), else
    the text itself."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return raw
