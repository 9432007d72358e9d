"""Augment: see exactly what the training pipeline feeds the network, then train with it."""

from __future__ import annotations

import math

import streamlit as st

from cnnlab.config import AugmentationConfig, ExperimentConfig, field_help
from cnnlab.data import DATASETS, DatasetUnavailableError, get_info, load_dataset
from cnnlab.data.images import (
    UPLOAD_TYPES,
    decode_image,
    fit_image,
    for_display,
    sample_photos,
)
from cnnlab.text import md
from ui.augmentation_controls import augmentation_controls
from ui.layout import page_setup

page_setup("Augment")

SOURCES = ("Data set image", "Sample photo", "Your photo")
SIZES = (0, 64, 96, 128)  # 0: the data set's own size, as in ExperimentConfig.image_size=None
# Copied from cnnlab.augment.preview (which imports TensorFlow, seconds, once per server): the
# controls are drawn before it is imported. tests/test_page_augment.py checks they agree.
PREVIEW_MIN_SIDE, PREVIEW_MAX_SIDE = 128, 256


@st.cache_data(show_spinner=False, max_entries=16)
def _photo(data: bytes, channels: int):
    """A photo fitted to its preview side (its own, within 128 to 256 px); cached small: the
    full decode of a 20-megapixel upload would hold 240 MB."""
    decoded = decode_image(data)
    side = min(max(min(decoded.shape[:2]), PREVIEW_MIN_SIDE), PREVIEW_MAX_SIDE)
    return fit_image(decoded, side, channels=channels)


@st.cache_data(show_spinner=False, max_entries=64)
def _cost_ms(config_json: str, input_shape: tuple[int, int, int]) -> float:
    from cnnlab.augment.preview import augmentation_from_json, pipeline_cost_ms

    return pipeline_cost_ms(augmentation_from_json(config_json), input_shape)


def _new_draw() -> None:
    st.session_state["augment_seed"] = int(st.session_state.get("augment_seed", 0)) + 1


st.title("Augment")
st.caption("Every version below is drawn by the very Keras layers, with the very seeds, that "
           "training uses. Augmentation acts on training batches only, never on validation or "
           "test images. Switch transforms on in the sidebar.")

# It starts from the Train form's choices (its draft), and "Use in Train form" carries the
# pipeline back; the two pages draw the same controls (ui/augmentation_controls.py).
draft = st.session_state.get("train_draft")
draft = draft if isinstance(draft, ExperimentConfig) else ExperimentConfig()
default_dataset = draft.dataset if draft.dataset in DATASETS else ExperimentConfig().dataset

# The transforms live in the sidebar, which scrolls on its own: the grid stays in view
# while a lecturer flips switches.
with st.sidebar:
    values = augmentation_controls("augment_", draft.augmentation)

try:
    config = AugmentationConfig(**values)
except ValueError as error:
    st.error(md(error), icon=":material/error:")
    st.stop()

# What to preview, in one row across the page (wrapping on a narrow screen): in a column
# the three sources were cut to "Data set image | Sample photo | Y".
with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="augment_choices"):
    if "augment_dataset" not in st.session_state:
        st.session_state["augment_dataset"] = default_dataset
    dataset = st.selectbox(
        "Data set", list(DATASETS), format_func=lambda name: DATASETS[name].title, key="augment_dataset",
        help="Sets the image size and channels training uses, and supplies the images MixUp "
             "and CutMix blend.", width=240)
    info = get_info(dataset)
    sizes = sorted({*SIZES, draft.image_size or 0})
    if "augment_image_size" not in st.session_state:
        st.session_state["augment_image_size"] = draft.image_size or 0
    image_size = st.selectbox(
        "Image size in training", sizes, key="augment_image_size",
        format_func=lambda s: f"{s} px" if s else f"the data set's ({info.default_size} px)",
        help=field_help(ExperimentConfig, "image_size"), width=220)
    side = image_size or info.default_size
    source = st.segmented_control("Source", SOURCES, default=SOURCES[0], required=True,
                                  key="augment_source")

# The grid gets the wider column: it is what the class looks at.
controls, preview = st.columns([2, 3], gap="large")

