"""The architecture registry: which networks the lab offers, and how to build one.

Why a registry of plain data: the config validates `architecture` against this list, and a
page fills its select box from it, long before anything is trained. Importing TensorFlow
takes seconds, so this module names each builder as a "module:function" string and imports
it only when a model is actually built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Type names only: importing keras here would make listing slow.
    import keras

    from cnnlab.config import Tricks


@dataclass(frozen=True)
class ArchitectureInfo:
    """What the lab knows about one architecture before building it.

    Args:
        name: the key used in configs, e.g. "lenet5".
        title: the name shown in the UI.
        description: one or two sentences for the UI: what it is and what it teaches.
        paper: the reference the architecture comes from.
        builder: "module:function" of its `build_<family>(input_shape, num_classes, *, tricks)`.
        min_input_size: the smallest image side length, in pixels, the builder accepts.
    """

    name: str
    title: str
    description: str
    paper: str
    builder: str
    min_input_size: int


ARCHITECTURES: dict[str, ArchitectureInfo] = {
    info.name: info
    for info in (
        ArchitectureInfo(
            name="small_convnet",
            title="Small convnet (lectures)",
            description=(
                "Four 3x3 conv + 2x2 max-pool blocks (32, 64, 128, 128 filters), then a "
                "512-unit dense layer: the lectures' cats-vs-dogs model, which overfits on "
                "small data until dropout and augmentation are switched on."
            ),
            paper=(
                "F. Chollet, Deep Learning with Python, Manning 2017, ch. 5.2 "
                "(training a convnet from scratch on a small dataset)."
            ),
            builder="cnnlab.models.small_convnet:build_small_convnet",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="lenet5",
            title="LeNet-5",
            description=(
                "The classic digit recognizer: two 5x5 tanh convolutions with average "
                "pooling, then 120 and 84 dense units. About 60k parameters."
            ),
            paper=(
                "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, Gradient-based learning "
                "applied to document recognition, Proc. IEEE 86(11), 1998."
            ),
            builder="cnnlab.models.lenet:build_lenet5",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="deep_plain",
            title="Deep plain network (10 layers)",
            description=(
                "Two 3x3 conv blocks and eight narrow dense layers with no shortcut: deep "
                "enough that sigmoid units make the gradients vanish, and ReLU, He "
                "initialization or batch norm bring them back."
            ),
            paper=(
                "X. Glorot and Y. Bengio, Understanding the difficulty of training deep "
                "feedforward neural networks, AISTATS 2010."
            ),
            builder="cnnlab.models.deep_plain:build_deep_plain",
            min_input_size=8,
        ),
    )
}


def architecture_names() -> list[str]:
    """The registered architecture names, in display order."""
    return list(ARCHITECTURES)


def get_architecture(name: str) -> ArchitectureInfo:
    """The registry entry for `name`; a ValueError listing the choices if there is none."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown `architecture`. Expected one of {architecture_names()}. "
            f"Received: {name!r}."
        ) from None


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
    input_shape = _check_input_shape(info, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            "Invalid `num_classes`. Expected a whole number >= 1 (1 means a single sigmoid "
            f"unit for a binary problem). Received: {num_classes!r}."
        )
    module_name, function_name = info.builder.split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    return builder(input_shape, num_classes, tricks=tricks)


def _check_input_shape(info: ArchitectureInfo, input_shape) -> tuple[int, int, int]:
    """Return `input_shape` as a tuple of three ints, or raise a ValueError saying why not."""
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in shape)
    ):
        raise ValueError(
            f"Invalid `input_shape` for '{info.name}'. Expected (height, width, channels), "
            f"three positive whole numbers such as (28, 28, 1). Received: {input_shape!r}."
        )
    height, width, _ = shape
    if min(height, width) < info.min_input_size:
        size = info.min_input_size
        raise ValueError(
            f"`input_shape` is too small for '{info.name}'. Expected height and width of at "
            f"least {size} pixels. Received: {shape}. Resize the images to at least "
            f"{size}x{size} pixels."
        )
    return shape


def _register_backbones() -> None:
    """Add the pretrained keras.applications backbones (data only, no keras import)."""
    try:
        from cnnlab.models.backbones import BACKBONES
    except ImportError:  # the backbones module is optional while it is being written
        return
    ARCHITECTURES.update({info.name: info for info in BACKBONES})


_register_backbones()
