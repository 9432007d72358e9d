"""cnnlab: the home page. Streamlit finds the other pages in pages/."""

from __future__ import annotations

import streamlit as st

from ui.layout import page_setup
from ui.resources import job_manager


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
    st.dataframe(
        [
            {
                "status": r.status,
                "run": r.run_id,
                "name": r.name,
                "val accuracy": r.final_metrics.get("val_accuracy"),
                "test accuracy": r.final_metrics.get("test_accuracy"),
                "duration (s)": round(r.duration_s) if r.duration_s is not None else None,
            }
            for r in runs
        ],
        hide_index=True,
        column_config={
            "val accuracy": st.column_config.NumberColumn(format="percent"),
            "test accuracy": st.column_config.NumberColumn(format="percent"),
        },
    )


page_setup("Home")
home()