with controls:
    data, image, title = None, None, ""
    try:
        with st.spinner("Loading the data set..."):  # load_dataset caches it for the process
            data = load_dataset(dataset, image_size=image_size or None, seed=0)
    except (DatasetUnavailableError, ValueError) as error:
        st.warning(f"{md(info.title)} cannot be loaded here: {md(error)}", icon=":material/cloud_off:")
    if source == "Data set image" and data is not None:
        index = st.slider("Training image", 0, len(data.x_train) - 1, 0, key="augment_index")
        image = data.x_train[index]
        title = f"{info.title} #{index}: {data.class_names[data.y_train[index]]}, {side}×{side} as training sees it"
    elif source == "Sample photo":
        photos = sample_photos()
        name = st.selectbox("Photo", list(photos), key="augment_sample",
                            help="Creative Commons photos shipped with scikit-learn; "
                                 "credits in assets/samples/SOURCES.md.")
        image = _photo(photos[name].read_bytes(), info.channels)
        title = name
    elif source == "Your photo":
        upload = st.file_uploader("Photo", type=list(UPLOAD_TYPES), key="augment_upload")
        if upload is not None:
            try:
                image = _photo(upload.getvalue(), info.channels)
                title = upload.name
            except ValueError as error:
                st.error(md(error), icon=":material/broken_image:")
    if image is not None and source != "Data set image":
        # A photo keeps its detail in the preview; training still fits it to the data set's size.
        preview_size = image.shape[0]
        title = (f"{title}, previewed at {preview_size}×{preview_size}; training fits it to "
                 f"{side}×{side}×{info.channels}")
    if image is not None:
        st.image(for_display(image, 160), caption=f"Original: {md(title)}", width=160)

    with st.container(horizontal=True, vertical_alignment="bottom", key="augment_seed_row"):
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                               key="augment_seed", help="The same seed draws the same grid.",
                               width=160)
        st.button("Draw again", icon=":material/casino:", on_click=_new_draw,
                  help="Next seed: a new random draw.")
    count = st.segmented_control("Versions", (4, 9, 16), default=9, required=True, key="augment_count")

from cnnlab.augment.code import to_keras_code

# Imported here, not at the top: it loads TensorFlow (seconds, once per server), and by now
# the controls above are already on screen.
from cnnlab.augment.preview import (
    augmentation_to_json,
    mix_caption,
    preview_grid,
    preview_mix,
)

input_shape = (side, side, info.channels)
with preview:
    if image is None:
        st.info("Choose an image: a data set image, a sample photo, or your own.")
    else:
        if not config.enabled:
            st.markdown("**Augmentation is off**: every version is the original.")
        elif source == "Data set image":
            st.markdown(f"**What the network sees**: {count:d} versions, seed {int(seed)}")
        else:
            st.markdown(f"**What the transforms do**: {count:d} versions, seed {int(seed)}, at the "
                        f"photo's detail (training applies them at {side:d}×{side:d})")
        grid = preview_grid(image, config, count=count, seed=int(seed), training_side=side)
        per_row = math.isqrt(count)
        for start in range(0, count, per_row):
            for column, version in zip(st.columns(per_row), grid[start:start + per_row]):
                column.image(for_display(version, 256), width="stretch")

if config.mixup_alpha or config.cutmix_alpha:
    st.subheader("MixUp and CutMix: blended images, blended labels")
    if data is None:
        st.info("Mixing blends labelled training images; this data set is not available here.")
    else:
        stop = min(int(st.session_state.get("augment_index", 0)) + 8, len(data.x_train))
        start = max(0, stop - 8)
        mixed, labels = preview_mix(data.x_train[start:stop], data.y_train[start:stop], config,
                                    num_classes=data.num_classes, seed=int(seed))
        st.caption(f"Training images #{start:d} to #{stop - 1:d} of {md(info.title)}, mixed as one batch "
                   "after the transforms above. Under each image: the label the loss compares "
                   "the prediction with.")
        for row in range(0, len(mixed), 8):
            for column, picture, label in zip(st.columns(8), mixed[row:row + 8], labels[row:row + 8]):
                column.image(for_display(picture, 160), width="stretch",
                             caption=md(mix_caption(label, data.class_names)))

st.subheader("The pipeline")
with st.container(horizontal=True, vertical_alignment="center", gap="large", key="augment_pipeline"):
    cost = _cost_ms(augmentation_to_json(config), input_shape)
    st.metric("Cost per batch of 32", f"{cost:.1f} ms", width="content",
              help="Time the transforms take for one batch of 32 images of the training size, "
                   "compiled as in the training pipeline, on this server. Training runs them in "
                   "a parallel tf.data map, overlapping the model's own work.")
    if st.button("Use in Train form", type="primary", icon=":material/model_training:", key="augment_use"):
        st.session_state["train_augmentation"] = config
        st.switch_page("pages/1_Train.py")
    st.download_button("Download JSON", augmentation_to_json(config), file_name="augmentation.json",
                       mime="application/json", icon=":material/download:", key="augment_download")
code = to_keras_code(config, input_shape, seed=int(seed))
st.markdown("**As Keras code**: it runs with Keras alone." + (
    " The lab's own layers come first, with their source; the pipeline, "
    "`augmentation = keras.Sequential(...)`, is at the end." if "\nclass " in code else ""))
# The lab's layers' source makes it long: a scrolling box then, not a page of code.
st.code(code, language="python", wrap_lines=True, height=420 if code.count("\n") > 24 else "content")
