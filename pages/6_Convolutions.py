"""Convolutions: one kernel over one image, the arithmetic of the layer, a stack's receptive field."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlab.charts.convolution import image_figure, kernel_figure
from cnnlab.convolution import apply_kernel, conv_macs, conv_params, output_size, pool, receptive_field
from cnnlab.text import plot
from cnnlab.units import format_count
from ui.convolution_controls import edit_stack, layer_settings, pick_image, pick_kernel
from ui.layout import page_setup
from ui.projector import controls_and_results, plotly_chart

page_setup("Convolutions")
st.title("Convolutions")
st.caption("What one convolutional layer computes, and what it costs: pick an image and a kernel, "
           "and see the feature map, its size with the formula, and the layer's parameters and "
           "multiply-adds. Nothing trains; every number answers at once.")

image, caption = pick_image()
controls, results = controls_and_results("Kernel, padding, stride, pooling")
with controls:
    kernel = pick_kernel()
    settings = layer_settings()
if image is None or kernel is None:
    st.stop()

side = kernel.shape[0]
feature = apply_kernel(image, kernel, padding=settings["padding"], stride=settings["stride"],
                       dilation=settings["dilation"])
height = output_size(image.shape[0], side, padding=settings["padding"], stride=settings["stride"],
                     dilation=settings["dilation"])
pooled, pooled_size = None, None
if settings["pooling"] != "none" and feature.size:
    pooled = pool(feature, kind=settings["pooling"], pool_size=settings["pool_size"],
                  stride=settings["pool_stride"])
    pooled_size = output_size(feature.shape[0], settings["pool_size"], stride=settings["pool_stride"])

with results:
    figures = [image_figure(image, f"Input: {plot(caption)}"), kernel_figure(kernel, f"Kernel {side}×{side}"),
               image_figure(feature, f"Feature map {feature.shape[0]}×{feature.shape[1]}", signed=True)]
    if pooled is not None and pooled.size:
        figures.append(image_figure(pooled, f"{settings['pooling'].capitalize()} pooled "
                                            f"{pooled.shape[0]}×{pooled.shape[1]}", signed=True))
    keys = ["convolution_input", "convolution_kernel", "convolution_feature", "convolution_pooled"]
    for start in range(0, len(figures), 2):  # two a row; one in projector mode (ui/projector.py)
        for slot, figure, key in zip(st.columns(2), figures[start:start + 2], keys[start:start + 2]):
            with slot:
                plotly_chart(figure, key=key, config={"displaylogo": False}, theme=None)

    st.subheader("Output size")
    st.markdown(f"**Convolution**, each side: `{height.formula}`")  # text: lab-written (numbers and formulas from cnnlab.convolution)
    if pooled_size is not None:
        st.markdown(f"**Pooling** {settings['pool_size']}×{settings['pool_size']}, stride "  # text: lab-written (numbers and formulas from cnnlab.convolution)
                    f"{settings['pool_stride']}: `{pooled_size.formula}`")

st.subheader("Parameters and multiply-adds of a conv layer")
st.caption("The same formulas the Train page's model summary counts a whole network with.")
with st.container(horizontal=True, gap="medium", key="convolution_channels"):
    in_channels = st.number_input("Input channels C_in", 1, 2048, 3, key="convolution_in_channels", width=200)
    filters = st.number_input("Filters C_out", 1, 2048, 32, key="convolution_filters", width=200)
params = conv_params(side, int(in_channels), int(filters))
positions = feature.shape[0] * feature.shape[1]
macs = conv_macs(positions, side * side, int(in_channels), int(filters))
st.markdown(  # text: lab-written (numbers and formulas from cnnlab.convolution)
    f"- **Parameters** = (k × k × C_in + 1 bias) × C_out = ({side} × {side} × {in_channels} + 1) × "
    f"{filters} = **{params:,}**, whatever the image size.\n"
    f"- **Multiply-adds per image** = out_h × out_w × C_out × k × k × C_in = {feature.shape[0]} × "
    f"{feature.shape[1]} × {filters} × {side} × {side} × {in_channels} = **{macs:,}** "
    f"({format_count(macs)}).")

st.subheader("Receptive field of a stack")
st.caption("How many input pixels one output of the last layer sees. Add or delete rows; "
           "r = r_prev + (k' - 1) × jump_prev, where jump is the product of the strides so far.")
stack = edit_stack()
if stack:
    rows = receptive_field(stack)
    st.dataframe(pd.DataFrame(rows).rename(columns={
        "layer": "Layer", "kind": "Kind", "kernel_size": "Kernel", "stride": "Stride", "dilation": "Dilation",
        "receptive_field": "Receptive field (px)", "jump": "Jump (px)", "formula": "r ="}),
        hide_index=True, key="convolution_fields")
    st.markdown(f"After {len(rows)} layers one output sees **{rows[-1]['receptive_field']}×"  # text: lab-written (numbers and formulas from cnnlab.convolution)
                f"{rows[-1]['receptive_field']}** input pixels.")
