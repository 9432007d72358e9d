"""What the lab knows about one architecture before building it, and the shape checks on it.

Why a module of its own: the registry (`cnnlab.models.registry`) and the pretrained
backbones' data (`cnnlab.models.backbones`) both describe architectures with this type, and
`cnnlab.models.pretrained` checks shapes the same way the registry's `build_model` does.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def validate_input_shape(name: str, input_shape) -> tuple[int, int, int]:
    """Return `input_shape` as a tuple of three ints, or raise a ValueError saying why not."""
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in shape)
    ):
        raise ValueError(
            f"Invalid `input_shape` for '{name}'. Expected (height, width, channels), "
            f"three positive whole numbers such as (28, 28, 1). Received: {input_shape!r}."
        )
    return shape


def check_input_shape(info: ArchitectureInfo, input_shape) -> tuple[int, int, int]:
    """`validate_input_shape`, plus the architecture's smallest image side."""
    shape = validate_input_shape(info.name, input_shape)
    height, width, _ = shape
    if min(height, width) < info.min_input_size:
        size = info.min_input_size
        raise ValueError(
            f"`input_shape` is too small for '{info.name}'. Expected height and width of at "
            f"least {size} pixels. Received: {shape}. Resize the images to at least "
            f"{size}x{size} pixels."
        )
    return shape
