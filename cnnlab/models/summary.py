"""The "before training" architecture summary: parameters, multiply-adds, memory, diagram.

Why: the lectures ask students to reason about a network before training it — how many
weights it has, how much arithmetic one image costs, and whether a batch fits in memory
(Géron, Hands-On Machine Learning, ch. 14: one layer of 200 feature maps of 150x100
float32 values holds 200 * 150 * 100 * 4 bytes = 12 MB per instance, "1.2 GB of RAM" for
a batch of 100). This module computes those figures for any Keras functional model, with
or without branches, so a page can show them before a run is started.

Multiply-adds (MACs) per image, one multiply-accumulate each; biases are not counted:
    Conv (1D/2D/3D) = output elements * kernel area * in_channels / groups, i.e. for
        Conv2D out_h * out_w * out_c * k_h * k_w * in_c / groups;
    DepthwiseConv2D = out_h * out_w * in_c * depth_multiplier * k_h * k_w;
    SeparableConv2D = the depthwise part (as above) + the pointwise 1x1 part,
        out_h * out_w * (in_c * depth_multiplier) * filters;
    Conv2DTranspose = in_h * in_w * in_c * k_h * k_w * filters;
    Dense = input features * units (per position when the input has more axes);
    a nested model = its own total.
Every other layer (batch normalization, activations, pooling, Add, Concatenate,
Multiply, dropout, reshapes, ...) counts as 0 MACs: they do a few cheap operations per
element, a rounding error next to the convolutions and dense layers.

Activation memory per image: the elements of every layer's output times their size in
bytes (4 for float32), the input included, since the first layer's weight gradient
needs it. It is a slight over-estimate: a framework may share memory for Flatten,
Reshape or an in-place ReLU.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnlab.convolution.arithmetic import conv_macs

if TYPE_CHECKING:  # Type names only: importing keras here would make importing this slow.
    import keras
    import pandas


# Bytes of one float32 weight, gradient or optimizer slot.
PARAMETER_BYTES = 4
_MERGE_CLASSES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                  "Concatenate", "Dot", "Merge"}
_ACTIVATION_CLASSES = {"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Relu",
                       "Sigmoid", "Tanh", "Silu", "Gelu", "HardSigmoid", "HardSwish", "Swish"}


@dataclass(frozen=True)
class LayerSummary:
    """One layer's row: what it outputs, what it holds and what one image costs in it.

    Args:
        name: the layer's name; a layer of a nested model is "model_name/layer_name".
        class_name: the Keras class, e.g. "Conv2D".
        kind: input, conv, pooling, dense, normalization, activation, dropout, merge,
            model (a nested model shown as one row) or other.
        output_shape: the output shape without the batch axis; a tuple of such shapes for
            a layer with several outputs.
        trainable_params: weights updated by training.
        non_trainable_params: weights training leaves alone (batch-norm statistics,
            frozen layers).
        macs: multiply-adds per image (see the module docstring for the rules).
        activation_bytes: bytes of this layer's output for one image.
        inbound: names of the layers whose outputs this layer takes, in call order.
    """

    name: str
    class_name: str
    kind: str
    output_shape: tuple
    trainable_params: int
    non_trainable_params: int
    macs: int
    activation_bytes: int
    inbound: tuple[str, ...]

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


@dataclass(frozen=True)
class ModelSummary:
    """A model's rows and totals, all per image; immutable, so one copy can be cached.

    Args:
        name: the model's name.
        input_shape: the model's first input shape, without the batch axis.
        layers: one `LayerSummary` per layer, inputs first, in topological order.
        trainable_params, non_trainable_params: Keras' own counts for the whole model.
        macs: multiply-adds per image, summed over the layers.
        activation_bytes: bytes of all layer outputs for one image.
    """

    name: str
    input_shape: tuple
    layers: tuple[LayerSummary, ...]
    trainable_params: int
    non_trainable_params: int
    macs: int
    activation_bytes: int

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def weight_state_bytes(self, optimizer_slots: int = 2) -> int:
        """Bytes of the weights, their gradients and the optimizer's state.

        Every weight is stored once; only trainable weights get a gradient and
        `optimizer_slots` optimizer values (2 for Adam: the running means of the gradient
        and of its square). For a model without frozen weights this is parameters * 4 *
        (1 + 1 + slots), give or take the batch-norm statistics.
        """
        return PARAMETER_BYTES * (self.params + self.trainable_params * (1 + optimizer_slots))

    def training_memory_bytes(self, batch_size: int, optimizer_slots: int = 2) -> int:
        """Estimated memory one training step needs, in bytes.

        Rule: weight state (see `weight_state_bytes`) + activations per image * batch_size
        * 2 — the forward outputs are kept for backpropagation, and each gets a gradient
        of the same size. This is the lectures' arithmetic (12 MB per instance, 1.2 GB for
        a batch of 100) applied to every layer and doubled for the backward pass. It
        leaves out framework workspace (convolution buffers, the data pipeline), which is
        why `cnnlab.training.memory` only lets a run plan on part of the machine.

        Args:
            batch_size: images per training step.
            optimizer_slots: optimizer values per trainable weight; defaults to 2 (Adam).
                `cnnlab.training.memory.optimizer_slots` gives it for the lab's optimizers.
        """
        _check_batch_size(batch_size)
        activations = self.activation_bytes * batch_size * 2
        return self.weight_state_bytes(optimizer_slots) + activations


def summarize(model: keras.Model, *, batch_size: int = 32) -> ModelSummary:
    """Summarize a built Keras functional (or Sequential) model, layer by layer.

    Why not `model.summary()`: it prints text and knows nothing about arithmetic or
    memory. Here each layer call in the graph is visited once, so branches, merges and
    shared layers are counted right; a nested model called once (a pretrained base) is
    expanded into its layers, named "base/layer", and one called more often is one row.

    Args:
        model: a built functional or Sequential model with a fixed input shape.
        batch_size: checked for validity only; the totals are per image, and
            `training_memory_bytes(batch_size)` scales them; defaults to 32.
    """
    _check_batch_size(batch_size)
    graph = _functional_graph(model)
    rows: dict[str, dict] = {}
    _walk(graph, prefix="", producers={}, rows=rows)
    layers = tuple(LayerSummary(**row) for row in rows.values())
    trainable = sum(_size(w.shape) for w in model.trainable_weights)
    frozen = sum(_size(w.shape) for w in model.non_trainable_weights)
    return ModelSummary(
        name=model.name,
        input_shape=tuple(graph.inputs[0].shape[1:]),
        layers=layers,
        trainable_params=trainable,
        non_trainable_params=frozen,
        macs=sum(layer.macs for layer in layers),
        activation_bytes=sum(layer.activation_bytes for layer in layers),
    )


def summary_table(summary: ModelSummary) -> pandas.DataFrame:
    """The per-layer rows as a DataFrame for display, one row per layer, raw numbers."""
    import pandas

    return pandas.DataFrame(
        {
            "Layer": [layer.name for layer in summary.layers],
            "Type": [layer.class_name for layer in summary.layers],
            "Output shape": [format_shape(layer.output_shape) for layer in summary.layers],
            "Parameters": [layer.params for layer in summary.layers],
            "Trainable": [layer.trainable_params for layer in summary.layers],
            "MACs": [layer.macs for layer in summary.layers],
            "Activation memory": [layer.activation_bytes for layer in summary.layers],
            "Inputs": [", ".join(layer.inbound) for layer in summary.layers],
        }
    )


# -- formatting ------------------------------------------------------------------------


def format_shape(shape: tuple) -> str:
    """An output shape without the batch axis: (148, 148, 32) -> '148 x 148 x 32'."""
    if shape and isinstance(shape[0], tuple):
        return ", ".join(format_shape(part) for part in shape)
    return " x ".join(str(side) for side in shape)


# -- graph walking ---------------------------------------------------------------------


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"Invalid `batch_size`. Expected a whole number >= 1. Received: {batch_size!r}."
        )


def _functional_graph(model):
    """The functional graph behind `model` (a Sequential model keeps one inside)."""
    import keras

    graph = getattr(model, "_functional", model) if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(
            "Cannot summarize this model. Expected a built functional or Sequential model "
            f"(one made with keras.Input). Received: {type(model).__name__} "
            f"{getattr(model, 'name', '')!r}. Build it from keras.Input(shape=...) first."
        )
    for tensor in graph.inputs:
        if any(side is None for side in tensor.shape[1:]):
            raise ValueError(
                "Cannot count the arithmetic of a model with a variable input size. Expected "
                f"a fixed input shape such as (32, 32, 3). Received: {tuple(tensor.shape[1:])}. "
                "Build the model with keras.Input(shape=(height, width, channels))."
            )
    return graph


def _nested_graph(operation, inputs):
    """The functional graph of a nested functional or Sequential model, else None.

    A nested model built for any image size (keras.applications without `input_shape`)
    has no sizes to count with; it is cloned onto this call's fixed input shapes.
    """
    import keras

    if not isinstance(operation, keras.Model):
        return None
    graph = operation._functional if isinstance(operation, keras.Sequential) else operation
    if graph is None or not hasattr(graph, "_nodes_by_depth"):
        return None  # A subclassed model: one opaque row, like any other layer.
    if any(side is None for tensor in graph.inputs for side in tensor.shape[1:]):
        fixed = [keras.Input(shape=tuple(tensor.shape[1:]), dtype=tensor.dtype) for tensor in inputs]
        fixed = keras.tree.pack_sequence_as(graph.input, fixed)
        graph = keras.models.clone_model(graph, input_tensors=fixed)
    return graph


def _walk(graph, prefix: str, producers: dict[int, str], rows: dict[str, dict]) -> None:
    """Add a row for each operation of `graph` to `rows`, in topological order.

    `producers` maps id(tensor) to the row name of the layer that made it, so inbound
    names can be found; a nested model's input tensors map to its caller's producers.
    """

    nodes = [node for depth in sorted(graph._nodes_by_depth, reverse=True)
             for node in graph._nodes_by_depth[depth]]
    calls: dict[int, int] = {}
    for node in nodes:
        calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    for node in nodes:
        operation = node.operation
        inputs, outputs = list(node.input_tensors), list(node.output_tensors)
        if node.is_input and prefix and all(id(t) in producers for t in outputs):
            continue  # A nested model's input stands for its caller's tensor.
        inbound = tuple(dict.fromkeys(producers[id(t)] for t in inputs if id(t) in producers))
        nested = _nested_graph(operation, inputs)
        if nested is not None and calls[id(operation)] == 1:
            for outer, own in zip(inputs, nested.inputs):
                producers[id(own)] = producers[id(outer)]
            _walk(nested, f"{prefix}{operation.name}/", producers, rows)
            for outer, own in zip(outputs, nested.outputs):
                producers[id(outer)] = producers[id(own)]
            continue
        name = prefix + operation.name
        for tensor in outputs:
            producers[id(tensor)] = name
        if nested is not None:  # Called more than once: one row, its whole cost per call.
            inner_rows: dict[str, dict] = {}
            _walk(nested, "", {}, inner_rows)
            macs = sum(row["macs"] for row in inner_rows.values())
        else:
            macs = _macs(operation, inputs, outputs)
        activation = sum(_size(t.shape[1:]) * _itemsize(t.dtype) for t in outputs)
        if name in rows:  # A shared layer: each call costs again, its weights count once.
            rows[name]["macs"] += macs
            rows[name]["activation_bytes"] += activation
            rows[name]["inbound"] += tuple(s for s in inbound if s not in rows[name]["inbound"])
            continue
        shapes = [tuple(t.shape[1:]) for t in outputs]
        rows[name] = {
            "name": name,
            "class_name": type(operation).__name__,
            "kind": "model" if nested is not None else _kind(operation),
            "output_shape": shapes[0] if len(shapes) == 1 else tuple(shapes),
            "trainable_params": sum(_size(w.shape) for w in getattr(operation, "trainable_weights", [])),
            "non_trainable_params": sum(
                _size(w.shape) for w in getattr(operation, "non_trainable_weights", [])),
            "macs": macs,
            "activation_bytes": activation,
            "inbound": inbound,
        }


def _macs(layer, inputs, outputs) -> int:
    """Multiply-adds of one call of `layer` for one image (rules in the module docstring)."""
    import keras

    layers = keras.layers
    if not inputs or not outputs:
        return 0
    in_shape, out_shape = tuple(inputs[0].shape[1:]), tuple(outputs[0].shape[1:])
    channels_last = getattr(layer, "data_format", "channels_last") == "channels_last"
    in_channels = in_shape[-1] if channels_last else in_shape[0]
    out_elements = _size(out_shape)
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        positions = out_elements // layer.filters
        depthwise = positions * in_channels * layer.depth_multiplier * _size(layer.kernel_size)
        return depthwise + positions * in_channels * layer.depth_multiplier * layer.filters
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        return out_elements * _size(layer.kernel_size)
    if isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)):
        return _size(in_shape) * _size(layer.kernel_size) * layer.filters
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        # The convolution explorer's own formula (pages/6_Convolutions.py shows it filled in).
        return conv_macs(out_elements // layer.filters, _size(layer.kernel_size), in_channels,
                         layer.filters, groups=getattr(layer, "groups", 1))
    if isinstance(layer, layers.Dense):
        return _size(in_shape) * layer.units
    return 0


def _kind(operation) -> str:
    """The diagram colour group of a layer, read from its class and its base classes."""
    names = {cls.__name__ for cls in type(operation).__mro__}
    if "InputLayer" in names:
        return "input"
    for kind, marker in (("conv", "Conv"), ("pooling", "Pooling"), ("dropout", "Dropout"),
                         ("normalization", "Normalization")):
        if any(marker in name for name in names):
            return kind
    if names & {"Dense", "EinsumDense"}:
        return "dense"
    if names & _MERGE_CLASSES:
        return "merge"
    if names & _ACTIVATION_CLASSES:
        return "activation"
    return "other"


def _size(shape) -> int:
    return math.prod(int(side) for side in shape)


def _itemsize(dtype) -> int:
    """Bytes per element of a dtype name: 'float32' -> 4, 'bfloat16' -> 2, 'bool' -> 1."""
    bits = re.search(r"\d+", str(dtype))
    return int(bits.group()) // 8 if bits else 1
