"""Augment: see exactly what the training pipeline feeds the network, then train with it."""

from __future__ import annotations

import math

import streamlit as st

from cnnlab.config import FILL_MODES, AugmentationConfig, ExperimentConfig, field_help
from cnnlab.data import DATASETS, DatasetUnavailableError, get_info, load_dataset
from cnnlab.images import (
    UPLOAD_TYPES,
    decode_image,
    fit_image,
    for_display,
    sample_photos,
)
from ui.layout import page_setup

page_setup("Augment")

# (field, label, slider minimum, maximum, step, strength when first switched on, format)
GEOMETRY = (
    ("rotation_range", "Rotation (degrees)", 1.0, 180.0, 1.0, 20.0, "%g°"),
    ("width_shift_range", "Horizontal shift (fraction of width)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
    ("height_shift_range", "Vertical shift (fraction of height)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
    ("shear_range", "Shear (degrees)", 1.0, 80.0, 1.0, 15.0, "%g°"),
    ("zoom_range", "Zoom in or out (fraction)", 0.01, 0.95, 0.01, 0.2, "%.2f"),
    ("crop_padding", "Random crop (padding in pixels)", 1, 64, 1, 4, "%d px"),
)
COLOUR = (
    ("brightness_range", "Brightness (fraction)", 0.01, 1.0, 0.01, 0.2, "%.2f"),
    ("contrast_range", "Contrast (fraction)", 0.01, 1.0, 0.01, 0.3, "%.2f"),
    ("channel_shift_range", "Channel shift (0-1 scale)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
)
MIXING = (
    ("mixup_alpha", "MixUp (alpha)", 0.05, 10.0, 0.05, 0.4, "%.2f"),
    ("cutmix_alpha", "CutMix (alpha)", 0.05, 10.0, 0.05, 1.0, "%.2f"),
)
FLIPS = (("horizontal_flip", "Horizontal flip"), ("vertical_flip", "Vertical flip"))
SOURCES = ("Data set image", "Sample photo", "Your photo")
SIZES = (0, 64, 96, 128)  # 0: the data set's own size, as in ExperimentConfig.image_size=None


@st.cache_data(show_spinner=False, max_entries=16)
def _photo(data: bytes, side: int, channels: int):
    # Cached small: the full decode of a 20-megapixel upload would hold 240 MB.
    return fit_image(decode_image(data), side, channels=channels)


@st.cache_data(show_spinner=False, max_entries=64)
def _cost_ms(config_json: str, input_shape: tuple[int, int, int]) -> float:
    from cnnlab.augment import augmentation_from_json, pipeline_cost_ms

    return pipeline_cost_ms(augmentation_from_json(config_json), input_shape)


def _transform(field: str, label: str, low, high, step, strength, fmt, initial: AugmentationConfig):
    """A toggle that switches a transform on, and the slider that sets its strength."""
    value = getattr(initial, field)
    on = st.toggle(label, value=bool(value), key=f"augment_{field}_on",
                   help=field_help(AugmentationConfig, field))
    start = min(max(value, low), high) if value else strength
    amount = st.slider(label, low, high, start, step, format=fmt, key=f"augment_{field}",
                       disabled=not on, label_visibility="collapsed")
    return amount if on else type(amount)(0)


def _new_draw() -> None:
    st.session_state["augment_seed"] = int(st.session_state.get("augment_seed", 0)) + 1


st.title("Augment")
st.caption("Every version below is drawn by the very Keras layers, with the very seeds, that "
           "training uses. Augmentation acts on training batches only, never on validation or "
           "test images. Switch transforms on in the sidebar.")

train_config = st.session_state.get("train_config")
initial: AugmentationConfig = st.session_state.get("train_augmentation") or (
    train_config.augmentation if isinstance(train_config, ExperimentConfig) else AugmentationConfig())
default_dataset = train_config.dataset if isinstance(train_config, ExperimentConfig) else "shapes"

# The transforms live in the sidebar, which scrolls on its own: the grid stays in view
# while a lecturer flips switches.
values = {}
with st.sidebar:
    st.markdown("### Geometry")
    for field, label in FLIPS:
        values[field] = st.toggle(label, value=getattr(initial, field), key=f"augment_{field}",
                                  help=field_help(AugmentationConfig, field))
    for row in GEOMETRY:
        values[row[0]] = _transform(*row, initial)
    values["fill_mode"] = st.selectbox(
        "Fill mode", FILL_MODES, index=FILL_MODES.index(initial.fill_mode), key="augment_fill_mode",
        help=field_help(AugmentationConfig, "fill_mode") + " constant: black; nearest: repeat "
             "the edge; reflect: mirror; wrap: the opposite edge.")
    st.markdown("### Colour")
    for row in COLOUR:
        values[row[0]] = _transform(*row, initial)
    st.markdown("### Mixing")
    st.caption("Blends whole batches, labels too.")
    for row in MIXING:
        values[row[0]] = _transform(*row, initial)

try:
    config = AugmentationConfig(**values)
except ValueError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()

controls, preview = st.columns(2, gap="large")

with controls:
    dataset = st.selectbox(
        "Data set", list(DATASETS), index=list(DATASETS).index(default_dataset),
        format_func=lambda name: DATASETS[name].title, key="augment_dataset",
        help="Sets the image size and channels the preview uses, and supplies the images "
             "MixUp and CutMix blend.")
    info = get_info(dataset)
    image_size = st.selectbox(
        "Image size", SIZES, key="augment_image_size",
        format_func=lambda s: f"{s} px" if s else f"the data set's ({info.default_size} px)",
        help=field_help(ExperimentConfig, "image_size"))
    side = image_size or info.default_size
    source = st.segmented_control("Source", SOURCES, default=SOURCES[0], required=True,
                                  key="augment_source")

    data, image, title = None, None, ""
    try:
        with st.spinner("Loading the data set..."):  # load_dataset caches it for the process
            data = load_dataset(dataset, image_size=image_size or None, seed=0)
    except (DatasetUnavailableError, ValueError) as error:
        st.warning(f"{info.title} cannot be loaded here: {error}", icon=":material/cloud_off:")
    if source == "Data set image" and data is not None:
        index = st.slider("Training image", 0, len(data.x_train) - 1, 0, key="augment_index")
        image = data.x_train[index]
        title = f"{info.title} #{index}: {data.class_names[data.y_train[index]]}"
    elif source == "Sample photo":
        photos = sample_photos()
        name = st.selectbox("Photo", list(photos), key="augment_sample",
                            help="Creative Commons photos shipped with scikit-learn; "
                                 "credits in assets/samples/SOURCES.md.")
        image = _photo(photos[name].read_bytes(), side, info.channels)
        title = f"{name}, fitted to {side}×{side}×{info.channels}"
    elif source == "Your photo":
        upload = st.file_uploader("Photo", type=list(UPLOAD_TYPES), key="augment_upload")
        if upload is not None:
            try:
                image = _photo(upload.getvalue(), side, info.channels)
                title = f"{upload.name}, fitted to {side}×{side}×{info.channels}"
            except ValueError as error:
                st.error(str(error), icon=":material/broken_image:")
    if image is not None:
        st.image(for_display(image, 160), caption=f"Original: {title}", width=160)

    seed_column, draw_column = st.columns([3, 2], vertical_alignment="bottom")
    seed = seed_column.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                    key="augment_seed", help="The same seed draws the same grid.")
    draw_column.button("Draw again", icon=":material/casino:", on_click=_new_draw, width="stretch",
                       help="Next seed: a new random draw.")
    count = st.segmented_control("Versions", (4, 9, 16), default=9, required=True, key="augment_count")

# Imported here, not at the top: it loads TensorFlow (seconds, once per server), and by now
# the controls above are already on screen.
from cnnlab.augment import (
    augmentation_to_json,
    mix_caption,
    preview_grid,
    preview_mix,
    to_keras_code,
)

input_shape = (side, side, info.channels)
with preview:
    if image is None:
        st.info("Choose an image: a data set image, a sample photo, or your own.")
    else:
        st.markdown(f"**What the network sees**: {count} versions, seed {int(seed)}" if config.enabled
                    else "**Augmentation is off**: every version is the original.")
        grid = preview_grid(image, config, count=count, seed=int(seed))
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
        st.caption(f"Training images #{start} to #{stop - 1} of {info.title}, mixed as one batch "
                   "after the transforms above. Under each image: the label the loss compares "
                   "the prediction with.")
        for row in range(0, len(mixed), 8):
            for column, picture, label in zip(st.columns(8), mixed[row:row + 8], labels[row:row + 8]):
                column.image(for_display(picture, 160), width="stretch",
                             caption=mix_caption(label, data.class_names))

st.subheader("The pipeline")
cost_column, use_column, download_column = st.columns(3, vertical_alignment="center")
cost = _cost_ms(augmentation_to_json(config), input_shape)
cost_column.metric("Cost per batch of 32", f"{cost:.1f} ms",
                   help="Time the transforms take for one batch of 32 images of this size, compiled "
                        "as in the training pipeline, on this server. Training runs them in a "
                        "parallel tf.data map, overlapping the model's own work.")
if use_column.button("Use in Train form", type="primary", icon=":material/model_training:",
                     key="augment_use", width="stretch"):
    st.session_state["train_augmentation"] = config
    st.switch_page("pages/1_Train.py")
download_column.download_button(
    "Download JSON", augmentation_to_json(config), file_name="augmentation.json",
    mime="application/json", icon=":material/download:", key="augment_download", width="stretch")
st.code(to_keras_code(config, input_shape, seed=int(seed)), language="python", wrap_lines=True)
