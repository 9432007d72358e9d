"""The Inspect page's widgets: pick a model and an image, and the views of what it does.

The heavy work is the engine's (cnnlab.inspect); results are kept per (model, image,
layer) in one process-wide ViewCache, so a slider or a tab rerun recomputes nothing.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnlab.data.images import UPLOAD_TYPES, decode_image, fit_image, for_display, sample_photos
from cnnlab.text import md, plot
from ui.projector import plotly_chart
from ui.resources import job_manager

SOURCE_RUN, SOURCE_IMAGENET = "A run of the lab", "An ImageNet classifier"
IMAGE_VALIDATION, IMAGE_WRONG, IMAGE_SAMPLE, IMAGE_UPLOAD = (
    "Validation image", "One it got wrong", "Sample photo", "Your photo")
TOP_LOSSES = 8


@st.cache_resource(show_spinner=False)
def view_cache():
    from cnnlab.inspect.cache import ViewCache

    return ViewCache()


@st.cache_resource(show_spinner="Loading the run's model...", max_entries=4)
def _run_model(run_id: str):
    from cnnlab.inspect import load_inspected_run

    return load_inspected_run(job_manager().store, run_id)


@st.cache_resource(show_spinner="Building the ImageNet classifier...", max_entries=1)
def _imagenet_model(name: str):
    from cnnlab.inspect.backbones import build_classifier

    return build_classifier(name)


def choose_model():
    """The model to inspect (an InspectedModel), or None with the reason shown."""
    store = job_manager().store
    completed = store.list_runs(statuses=["completed"])
    wanted = st.query_params.get("run")
    kind = st.radio("Inspect", (SOURCE_RUN, SOURCE_IMAGENET), horizontal=True,
                    key="inspect_kind")
    if kind == SOURCE_IMAGENET:
        from cnnlab.inspect.backbones import IMAGENET_CLASSIFIERS, missing_files

        name = st.selectbox("Classifier", list(IMAGENET_CLASSIFIERS), key="inspect_backbone")
        for path, url in missing_files(name):
            st.warning(f"The ImageNet weights of {name} are not in Keras' cache: the file "  # text: lab-written (IMAGENET_CLASSIFIERS, Keras' cache path and URL)
                       f"`{path.rsplit('/', 1)[-1]}` is missing. Download {url} and save it as "
                       f"`{path}` (Keras does so itself on a machine with a network).")
            return None
        try:
            return _imagenet_model(name)
        except ValueError as error:
            st.error(md(error))
            return None
    if not completed:
        st.info("No completed run yet. Train one on the Train page, then come back.")
        return None
    ids = [record.run_id for record in completed]
    names = {record.run_id: f"{record.name} ({record.run_id})" for record in completed}
    if wanted in ids and "inspect_run" not in st.session_state:
        st.session_state["inspect_run"] = wanted
    run_id = st.selectbox("Run", ids, format_func=names.get, key="inspect_run")
    try:
        return _run_model(run_id)
    except ValueError as error:
        st.error(md(error))
        return None


def _open_validation_image(index: int) -> None:
    st.session_state["inspect_image_source"] = IMAGE_VALIDATION
    st.session_state["inspect_val_index"] = index


def choose_image(inspected) -> tuple[np.ndarray | None, int | None, str]:
    """(the image at the model's input size, its true class or None, a caption)."""
    from cnnlab.inspect.views import wrong_predictions

    data = inspected.data
    height, width, channels = (int(side) for side in inspected.model.inputs[0].shape[1:])
    sources = ([IMAGE_VALIDATION, IMAGE_WRONG] if data is not None and len(data.x_val) else []) \
        + [IMAGE_SAMPLE, IMAGE_UPLOAD]
    if st.session_state.get("inspect_image_source") not in sources:
        st.session_state["inspect_image_source"] = sources[0]
    source = st.radio("Image", sources, horizontal=True, key="inspect_image_source")
    if source == IMAGE_VALIDATION:
        index = st.number_input("Validation image number", 0, len(data.x_val) - 1,
                                key="inspect_val_index")
        return data.x_val[index], int(data.y_val[index]), f"validation image {index}"
    if source == IMAGE_WRONG:
        wrong = view_cache().get(inspected.key, "validation set", "wrong",
                                 lambda: wrong_predictions(inspected.model, data.x_val, data.y_val))
        if not wrong:
            st.success("It got every validation image right.")
            return None, None, ""
        index = st.selectbox(f"Validation images it got wrong ({len(wrong)})", wrong,
                             key="inspect_wrong_index")
        return data.x_val[index], int(data.y_val[index]), f"validation image {index}"
    if source == IMAGE_SAMPLE:
        photos = sample_photos()
        name = st.selectbox("Sample photo", list(photos), key="inspect_sample")
        raw = photos[name].read_bytes()
    else:
        upload = st.file_uploader("A photo", type=list(UPLOAD_TYPES), key="inspect_upload")
        if upload is None:
            return None, None, ""
        raw = upload.getvalue()
    try:
        image = fit_image(decode_image(raw), height, channels=channels)
    except ValueError as error:
        st.error(md(error))
        return None, None, ""
    assert image.shape[:2] == (height, width)
    return image, None, source.lower()


def show_prediction(inspected, image, true_class) -> None:
    from cnnlab.charts.inspect import top_k_bars
    from cnnlab.inspect import predict_top_k

    top = view_cache().get(inspected.key, image, "top5",
                           lambda: predict_top_k(inspected.model, image, 5))
    left, right = st.columns([1, 2])
    left.image(for_display(image), caption="What the network sees", width=220)
    plotly_chart(where=right, figure=top_k_bars(top, inspected.class_names, true_class), theme=None,
                       key="inspect_top5", config={"displayModeBar": False})


def show_feature_maps(inspected, image) -> None:
    from cnnlab.charts.inspect import channel_grid, overview_row
    from cnnlab.inspect import conv_layers, feature_maps, inspectable_layers
    from cnnlab.inspect.views import block_output

    model = inspected.model
    layers = inspectable_layers(model)
    layer = st.selectbox("Layer", layers, key="inspect_map_layer")
    maps = view_cache().get(inspected.key, image, "maps",
                            lambda: feature_maps(model, image, [layer]), layer=layer)[layer]
    plotly_chart(channel_grid(maps, title=f"{layer}: {maps.shape[-1]} channels of "
                                 f"{maps.shape[0]}x{maps.shape[1]} (title: mean activation)"),
                    theme=None, key="inspect_maps", config={"displayModeBar": False})
    blocks = list(dict.fromkeys(block_output(model, conv) for conv in conv_layers(model)))[:12]
    if blocks:
        st.markdown("**The network at a glance**: the first channels of each conv block")
        overview = view_cache().get(inspected.key, image, "overview",
                                    lambda: feature_maps(model, image, blocks))
        plotly_chart(overview_row(overview), theme=None, key="inspect_overview",
                        config={"displayModeBar": False})


def show_filters(inspected) -> None:
    from cnnlab.charts.inspect import filter_images
    from cnnlab.inspect import conv_layers, filters

    convs = conv_layers(inspected.model)
    if not convs:
        st.info("This model has no convolution layer.")
        return
    layer = st.selectbox("Conv layer", convs, key="inspect_filter_layer")
    kernels = filters(inspected.model, layer)
    if kernels.shape[-1] in (1, 3):
        st.caption(f"{len(kernels)} filters of {kernels.shape[1]}x{kernels.shape[2]}, each "  # text: lab-written (numbers: the kernels' shape)
                   "scaled on its own: mid grey is a weight of zero, so an edge detector "
                   "shows as a dark side beside a bright one.")
    else:
        st.caption(f"{len(kernels)} filters on {kernels.shape[-1]} input channels (the first "  # text: lab-written (numbers: the kernels' shape)
                   "16 filters and 8 channels shown): each row one filter, each column its "
                   "kernel on one input channel; red negative, blue positive, white zero.")
    plotly_chart(filter_images(kernels), theme=None, key="inspect_filters",
                    config={"displayModeBar": False})


def show_grad_cam(inspected, image) -> None:
    from cnnlab.charts.inspect import heat_overlay
    from cnnlab.inspect import grad_cam, inspectable_layers, saliency
    from cnnlab.inspect.views import default_cam_layer

    model, cache = inspected.model, view_cache()
    layers = inspectable_layers(model)
    default = default_cam_layer(model)
    columns = st.columns(3)
    layer = columns[0].selectbox("Grad-CAM layer", layers, index=layers.index(default),
                                 key="inspect_cam_layer")
    choices = [None, *range(len(inspected.class_names))]
    chosen = columns[1].selectbox(
        "Class", choices, key="inspect_cam_class",
        format_func=lambda c: "the predicted class" if c is None else inspected.class_names[c])
    opacity = columns[2].slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="inspect_cam_opacity")
    cam, explained = cache.get(inspected.key, image, "cam", layer=layer, class_index=chosen,
                               compute=lambda: grad_cam(model, image, layer_name=layer,
                                                        class_index=chosen))
    gradient, _ = cache.get(inspected.key, image, "saliency", class_index=chosen,
                            compute=lambda: saliency(model, image, class_index=chosen))
    heat = np.abs(gradient).max(axis=-1)
    heat = heat / heat.max() if heat.max() > 0 else heat
    name = plot(inspected.class_names[explained])  # a chart title: Plotly's label HTML
    left, right = st.columns(2)
    plotly_chart(where=left, figure=heat_overlay(image, cam, opacity=opacity,
                                   title=f"Grad-CAM for '{name}' at {layer}"),
                      theme=None, key="inspect_cam", config={"displayModeBar": False})
    plotly_chart(where=right, figure=heat_overlay(image, heat, opacity=opacity,
                                    title=f"Saliency for '{name}'"),
                       theme=None, key="inspect_saliency", config={"displayModeBar": False})


