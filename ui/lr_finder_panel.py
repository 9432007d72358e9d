"""A learning-rate finder run's panel: the curve, the suggestion and its rule, a button to use it."""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnlab.charts.lr_finder import finder_figure
from cnnlab.config import ExperimentConfig
from cnnlab.training.lr_finder import smooth, stored_curve, suggest
from cnnlab.text import md
from ui.projector import plotly_chart


def finder_config(config: ExperimentConfig) -> ExperimentConfig:
    """The finder run of the form's experiment: same data, model and optimizer."""
    return dataclasses.replace(config, kind="lr_find")


def show_finder(run_id: str, record, store) -> None:
    """The smoothed loss against the rate, live; once it is done, the suggested rate and a
    button that loads the experiment with that rate into the form (it starts nothing)."""
    rates, losses = stored_curve(store, run_id)
    if len(rates) < 3:
        st.caption("The curve appears after the first batches.")
        return
    smoothed = smooth(losses)
    suggestion = None
    if not record.is_active:
        try:
            suggestion = suggest(rates, smoothed)
        except ValueError as error:
            st.warning(md(error), icon=":material/warning:")
    plotly_chart(finder_figure(rates, losses, smoothed, suggestion), key=f"train_lr_find_{run_id}",
                 config={"displaylogo": False}, theme=None)
    if suggestion is None:
        return
    if not suggestion.clear:
        st.warning(
            f"The smoothed loss fell by only {suggestion.descent:.0%} before the rate grew too large, "
            "so the curve is mostly noise and its suggestion is not to be trusted. Why: the test "
            f"ran {len(rates)} batches across eight decades of rates, and this setup (plain SGD, "
            "small batches?) barely moves the loss in so few steps. Try Adam or momentum, larger "
            "batches, or pick the rate by a few short runs.", icon=":material/warning:")
    st.markdown(  # text: lab-written (the finder's numbers and rule names, cnnlab.training.lr_finder)
        f"**Suggested learning rate: {suggestion.learning_rate:.2g}**, by the rule *{suggestion.rule}* "
        f"(the more cautious of the two rules: steepest descent of the smoothed loss at "
        f"{suggestion.steepest:.2g}; a tenth of the rate at its minimum, {suggestion.minimum_over_10:.2g}). "
        f"The test ran {len(rates)} batches, up to a rate of {rates[-1]:.2g}; the model's weights were "
        "put back, and nothing was trained.")
    config = dataclasses.replace(ExperimentConfig.from_dict(record.config), kind="train",
                                 learning_rate=float(f"{suggestion.learning_rate:.2g}"))
    if st.button(f"Use {config.learning_rate:g} in the form", key=f"train_use_lr_{run_id}",
                 icon=":material/input:", help="Loads this experiment into the form with the suggested "
                                                "rate. It starts nothing: press Train when ready."):
        st.session_state["train_load_config"] = config
        st.session_state["train_open_form"] = True  # the page opens it before drawing it
        st.rerun(scope="app")
