"""Building a registered architecture: one entry point from a name to an uncompiled model.

Why apart from the registry: listing architectures (the config's check, a page's select
box) must not import Keras or the builders, while building imports the chosen builder's
module and takes the config's `Tricks`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cnnlab.models.info import check_input_shape
from cnnlab.models.registry import get_architecture

if TYPE_CHECKING:  # Type names only: importing keras here would make listing slow.
    import keras

    from cnnlab.config import Tricks


def build_model(
    architecture: str,
    input_shape: tuple,
    num_classes: int,
    *,
    tricks: Tricks | None = None,
) -> keras.Model:
    """Build an uncompiled Keras model of a registered architecture.

    Why one entry point: the trainer, the CLI and the pages build models from a config,
    and the checks here turn a bad shape into a readable message instead of a Keras
    error from deep inside a layer.

    Args:
        architecture: a name from `architecture_names()`.
        input_shape: (height, width, channels) of one image.
        num_classes: number of classes; 1 means one sigmoid unit for a binary problem.
        tricks: the training tricks to apply; defaults to None, i.e. `Tricks()`.
    """
    info = get_architecture(architecture)
    input_shape = check_input_shape(info, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            "Invalid `num_classes`. Expected a whole number >= 1 (1 means a single sigmoid "
            f"unit for a binary problem). Received: {num_classes!r}."
        )
    module_name, function_name = info.builder.split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    return builder(input_shape, num_classes, tricks=tricks)
