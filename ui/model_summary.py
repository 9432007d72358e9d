"""The model summary of the Train form's Model tab: size, arithmetic and memory before training.

Why before training: students should see what a choice costs (a larger image, a deeper
network, a bigger batch) before pressing Train, and a run that cannot fit in memory is
better refused by a warning than by the machine.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.charts.diagram import DIAGRAM_COLORS, diagram_dot
from cnnlab.config import ExperimentConfig
from cnnlab.models.summary import summary_table
from cnnlab.text import md
from cnnlab.training.memory import estimate_for_config, memory_warning, optimizer_slots
from cnnlab.units import format_bytes, format_count


def show_model_summary(config: ExperimentConfig) -> None:
    """Draw the totals, a memory warning, the per-layer table and the diagram for `config`.

    A model that cannot be built for these settings (an image too small for the
    architecture, say) is reported with st.error; nothing is raised.
    """
    try:
        with st.spinner("Building the model to measure it..."):
            summary = estimate_for_config(config)
    except ValueError as error:
        st.error(md(error), icon=":material/error:")
        return
    except Exception as error:  # noqa: BLE001 - the summary is advice; it must not break the form
        st.error(md(f"Could not build '{config.architecture}' to summarize it: "
                    f"{type(error).__name__}: {error}"), icon=":material/error:")
        return

    slots = optimizer_slots(config.optimizer, config.optimizer_options.momentum)
    training_bytes = summary.training_memory_bytes(config.batch_size, slots)
    # Two rows of metrics: the form's column is narrow, and numbers must stay readable.
    columns = [*st.columns(3), *st.columns(2)]
    columns[0].metric("Parameters", format_count(summary.params),
                      help="Weights of all layers, trainable or not.")
    columns[1].metric("Trainable", format_count(summary.trainable_params),
                      help="Weights the optimizer updates; batch-norm statistics and frozen "
                      "layers are not trainable.")
    columns[2].metric("MACs / image", format_count(summary.macs),
                      help="Multiply-adds of one forward pass through convolutions and dense "
                      "layers (a backward pass costs about twice as much).")
    columns[3].metric("Activations / image", format_bytes(summary.activation_bytes),
                      help="Bytes of every layer's output for one image (float32: 4 bytes "
                      "per value), all kept for backpropagation.")
    columns[4].metric(f"Training memory, batch {config.batch_size:,}",
                      format_bytes(training_bytes),
                      help="Activations x batch size x 2 (outputs and their gradients) + "
                      f"weights, gradients and {slots:d} optimizer value(s) per weight, 4 bytes "
                      "each. TensorFlow's own workspace comes on top.")

    warning = memory_warning(summary, config.batch_size, optimizer_slots=slots)
    if warning:
        st.warning(md(warning), icon=":material/memory:")

    with st.expander(f"Layers ({len(summary.layers)})"):
        st.dataframe(
            summary_table(summary),
            hide_index=True,
            column_config={
                "Parameters": st.column_config.NumberColumn(format="localized"),
                "Trainable": st.column_config.NumberColumn(format="localized"),
                "MACs": st.column_config.NumberColumn(
                    format="compact", help="Multiply-adds per image."),
                "Activation memory": st.column_config.NumberColumn(
                    format="bytes", help="This layer's output for one image."),
            },
        )

    with st.expander("Diagram"):
        st.caption("Colours: " + ", ".join(  # text: lab-written (the diagram's colour table)
            f"{kind} <span style='background:{color};padding:0 0.4em'>&nbsp;</span>"
            for kind, color in DIAGRAM_COLORS.items()), unsafe_allow_html=True)
        st.graphviz_chart(diagram_dot(summary), width="stretch")
