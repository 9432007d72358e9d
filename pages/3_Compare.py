"""Compare: runs side by side, and new runs that differ from a baseline in one thing."""

from __future__ import annotations

import streamlit as st

from ui.compare_actions import (
    baseline_picker,
    messages,
    stop_and_delete,
    variant_buttons,
)
from ui.compare_data import curves_of, table_of
from ui.compare_table import run_counts, runs_picker
from ui.compare_view import show_comparison
from ui.layout import page_setup
from ui.resources import job_manager

page_setup("Compare")
st.title("Compare")
st.caption("Tick runs in the table to compare them. Pick one as the baseline and start "
           "variants of it: they train live beside it, differing in one thing only.")

store = job_manager().store
records = store.list_runs()
run_counts(records)
if not records:
    st.info("No runs yet. Train one first; every run is kept here.")
    st.page_link("pages/1_Train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

selected = runs_picker(records, table_of(records, curves_of(records)))
by_id = {record.run_id: record for record in records}
stop_and_delete(selected, by_id)
if not selected:
    messages()
    st.info("Tick one or more runs in the table (the boxes at the left of the rows).")
    st.stop()

with st.container(border=True):
    baseline = baseline_picker(selected, {run: f"{by_id[run].name} · {run}" for run in selected})
    variant_buttons(baseline)
    messages()
show_comparison(selected, baseline, by_id)
