"""ExperimentConfig: everything that defines an experiment, validated in one place.

A page, the CLI and a stored run all speak this one type. Every field is checked when the
config is built, with a Keras-style message (what is wrong, what was expected, what was
received, how to fix it), so a bad value never reaches the trainer and nothing is written
for it. Configs are frozen and round-trip through JSON, so each run stores its whole config.

Each field declares its own bounds in its metadata; `_validate` reads them, so a new trick
is one field with one line of metadata.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "rmsprop", "adam")


def _spec(default, help: str, **bounds) -> Any:
    """A dataclass field whose metadata carries its help text and its bounds.

    Args:
        default: the default value; a dataclass type means "its default instance".
        help: one sentence for the form and the error messages.
        **bounds: any of `minimum`, `maximum` (inclusive), `above`, `below` (exclusive),
            `choices` (a callable returning the allowed values, so registries stay lazy).
    """
    metadata = {"help": help, **bounds}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def _dataset_names() -> list[str]:
    from cnnlab.data import dataset_names

    return dataset_names()


def _architecture_names() -> list[str]:
    from cnnlab.models.registry import architecture_names

    return architecture_names()


@dataclass(frozen=True)
class Tricks:
    """The training tricks a model builder applies; every architecture takes the same set."""

    # Fraction of units dropped before the dense layers; 0 switches dropout off.
    dropout_rate: float = _spec(0.0, "Dropout rate before the dense layers.", minimum=0.0, below=1.0)
    # Batch normalization after every convolution, before its activation.
    batch_norm: bool = _spec(False, "Batch normalization after each convolution.")
    # L2 penalty lambda * sum(w^2) on every kernel; 0 switches it off.
    l2: float = _spec(0.0, "L2 regularization strength (lambda).", minimum=0.0, maximum=10.0)

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: data, model, tricks and optimization. A run is one execution of it."""

    dataset: str = _spec("digits", "Data set to train on.", choices=_dataset_names)
    # Side length in pixels the images are resized to; None keeps the data set's default.
    image_size: int | None = _spec(None, "Image side length in pixels.", minimum=8, maximum=256)
    # Number of training images drawn from the pool; None uses all of them.
    train_size: int | None = _spec(None, "Training-subset size.", minimum=1)
    validation_fraction: float = _spec(
        0.2, "Fraction of the training pool held out for validation.", minimum=0.0, maximum=0.9
    )
    architecture: str = _spec("small_convnet", "Network architecture.", choices=_architecture_names)
    tricks: Tricks = _spec(Tricks, "Training tricks.")
    optimizer: str = _spec("adam", "Optimizer.", choices=lambda: list(OPTIMIZERS))
    learning_rate: float = _spec(1e-3, "Learning rate.", above=0.0, maximum=1e4)
    batch_size: int = _spec(32, "Mini-batch size.", minimum=1, maximum=65536)
    epochs: int = _spec(6, "Number of epochs.", minimum=1, maximum=1000)
    # One seed for data order, subset, initialization and dropout masks.
    seed: int = _spec(0, "Random seed.", minimum=0, maximum=2**31 - 1)

    def __post_init__(self):
        _validate(self)

    # -- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> ExperimentConfig:
        return _from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                "Could not parse the experiment config. Expected a JSON object such as "
                f'{{"dataset": "digits", "epochs": 5}}. Received invalid JSON: {error}. '
                "Fix the syntax at that position."
            ) from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted fields replaced, e.g. {"tricks.dropout_rate": 0.5}."""
        data = self.to_dict()
        for path, value in overrides.items():
            node = data
            *parents, leaf = path.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ValueError(
                        f"Unknown config section `{part}` in '{path}'. Expected a dotted path "
                        f"such as 'tricks.dropout_rate'. Received: '{path}'."
                    )
                node = node[part]
            if leaf not in node:
                raise ValueError(
                    f"Unknown config field `{leaf}` in '{path}'. Expected one of "
                    f"{sorted(node)}. Received: '{path}'."
                )
            node[leaf] = value
        return ExperimentConfig.from_dict(data)

    # -- checks that need the data set ----------------------------------------------

    def planned_train_count(self) -> int:
        """How many training images a run of this config gets, computed without loading."""
        from cnnlab.data import planned_train_count

        return planned_train_count(
            self.dataset, train_size=self.train_size, validation_fraction=self.validation_fraction
        )

    def check_feasible(self) -> None:
        """Raise ValueError for a config that is valid field by field but cannot run.

        Why: the batch size can only be compared with the training set once the data set is
        known; checking here, before a run is created, means nothing is written for it.
        """
        count = self.planned_train_count()
        if self.batch_size > count:
            raise ValueError(
                f"`batch_size` is larger than the training set. Expected at most {count} "
                f"(the training images of '{self.dataset}' with these settings). "
                f"Received: {self.batch_size}. Lower the batch size or raise `train_size`."
            )

    def summary(self) -> str:
        """A short human name: 'digits · small_convnet · adam 0.001 · dropout 0.5 · BN'."""
        parts = [self.dataset, self.architecture, f"{self.optimizer} {self.learning_rate:g}"]
        if self.tricks.dropout_rate:
            parts.append(f"dropout {self.tricks.dropout_rate:g}")
        if self.tricks.batch_norm:
            parts.append("BN")
        if self.tricks.l2:
            parts.append(f"L2 {self.tricks.l2:g}")
        if self.train_size:
            parts.append(f"n={self.train_size}")
        return " · ".join(parts)


def field_help(cls, name: str) -> str:
    """The help text a field declares, for form tooltips."""
    return next(f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name)


def field_bounds(cls, name: str) -> dict:
    """The bounds a field declares (minimum, maximum, above, below), for form widgets."""
    meta = next(f.metadata for f in dataclasses.fields(cls) if f.name == name)
    return {k: meta[k] for k in ("minimum", "maximum", "above", "below") if k in meta}


# -- validation ------------------------------------------------------------------------


def _from_dict(cls, data):
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
        values[name] = _from_dict(nested, value) if dataclasses.is_dataclass(nested) else value
    return cls(**values)


def _validate(instance) -> None:
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        value = _coerce(f.name, hints[f.name], getattr(instance, f.name))
        object.__setattr__(instance, f.name, value)
        if value is not None and not isinstance(value, (bool, str)) and not dataclasses.is_dataclass(value):
            _check_range(f.name, value, f.metadata)
        if "choices" in f.metadata:
            allowed = list(f.metadata["choices"]())
            if value not in allowed:
                raise ValueError(
                    f"Unknown `{f.name}`. Expected one of {allowed}. Received: {value!r}."
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
        return _from_dict(base, value)
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
