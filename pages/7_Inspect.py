"""Inspect: what a trained network does with one image, and how its weights moved."""

from __future__ import annotations

import streamlit as st

from ui.inspect_view import (
    choose_image,
    choose_model,
    show_distributions,
    show_feature_maps,
    show_filters,
    show_grad_cam,
    show_prediction,
    show_top_losses,
)
from ui.layout import page_setup

page_setup("Inspect")
st.title("Inspect")
st.caption("See inside a trained network: its top-5 guess, what each layer computes, its "
           "filters, where it looked (Grad-CAM, saliency), the images it gets most wrong, "
           "and how its weights spread over the epochs.")

inspected = choose_model()
if inspected is None:
    st.stop()
image, true_class, caption = choose_image(inspected)
if image is not None:
    show_prediction(inspected, image, true_class)
    maps, filters, cam, losses, distributions = st.tabs(
        ["Feature maps", "Filters", "Grad-CAM", "Top losses", "Distributions"])
    with maps:
        show_feature_maps(inspected, image)
    with cam:
        show_grad_cam(inspected, image)
else:
    filters, losses, distributions = st.tabs(["Filters", "Top losses", "Distributions"])
with filters:
    show_filters(inspected)
with losses:
    show_top_losses(inspected)
with distributions:
    show_distributions(inspected)
