"""A Graphviz DOT diagram of a network, drawn from its ModelSummary.

Streamlit's st.graphviz_chart renders DOT in the browser, so no graphviz binary is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnlab.models.summary import LayerSummary, ModelSummary, format_shape, summarize

if TYPE_CHECKING:
    import keras

# Above this many layers, `diagram_dot` folds normalization, activation and dropout
# layers into the layer before them, and then truncates.
DIAGRAM_MAX_LAYERS = 120
# Fill colours of the diagram's nodes, by layer kind (a pastel ColorBrewer palette).
DIAGRAM_COLORS = {
    "input": "#ffffff",
    "conv": "#a6cee3",
    "pooling": "#fdbf6f",
    "dense": "#b2df8a",
    "normalization": "#cab2d6",
    "activation": "#ffffb3",
    "dropout": "#d9d9d9",
    "merge": "#fb9a99",
    "model": "#80b1d3",
    "other": "#f2f2f2",
}
# Kinds that `diagram_dot` may fold into the layer before them in a very deep model.
_FOLDABLE = ("normalization", "activation", "dropout")


# -- diagram ---------------------------------------------------------------------------


def diagram_dot(model: keras.Model | ModelSummary, *, max_layers: int = DIAGRAM_MAX_LAYERS) -> str:
    """A Graphviz DOT description of the network, top to bottom, one node per layer.

    Nodes show the layer's name, class and output shape, coloured by kind
    (`DIAGRAM_COLORS`); edges run from each inbound layer. Up to `max_layers` layers
    nothing is collapsed. A deeper model (Keras' ResNet50 has 177 layers, DenseNet121 429) is
    made readable in two steps, each keeping every branch and merge: first each
    normalization, activation or dropout layer that is the only consumer of the layer
    before it is folded into that layer's node ("+ BatchNormalization, Activation");
    then, if more than `max_layers` nodes remain, the first `max_layers` are drawn and a
    note node says how many are left out (the per-layer table lists them all).

    Args:
        model: a Keras model, or its `summarize` result (which avoids rebuilding it).
        max_layers: nodes drawn at most; defaults to 120.
    """
    if isinstance(max_layers, bool) or not isinstance(max_layers, int) or max_layers < 1:
        raise ValueError(
            f"Invalid `max_layers`. Expected a whole number >= 1. Received: {max_layers!r}."
        )
    summary = model if isinstance(model, ModelSummary) else summarize(model)
    groups = _group_layers(summary.layers, fold=len(summary.layers) > max_layers)
    shown = list(groups)[:max_layers]
    lines = [f"digraph {_quote(summary.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [color="#555555"];']
    for head in shown:
        members = groups[head]
        first, last = members[0], members[-1]
        parts = [first.name, first.class_name]
        if len(members) > 1:
            parts.append("+ " + ", ".join(member.class_name for member in members[1:]))
        parts.append(format_shape(last.output_shape))
        # "\\n" is DOT's line break inside a label.
        label = '"' + "\\n".join(_escape(part) for part in parts) + '"'
        color = DIAGRAM_COLORS.get(first.kind, DIAGRAM_COLORS["other"])
        lines.append(f'  {_quote(head)} [label={label}, fillcolor="{color}"];')
    group_of = {member.name: head for head, members in groups.items() for member in members}
    visible = set(shown)
    for head in shown:
        for source in groups[head][0].inbound:
            if group_of[source] in visible:
                lines.append(f"  {_quote(group_of[source])} -> {_quote(head)};")
    if len(groups) > len(shown):
        hidden = sum(len(groups[head]) for head in list(groups)[len(shown):])
        note = f"... {hidden} more layers not drawn;\\nthe per-layer table lists them all"
        lines.append(f'  "__more__" [label="{note}", shape=note, fillcolor="#ffffff"];')
        lines.append(f'  {_quote(shown[-1])} -> "__more__" [style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def _group_layers(layers, *, fold: bool) -> dict[str, list[LayerSummary]]:
    """Layers grouped under a head layer; without `fold`, each layer is its own group."""
    consumers: dict[str, int] = {}
    for layer in layers:
        for source in layer.inbound:
            consumers[source] = consumers.get(source, 0) + 1
    groups: dict[str, list[LayerSummary]] = {}
    group_of: dict[str, str] = {}
    for layer in layers:
        source = layer.inbound[0] if len(layer.inbound) == 1 else None
        if (fold and layer.kind in _FOLDABLE and source is not None
                and consumers.get(source) == 1 and groups[group_of[source]][0].kind != "input"):
            group_of[layer.name] = group_of[source]
        else:
            group_of[layer.name] = layer.name
            groups[layer.name] = []
        groups[group_of[layer.name]].append(layer)
    return groups


def _quote(text: str) -> str:
    """`text` as a DOT double-quoted string (escaping backslashes and quotes)."""
    return '"' + _escape(text) + '"'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


