"""cnnlab: the home page. Streamlit finds the other pages in pages/."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.layout import page_setup
from ui.resources import job_manager


def recent_runs_table(runs) -> pd.DataFrame:
    """A row per run: its name and results first, where a projector shows them. A result a
    run does not have (one stopped before its first epoch) is missing (NaN), which the table
    shows as a dash rather than "None"."""
    def result(record, key):
        value = record.final_metrics.get(key)
        return float("nan") if value is None else 100.0 * value

    return pd.DataFrame({
        "name": [record.name for record in runs],
        "status": [record.status for record in runs],
        "val accuracy": [result(record, "val_accuracy") for record in runs],
        "test accuracy": [result(record, "test_accuracy") for record in runs],
        "duration": [float("nan") if record.duration_s is None else record.duration_s for record in runs],
        "run": [record.run_id for record in runs],
    })


def home() -> None:
    st.title("cnnlab")
    st.markdown(
        "An interactive lab for the **training tricks of convolutional networks**. "
        "Pick a data set and an architecture, switch dropout, batch normalization or L2 on "
        "and off, press **Train**, and watch the loss and accuracy curves grow while the "
        "network trains in the background. Every run is kept, so you can come back to it."
    )
    st.page_link("pages/1_Train.py", label="Start training", icon=":material/play_arrow:")

    runs = job_manager().store.list_runs(limit=20)
    st.subheader("Recent runs")
    if not runs:
        st.info("No runs yet. The default experiment (handwritten digits, the lectures' small "
                "convnet) trains in well under a minute.")
        return
    st.dataframe(recent_runs_table(runs), hide_index=True, placeholder="—", column_config={
        "name": st.column_config.TextColumn("name", width="large"),
        "val accuracy": st.column_config.NumberColumn("val accuracy", format="%.1f%%"),
        "test accuracy": st.column_config.NumberColumn("test accuracy", format="%.1f%%"),
        "duration": st.column_config.NumberColumn("duration", format="%.0f s"),
        "run": st.column_config.TextColumn("run id"),
    })


page_setup("Home")
home()
