"""Config fields that declare their own help and bounds, and the one validator that reads them.

Why: every section of an experiment (`cnnlab.config.sections`, `cnnlab.config.experiment`)
is a frozen dataclass whose fields carry their help text and bounds in their metadata, so
a new trick is one field with one line of metadata, the form reads its widget's limits
from the same place (`field_bounds`), and every value is checked once, by `validate`, with
a Keras-style message: what is wrong, what was expected, what was received.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import field
from typing import Any


def spec(default, help: str, **bounds) -> Any:
    """A dataclass field whose metadata carries its help text and its bounds.

    Args:
        default: the default value; a dataclass type means "its default instance".
        help: one sentence for the form and the error messages.
        **bounds: any of `minimum`, `maximum` (inclusive), `above`, `below` (exclusive),
            `choices` (a callable returning the allowed values, so registries stay lazy:
            a value is checked by membership, and the whole list is built only for the
            error message).
    """
    metadata = {"help": help, **bounds}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def field_help(cls, name: str) -> str:
    """The help text a field declares, for form tooltips."""
    return next(f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name)


def field_bounds(cls, name: str) -> dict:
    """The bounds a field declares (minimum, maximum, above, below), for form widgets."""
    meta = next(f.metadata for f in dataclasses.fields(cls) if f.name == name)
    return {k: meta[k] for k in ("minimum", "maximum", "above", "below") if k in meta}



def from_dict(cls, data):
    """An instance of the config section `cls` from its dict (nested sections too), validated."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValueError(
            f"Invalid `{cls.__name__}`. Expected a JSON object (a dict of fields). "
            f"Received: {type(data).__name__} {data!r:.80}."
        )
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown field {unknown[0]!r} in `{cls.__name__}`. Expected only these fields: "
            f"{sorted(known)}. Received: {unknown}. Remove it or check its spelling."
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        nested = hints[name]
        values[name] = _section(name, nested, value) if dataclasses.is_dataclass(nested) else value
    return cls(**values)


def _section(name: str, cls, value):
    """A nested section from its dict, its errors prefixed with where they are."""
    try:
        return from_dict(cls, value)
    except ValueError as error:
        raise ValueError(f"In `{name}`: {error}") from None


def validate(instance) -> None:
    """Check and coerce every field of a section in place (`__post_init__` calls it)."""
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        value = _coerce(f.name, hints[f.name], getattr(instance, f.name))
        object.__setattr__(instance, f.name, value)
        if value is not None and not isinstance(value, (bool, str)) and not dataclasses.is_dataclass(value):
            _check_range(f.name, value, f.metadata)
        if "choices" in f.metadata and value is not None:
            allowed = f.metadata["choices"]()
            if value not in allowed:
                raise ValueError(
                    f"Unknown `{f.name}`. Expected one of {list(allowed)}. Received: {value!r}."
                )


def _coerce(name: str, hint, value):
    """Check a value's type, allowing only the lossless conversions a JSON form needs."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None:
        if optional:
            return None
        raise ValueError(f"`{name}` is required. Expected a {_type_name(base)}. Received: None.")
    if dataclasses.is_dataclass(base):
        return _section(name, base, value)
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(
                    f"Invalid `{name}`. Expected a finite number. Received: {value!r}."
                )
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a field type this validator does not know is a bug here
        raise AssertionError(f"unsupported field type {hint!r}")
    hint_text = " or null" if optional else ""
    raise ValueError(
        f"Invalid type for `{name}`. Expected a {_type_name(base)}{hint_text}. "
        f"Received: {value!r} ({type(value).__name__})."
    )


def _type_name(base) -> str:
    return {bool: "boolean", int: "whole number", float: "number", str: "string"}.get(
        base, getattr(base, "__name__", str(base))
    )


def _check_range(name: str, value, meta: dict) -> None:
    low, high = meta.get("minimum"), meta.get("maximum")
    above, below = meta.get("above"), meta.get("below")
    failed = (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    )
    if failed:
        lower = f">= {low}" if low is not None else (f"> {above}" if above is not None else "")
        upper = f"<= {high}" if high is not None else (f"< {below}" if below is not None else "")
        expected = " and ".join(part for part in (lower, upper) if part)
        raise ValueError(
            f"Invalid `{name}`. Expected a value {expected}. Received: {value!r}. "
            f"Choose a value in that range."
        )
