"""Experiments as shareable links and imported files.

A link carries only the fields that differ from the defaults, one query parameter per
dotted field (`?architecture=deep_plain&tricks.activation=sigmoid`), so a lecturer can read
and edit it by hand. Values are JSON where they parse (numbers, true/false, null), else
text. Imported JSON files are untrusted: size-capped, parsed and validated field by field
before anything uses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlencode

from cnnlab.config import ExperimentConfig, flatten, parse_value

# Query parameters that are not config fields: the Train page's run to reattach to, the
# session's display name and its browser key (ui/identity.py), and projector mode
# (ui/projector.py). `share_url` writes none of them: a link shared must never carry the
# key that owns the sharer's runs.
RESERVED = ("run", "who", "key", "present")
MAX_IMPORT_BYTES = 64 * 1024  # a config is about 2 kB


def config_to_params(config: ExperimentConfig) -> dict[str, str]:
    """The fields of `config` that differ from the defaults, as query parameters."""
    defaults = flatten(ExperimentConfig().to_dict())
    return {field: _encode(value) for field, value in flatten(config.to_dict()).items()
            if defaults.get(field) != value}


def share_url(base_url: str, config: ExperimentConfig) -> str:
    """The Train page's link for `config` (`base_url` is the page's own address)."""
    params = config_to_params(config)
    return f"{base_url.split('?')[0]}?{urlencode(params)}" if params else base_url.split("?")[0]


def config_from_params(params: Mapping[str, str]) -> ExperimentConfig | None:
    """The experiment a link describes; None if it names no config field at all.

    Raises ValueError, with the message of the first bad field, for an invalid link.
    """
    overrides = {}
    for field, raw in params.items():
        if field in RESERVED:
            continue
        overrides[field] = parse_value(raw)
    if not overrides:
        return None
    try:
        return ExperimentConfig().with_overrides(overrides)
    except ValueError as error:
        raise ValueError(f"This link's experiment is invalid: {error}") from None


def config_from_upload(data: bytes) -> ExperimentConfig:
    """An experiment from an uploaded JSON file, validated; ValueError says what is wrong."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValueError(
            f"The file is too large for an experiment config. Expected at most "
            f"{MAX_IMPORT_BYTES // 1024} kB. Received: {len(data) / 1024:.0f} kB. Upload the "
            "config.json of an exported run, or one saved from the Train page.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The file is not text. Expected a UTF-8 JSON file such as an "
                         "exported run's config.json. Received: binary data.") from None
    return ExperimentConfig.from_json(text)


def _encode(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
