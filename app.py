"""cnnlab: the home page and the router to the lab's pages."""

from __future__ import annotations

import streamlit as st


def home() -> None:
    from ui.resources import job_manager

    st.title("cnnlab")
    st.markdown(
        "An interactive lab for the **training tricks of convolutional networks**. "
        "Pick a data set and an architecture, switch dropout, batch normalization or L2 on "
        "and off, press **Train**, and watch the loss and accuracy curves grow while the "
        "network trains in the background. Every run is kept, so you can come back to it."
    )
    st.page_link("pages/train.py", label="Start training", icon=":material/play_arrow:")

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


st.set_page_config(page_title="cnnlab", page_icon=":material/neurology:", layout="wide")
navigation = st.navigation([
    st.Page(home, title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
])
navigation.run()
