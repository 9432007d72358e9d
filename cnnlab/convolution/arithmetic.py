"""The arithmetic of a convolution or pooling layer, with the numbers a lecture writes out.

Why a module of its own: the convolution explorer shows these figures with the formula
filled in, and the model summary (`cnnlab.models.summary`) counts a whole network's
multiply-adds with the same `conv_macs`, so the two can never disagree. Keras' rules
(tests/test_convolution.py checks them against Keras' output shapes and count_params()):

    effective kernel k' = dilation * (k - 1) + 1
    valid: out = floor((n - k') / stride) + 1
    same:  out = ceil(n / stride), the input padded by max((out - 1) * stride + k' - n, 0)
           zeros in all, the smaller half before (top/left) and the larger after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PADDINGS = ("valid", "same")
POOLINGS = ("max", "average")


def _check_whole(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise ValueError(f"Invalid `{name}`. Expected a whole number >= {minimum}. Received: {value!r}.")
    value = int(value)
    if value < minimum:
        raise ValueError(f"Invalid `{name}`. Expected a whole number >= {minimum}. Received: {value!r}.")
    return value


def check_padding(padding: str) -> str:
    if padding not in PADDINGS:
        raise ValueError(f"Unknown `padding`. Expected one of {list(PADDINGS)}. Received: {padding!r}.")
    return padding


def check_stride_dilation(stride: int, dilation: int) -> None:
    """Keras refuses a stride above 1 together with a dilation above 1; so does the lab."""
    if stride > 1 and dilation > 1:
        raise ValueError(
            f"Cannot combine `stride` > 1 with `dilation` > 1 (Keras' Conv2D refuses it too). "
            f"Received: stride={stride}, dilation={dilation}. Set one of them to 1.")


@dataclass(frozen=True)
class OutputSize:
    """One spatial side through one layer: the result, the padding it took and the formula.

    Args:
        size: the output side in pixels (0 where the kernel does not fit).
        pad_before, pad_after: zeros added before (top/left) and after (bottom/right).
        formula: the rule with the numbers filled in, e.g. "floor((28 - 3) / 1) + 1 = 26".
    """

    size: int
    pad_before: int
    pad_after: int
    formula: str


def output_size(n: int, kernel_size: int, *, padding: str = "valid", stride: int = 1,
                dilation: int = 1) -> OutputSize:
    """The output side of a convolution (or pooling window) over a side of `n` pixels.

    Args:
        n: the input side in pixels.
        kernel_size: the kernel's (or pooling window's) side.
        padding: "valid" (no zeros added) or "same" (zeros so that out = ceil(n / stride)).
        stride: step between windows; defaults to 1.
        dilation: gap between kernel taps (1: none); defaults to 1.
    """
    n = _check_whole("n", n)
    k = _check_whole("kernel_size", kernel_size)
    stride, dilation = _check_whole("stride", stride), _check_whole("dilation", dilation)
    check_padding(padding)
    effective = dilation * (k - 1) + 1
    shown_k = f"{dilation} x ({k} - 1) + 1 = {effective}" if dilation > 1 else None
    if padding == "valid":
        size = max((n - effective) // stride + 1, 0)
        formula = f"floor(({n} - {effective}) / {stride}) + 1 = {size}"
        if size == 0:
            formula = f"the {effective} px kernel does not fit in {n} px: no output (use 'same' padding)"
        pad_before = pad_after = 0
    else:
        size = math.ceil(n / stride)
        total = max((size - 1) * stride + effective - n, 0)
        pad_before, pad_after = total // 2, total - total // 2
        formula = f"ceil({n} / {stride}) = {size}, padded by {pad_before} + {pad_after} zeros"
    if shown_k:
        formula = f"k' = {shown_k}; " + formula
    return OutputSize(size, pad_before, pad_after, formula)


def conv_params(kernel_size: int | tuple[int, int], in_channels: int, filters: int, *,
                use_bias: bool = True, groups: int = 1) -> int:
    """Weights of a Conv2D layer: (k_h * k_w * in_channels / groups + bias) * filters."""
    area = math.prod(_pair(kernel_size))
    in_channels, filters = _check_whole("in_channels", in_channels), _check_whole("filters", filters)
    groups = _check_whole("groups", groups)
    return (area * in_channels // groups + (1 if use_bias else 0)) * filters


def conv_macs(output_positions: int, kernel_area: int, in_channels: int, filters: int, *,
              groups: int = 1) -> int:
    """Multiply-adds of one convolution for one image, biases not counted.

    output positions * filters * kernel area * in_channels / groups: every output value is a
    dot product of the kernel with one window of every input channel (of its group).
    `cnnlab.models.summary` counts Conv1D/2D/3D layers with this function.
    """
    return output_positions * filters * kernel_area * in_channels // groups


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"Invalid `kernel_size`. Expected k or (k_h, k_w). Received: {value!r}.")
        return _check_whole("kernel_size", value[0]), _check_whole("kernel_size", value[1])
    side = _check_whole("kernel_size", value)
    return side, side


@dataclass(frozen=True)
class LayerStep:
    """One layer of a stack whose receptive field is traced: a convolution or a pooling window.

    Args:
        kind: "conv" or "pool".
        kernel_size: the kernel's or window's side.
        stride: defaults to 1.
        dilation: defaults to 1 (pooling has none).
    """

    kind: str = "conv"
    kernel_size: int = 3
    stride: int = 1
    dilation: int = 1

    def __post_init__(self):
        if self.kind not in ("conv", "pool"):
            raise ValueError(f"Unknown layer `kind`. Expected 'conv' or 'pool'. Received: {self.kind!r}.")
        _check_whole("kernel_size", self.kernel_size)
        _check_whole("stride", self.stride)
        _check_whole("dilation", self.dilation)
        if self.kind == "pool" and self.dilation != 1:
            raise ValueError(f"A pooling window has no dilation. Expected 1. Received: {self.dilation!r}.")


def receptive_field(layers: list[LayerStep] | tuple[LayerStep, ...]) -> list[dict]:
    """The receptive field after each layer of a stack: how many input pixels one output sees.

    r_0 = 1, jump_0 = 1; through a layer with effective kernel k' and stride s:
        r = r_prev + (k' - 1) * jump_prev,   jump = jump_prev * s.
    `jump` is the distance, in input pixels, between neighbouring outputs. Padding moves the
    field but does not change its size.

    Returns:
        One dict per layer: layer (1-based), kind, kernel_size, stride, dilation,
        receptive_field, jump and formula (the step with its numbers).
    """
    field, jump, rows = 1, 1, []
    for index, layer in enumerate(layers, start=1):
        effective = layer.dilation * (layer.kernel_size - 1) + 1
        new_field = field + (effective - 1) * jump
        rows.append({"layer": index, "kind": layer.kind, "kernel_size": layer.kernel_size,
                     "stride": layer.stride, "dilation": layer.dilation,
                     "receptive_field": new_field, "jump": jump * layer.stride,
                     "formula": f"{field} + ({effective} - 1) x {jump} = {new_field}"})
        field, jump = new_field, jump * layer.stride
    return rows
