"""Train: describe an experiment, press Train, watch it learn."""

from __future__ import annotations

import sqlite3

import streamlit as st

from cnnlab.config import ExperimentConfig
from cnnlab.text import md
from ui.experiment_form import experiment_form, load_augmentation, load_into_form
from ui.identity import current_owner, current_session
from ui.layout import page_setup
from ui.lr_finder_panel import finder_config
from ui.resources import device_name, job_manager, store_error_message
from ui.run_panel import show_run
from ui.share_controls import new_link_config, share_and_import

page_setup("Train")
st.title("Train")
device = device_name()  # None while TensorFlow still loads in the background
st.caption(f"Runs train in the background{f' on **{md(device)}**' if device else ''}; leave or "
           "reload this page and the run goes on.")

# Streamlit forgets the widgets of a page one leaves: coming back, the form is refilled
# from a link not loaded before (a shared one, the Data page's "Train on ...") or else the
# last draft. Then a config to start from, or a pipeline from the Augment page.
linked = new_link_config()
if linked is not None:
    load_into_form(linked.fitted_to_data())
elif "train_dataset" not in st.session_state:
    load_into_form(st.session_state.get("train_draft") or ExperimentConfig())
if "train_load_config" in st.session_state:
    load_into_form(st.session_state.pop("train_load_config"))
if "train_augmentation" in st.session_state:
    load_augmentation(st.session_state.pop("train_augmentation"))
    st.toast("Augmentation pipeline loaded from the Augment page.")
if st.session_state.pop("train_collapse_form", False):
    st.session_state["train_form_open"] = False  # a run just started: watch it full width
if st.session_state.pop("train_open_form", False):
    st.session_state["train_form_open"] = True  # a finder's rate was loaded: show it


def _start(config: ExperimentConfig) -> bool:
    """Queue a run of `config` and show it; a config that cannot run shows why."""
    try:
        run_id = job_manager().submit(config, session=current_session(), owner_key=current_owner())
    except ValueError as error:
        st.error(md(error), icon=":material/error:")
        return False
    except sqlite3.OperationalError as error:  # busy or full: said in words, not SQLite's
        st.error(md(store_error_message(error)), icon=":material/error:")
        return False
    st.session_state["train_run_id"] = run_id
    st.query_params["run"] = run_id
    st.session_state["train_collapse_form"] = True
    return True


def _attached_run() -> str | None:
    """The run this page shows: the URL's, this session's, or the newest active one."""
    store = job_manager().store
    for run_id in (st.query_params.get("run"), st.session_state.get("train_run_id")):
        if run_id and store.get_run(run_id) is not None:
            return run_id
    active = store.list_runs(statuses=("running", "queued"), limit=1)
    return active[0].run_id if active else None


# The form folds away while a run is watched, so the run's charts get the page's full width
# (beside the form they were 140 to 400 px wide on a projector); open, it sits above the run.
attached = _attached_run()
with st.expander("Experiment settings", expanded=attached is None, icon=":material/tune:",
                 key="train_form_open", on_change="rerun"):
    later = []  # the form's parts that need TensorFlow, drawn once the run panel is
    draft = experiment_form(later)  # the config, parsed once; None while it is invalid
    if draft.config is not None:
        st.session_state["train_draft"] = draft.config  # the Augment page starts from it
    with st.container(horizontal=True, vertical_alignment="center", key="train_actions"):
        submitted = st.button("Train", type="primary", icon=":material/play_arrow:")
        find = st.button("Find learning rate", icon=":material/search_insights:", key="train_find_lr",
                         help="One short run that raises the rate every batch from 1e-7 to 10 and "
                              "draws the loss against it; it suggests a rate and changes nothing.")
        share_and_import(draft.config, _start)
if find:
    if draft.config is None:
        st.error(md(draft.error), icon=":material/error:")
    elif _start(finder_config(draft.config)):
        st.rerun()
if submitted:
    if draft.config is None:
        st.error(md(draft.error), icon=":material/error:")
    elif _start(draft.config):
        st.rerun()  # draw the new run, the form folded

if attached:
    st.query_params["run"] = attached
    with st.container(key="train_run_panel"):
        show_run(attached)
else:
    st.info("No run yet: choose the settings and press **Train**.")
for draw in later:  # the form's parts that need TensorFlow, after the button and the run
    draw()