def show_top_losses(inspected) -> None:
    from cnnlab.inspect import top_losses

    data = inspected.data
    if data is None or not len(data.x_val):
        st.info("Top losses need the run's validation images.")
        return
    rows = view_cache().get(inspected.key, "validation set", "top_losses",
                            lambda: top_losses(inspected.model, data.x_val, data.y_val, TOP_LOSSES))
    names = inspected.class_names
    st.caption("The validation images with the highest loss. Open one to see it in the views above.")
    columns = st.columns(4)
    for place, row in enumerate(rows):
        with columns[place % 4]:
            st.image(for_display(data.x_val[row["index"]], 96), width=110)
            st.caption(f"{md(names[row['predicted']])} ({row['predicted_probability']:.0%}) / "
                       f"true {md(names[row['true']])} ({row['true_probability']:.0%}), "
                       f"loss {row['loss']:.2f}")
            st.button("Open", key=f"inspect_open_{row['index']}",
                      on_click=_open_validation_image, args=(row["index"],))


def show_distributions(inspected) -> None:
    from cnnlab.charts.inspect import distribution_bands, histogram_at
    from cnnlab.training.distributions import read_distributions

    if not inspected.config:
        st.info("Distributions are recorded while a run of the lab trains.")
        return
    stored = read_distributions(job_manager().store, inspected.key)
    if not stored or not stored["weights"]:
        st.info("This run recorded no weight distributions (it was trained before the lab "
                "recorded them).")
        return
    weight = st.selectbox("Weight", list(stored["weights"]), key="inspect_weight")
    entries = stored["weights"][weight]
    left, right = st.columns(2)
    plotly_chart(where=left, figure=distribution_bands(entries, title=f"{weight} over epochs"), theme=None,
                      key="inspect_bands", config={"displayModeBar": False})
    plotly_chart(where=right, figure=histogram_at(entries, title="first and last epoch"), theme=None,
                       key="inspect_histogram", config={"displayModeBar": False})
    gradients = stored["gradients"].get(weight)
    if gradients:
        plotly_chart(distribution_bands(
            gradients, title=f"gradient of {weight} on a probe batch, per epoch"),
            theme=None, key="inspect_gradient_bands", config={"displayModeBar": False})
