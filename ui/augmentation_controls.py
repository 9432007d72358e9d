"""The augmentation controls, one table drawn by both the Train form and the Augment page.

Why one table: the two pages once labelled the same option differently ("Rotation
(degrees)" against "Rotation range"), so a student could not tell that a setting shown on
one was the one set on the other. Each transform is a switch and, beside it, a slider for
its strength (greyed out while the switch is off), so switching one on gives a sensible
strength at once rather than a slider to drag off zero.

Widget keys: `<prefix><field>` for the strength (and for the flips' switches) and
`<prefix><field>_on` for a transform's switch, so each page keeps its own choices.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnlab.config import FILL_MODES, AugmentationConfig, field_help
from cnnlab.text import md

# (field, label, slider minimum, maximum, step, strength when first switched on, format),
# by group, in the order the pipeline applies them (cnnlab.augment.pipeline).
TRANSFORMS = {
    "Geometry": (
        ("rotation_range", "Rotation (degrees)", 1.0, 180.0, 1.0, 20.0, "%g°"),
        ("width_shift_range", "Horizontal shift (fraction of width)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
        ("height_shift_range", "Vertical shift (fraction of height)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
        ("shear_range", "Shear (degrees)", 1.0, 80.0, 1.0, 15.0, "%g°"),
        ("zoom_range", "Zoom in or out (fraction)", 0.01, 0.95, 0.01, 0.2, "%.2f"),
        ("crop_padding", "Random crop (padding in pixels)", 1, 64, 1, 4, "%d px"),
    ),
    "Colour": (
        ("brightness_range", "Brightness (fraction)", 0.01, 1.0, 0.01, 0.2, "%.2f"),
        ("contrast_range", "Contrast (fraction)", 0.01, 1.0, 0.01, 0.3, "%.2f"),
        ("channel_shift_range", "Channel shift (0-1 scale)", 0.01, 1.0, 0.01, 0.1, "%.2f"),
        ("noise_stddev", "Gaussian noise (standard deviation, 0-1 scale)", 0.01, 0.5, 0.01, 0.1, "%.2f"),
    ),
    "Mixing": (
        ("mixup_alpha", "MixUp (alpha)", 0.05, 10.0, 0.05, 0.4, "%.2f"),
        ("cutmix_alpha", "CutMix (alpha)", 0.05, 10.0, 0.05, 1.0, "%.2f"),
    ),
}
FLIPS = (("horizontal_flip", "Horizontal flip"), ("vertical_flip", "Vertical flip"))
# The brightness scale is a range (ImageDataGenerator's brightness_range): a switch and a
# two-handled slider; switched on it starts at deck 004's [0.2, 1.5].
BRIGHTNESS_SCALE = ("brightness_scale", "Brightness scale (factor range)", 0.0, 3.0, 0.05, (0.2, 1.5))
FILL_MODE_LABEL = "Fill mode"
FILL_MODE_HELP = (field_help(AugmentationConfig, "fill_mode") + " constant: black; nearest: repeat "
                  "the edge; reflect: mirror; wrap: the opposite edge.")
GROUP_NOTES = {"Mixing": "Blends whole batches, labels too."}


def _rows():
    return [row for rows in TRANSFORMS.values() for row in rows]


def widget_values(augmentation: AugmentationConfig, prefix: str) -> dict:
    """The widget states that show `augmentation`: {widget key: value}."""
    values = {f"{prefix}{field}": getattr(augmentation, field) for field, _ in FLIPS}
    for field, _, low, high, _, strength, _ in _rows():
        value = getattr(augmentation, field)
        values[f"{prefix}{field}_on"] = bool(value)
        # Off, the slider keeps the strength switching on will give; on, the value itself.
        values[f"{prefix}{field}"] = type(strength)(min(max(value, low), high)) if value else strength
    values[f"{prefix}fill_mode"] = augmentation.fill_mode
    name, _, _, _, _, strength = BRIGHTNESS_SCALE
    values[f"{prefix}{name}_on"] = augmentation.brightness_scaled
    values[f"{prefix}{name}"] = ((augmentation.brightness_scale_low, augmentation.brightness_scale_high)
                                 if augmentation.brightness_scaled else strength)
    return values


def load_augmentation(augmentation: AugmentationConfig, prefix: str) -> None:
    """Set the controls of `prefix` to `augmentation` (before they are drawn)."""
    st.session_state.update(widget_values(augmentation, prefix))


def augmentation_controls(prefix: str, initial: AugmentationConfig | None = None, *,
                          containers: dict | None = None) -> dict:
    """Draw every augmentation control; return the values as an AugmentationConfig dict.

    Args:
        prefix: the widget-key prefix, so each page holds its own choices.
        initial: what controls drawn for the first time show (default: all off).
        containers: {group: where to draw it} for "Geometry", "Colour" and "Mixing"
            (default: one under the other here, each with its heading).
    """
    for key, value in widget_values(initial or AugmentationConfig(), prefix).items():
        st.session_state.setdefault(key, value)
    values = {}
    for group, rows in TRANSFORMS.items():
        where = (containers or {}).get(group)
        with where if where is not None else st.container():
            st.markdown(f"**{group}**")  # text: lab-written (TRANSFORMS' group names)
            if group in GROUP_NOTES:
                st.caption(GROUP_NOTES[group])
            if group == "Geometry":
                for field, label in FLIPS:
                    values[field] = st.toggle(label, key=f"{prefix}{field}",  # text: lab-written (FLIPS)
                                              help=field_help(AugmentationConfig, field))
            for field, label, low, high, step, _, fmt in rows:
                on = st.toggle(label, key=f"{prefix}{field}_on",  # text: lab-written (TRANSFORMS)
                               help=field_help(AugmentationConfig, field))
                amount = st.slider(label, low, high, step=step, format=fmt,  # text: lab-written (TRANSFORMS)
                                   key=f"{prefix}{field}",
                                   disabled=not on, label_visibility="collapsed")
                values[field] = amount if on else type(amount)(0)
            if group == "Colour":
                values.update(_brightness_scale(prefix))
            if group == "Geometry":
                values["fill_mode"] = st.selectbox(FILL_MODE_LABEL, FILL_MODES, key=f"{prefix}fill_mode",
                                                   help=FILL_MODE_HELP)
    assert set(values) == {f.name for f in dataclasses.fields(AugmentationConfig)}, "a control per field"
    return values


def _brightness_scale(prefix: str) -> dict:
    """The brightness scale's switch and range slider; off, the factors are [1, 1]."""
    name, label, low, high, step, _ = BRIGHTNESS_SCALE
    on = st.toggle(label, key=f"{prefix}{name}_on",  # text: lab-written (BRIGHTNESS_SCALE)
                   help=field_help(AugmentationConfig, "brightness_scale_low").split(":")[0]
                   + ": every pixel times one factor drawn from this range per image "
                   "(ImageDataGenerator's brightness_range; deck 004 uses 0.2 to 1.5).")
    lower, upper = st.slider(label, low, high,  # text: lab-written (BRIGHTNESS_SCALE)
                             step=step, format="%.2f×", key=f"{prefix}{name}",
                             disabled=not on, label_visibility="collapsed")
    if not on:
        lower = upper = 1.0
    return {"brightness_scale_low": float(lower), "brightness_scale_high": float(upper)}
