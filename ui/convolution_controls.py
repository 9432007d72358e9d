"""The convolution explorer's controls: the image, the kernel, the layer, the stack."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnnlab.convolution import KERNELS, PADDINGS, LayerStep, kernel_named, to_grey, validate_kernel
from cnnlab.data import DATASETS, DatasetUnavailableError, get_info, load_dataset
from cnnlab.data.images import UPLOAD_TYPES, decode_image, fit_image, sample_photos
from cnnlab.text import md

SOURCES = ("Sample photo", "Data set image", "Your photo")
PHOTO_SIDES = (32, 64, 96, 128)
OWN_KERNELS = {"Your own 3x3": 3, "Your own 5x5": 5}
DEFAULT_STACK = pd.DataFrame({"kind": ["conv", "conv", "pool", "conv"], "kernel_size": [3, 3, 2, 3],
                              "stride": [1, 1, 2, 1], "dilation": [1, 1, 1, 1]})


@st.cache_data(show_spinner=False, max_entries=16)
def _photo(data: bytes, side: int) -> np.ndarray:
    """A photo as a grey square of `side` pixels; decoded by the lab's defensive reader."""
    return to_grey(fit_image(decode_image(data), side, channels=3))


def pick_image() -> tuple[np.ndarray | None, str]:
    """The grey (H, W) image in [0, 1] to convolve, and its caption; None until one is given."""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="convolution_choices"):
        source = st.segmented_control("Image", SOURCES, default=SOURCES[0], required=True,
                                      key="convolution_source")
        if source == "Data set image":
            dataset = st.selectbox("Data set", list(DATASETS), format_func=lambda n: DATASETS[n].title,
                                   key="convolution_dataset", width=220)
        else:
            side = st.selectbox("Side in pixels", PHOTO_SIDES, index=2, key="convolution_side", width=160,
                                help="The photo's centre square, resized and turned grey: a CNN's "
                                     "input is a small square.")
    if source == "Sample photo":
        photos = sample_photos()
        name = st.selectbox("Photo", list(photos), key="convolution_sample",
                            help="Creative Commons photos; credits in assets/samples/SOURCES.md.")
        return _photo(photos[name].read_bytes(), side), f"{name}, {side}×{side} grey"
    if source == "Your photo":
        upload = st.file_uploader("Photo", type=list(UPLOAD_TYPES), key="convolution_upload")
        if upload is None:
            st.info("Upload a PNG, JPEG, GIF, BMP, TIFF or WebP photo.", icon=":material/upload:")
            return None, ""
        try:
            return _photo(upload.getvalue(), side), f"{upload.name}, {side}×{side} grey"
        except ValueError as error:
            st.error(md(error), icon=":material/error:")
            return None, ""
    info = get_info(dataset)
    try:
        with st.spinner("Loading the data set..."):
            data = load_dataset(dataset, seed=0)
    except (DatasetUnavailableError, ValueError) as error:
        st.warning(f"{md(info.title)} cannot be loaded here: {md(error)}", icon=":material/cloud_off:")
        return None, ""
    index = st.slider("Training image", 0, len(data.x_train) - 1, 0, key="convolution_index")
    image = to_grey(data.x_train[index])
    label = data.class_names[data.y_train[index]]
    return image, f"{info.title} #{index}: {label}, {image.shape[0]}×{image.shape[1]}"


def pick_kernel() -> np.ndarray | None:
    """The kernel: a named one or the user's own, typed into a grid; None while it is invalid."""
    name = st.selectbox("Kernel", [*KERNELS, *OWN_KERNELS], index=1, key="convolution_kernel_name",
                        help="Sobel x answers dark-to-bright edges with positive (blue) values and "
                             "bright-to-dark ones with negative (red) values.")
    if name not in OWN_KERNELS:
        return kernel_named(name)
    side = OWN_KERNELS[name]
    start = np.zeros((side, side), np.float32)
    start[side // 2, side // 2] = 1.0
    table = st.data_editor(pd.DataFrame(start, columns=[str(c + 1) for c in range(side)]),
                           key=f"convolution_own_{side}", hide_index=True, num_rows="fixed",
                           help="Type a weight in each cell; it starts as the identity.")
    try:
        return validate_kernel(table.to_numpy(dtype=float, na_value=np.nan))
    except ValueError as error:
        st.error(md(error), icon=":material/error:")
        return None


def layer_settings() -> dict:
    """Padding, stride and dilation of the convolution; the pooling after it."""
    padding = st.segmented_control("Padding", PADDINGS, default="valid", required=True,
                                   key="convolution_padding",
                                   help="valid: no zeros added, the map shrinks; same: zeros around "
                                        "the border keep ceil(side / stride).")
    stride = st.slider("Stride", 1, 4, 1, key="convolution_stride")
    dilation = st.slider("Dilation", 1, 4, 1, key="convolution_dilation", disabled=stride > 1,
                         help="Gaps between the kernel's taps. Keras cannot combine it with a stride "
                              "above 1, so it is 1 while the stride is.")
    pooling = st.segmented_control("Pooling", ("none", "max", "average"), default="max", required=True,
                                   key="convolution_pooling")
    pool_size = st.slider("Pool size", 2, 4, 2, key="convolution_pool_size", disabled=pooling == "none")
    pool_stride = st.slider("Pool stride", 1, 4, 2, key="convolution_pool_stride", disabled=pooling == "none")
    return {"padding": padding, "stride": stride, "dilation": 1 if stride > 1 else dilation,
            "pooling": pooling, "pool_size": pool_size, "pool_stride": pool_stride}


def edit_stack() -> list[LayerStep] | None:
    """The stack whose receptive field is traced, one row per layer (add or delete rows)."""
    table = st.data_editor(
        DEFAULT_STACK, key="convolution_stack", num_rows="dynamic", hide_index=True,
        column_config={
            "kind": st.column_config.SelectboxColumn("Layer", options=["conv", "pool"], required=True),
            "kernel_size": st.column_config.NumberColumn("Kernel", min_value=1, max_value=15, step=1,
                                                         required=True),
            "stride": st.column_config.NumberColumn("Stride", min_value=1, max_value=8, step=1, required=True),
            "dilation": st.column_config.NumberColumn("Dilation", min_value=1, max_value=8, step=1,
                                                      required=True),
        })
    try:
        return [LayerStep(str(row.kind), int(row.kernel_size), int(row.stride), int(row.dilation))
                for row in table.itertuples() if not pd.isna(row.kind)]
    except (TypeError, ValueError) as error:
        st.error(f"Cannot trace this stack: {md(error)} Fill in every cell of each row.", icon=":material/error:")
        return None
