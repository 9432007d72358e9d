"""Train: describe an experiment, press Train, watch it learn."""

from __future__ import annotations

import sqlite3

import streamlit as st

from cnnlab.config import ExperimentConfig
from ui.experiment_form import experiment_form, load_augmentation, load_into_form
from ui.identity import current_session
from ui.layout import page_setup
from ui.resources import device_name, job_manager, store_error_message
from ui.run_panel import show_run
from ui.share_controls import linked_config, share_and_import

page_setup("Train")
st.title("Train")
device = device_name()  # None while TensorFlow still loads in the background
st.caption(f"Runs train in the background{f' on **{device}**' if device else ''}; leave or "
           "reload this page and the run goes on.")

# Streamlit forgets the widgets of a page one leaves: coming back, the form is refilled
# from a shared link or else the last draft. Then a config to start from, or a pipeline
# from the Augment page.
if "train_dataset" not in st.session_state:
    load_into_form(linked_config() or st.session_state.get("train_draft") or ExperimentConfig())
if "train_load_config" in st.session_state:
    load_into_form(st.session_state.pop("train_load_config"))
if "train_augmentation" in st.session_state:
    load_augmentation(st.session_state.pop("train_augmentation"))
    st.toast("Augmentation pipeline loaded from the Augment page.")


def _start(config: ExperimentConfig) -> bool:
    """Queue a run of `config` and show it; a config that cannot run shows why."""
    try:
        run_id = job_manager().submit(config, session=current_session())
    except ValueError as error:
        st.error(str(error), icon=":material/error:")
        return False
    except sqlite3.OperationalError as error:  # busy or full: said in words, not SQLite's
        st.error(store_error_message(error), icon=":material/error:")
        return False
    st.session_state["train_run_id"] = run_id
    st.query_params["run"] = run_id
    return True


form_column, run_column = st.columns([2, 3], gap="large")
later = []  # the form's parts that need TensorFlow, drawn once the run panel is
with form_column:
    with st.container(border=True):
        values = experiment_form(later)
        draft = None
        try:
            draft = st.session_state["train_draft"] = ExperimentConfig.from_dict(values)
        except ValueError:
            pass  # an unfinished draft; pressing Train shows why it is invalid
        submitted = st.button("Train", type="primary", icon=":material/play_arrow:", width="stretch")
        share_and_import(draft, _start)
    if submitted:
        try:
            config = ExperimentConfig.from_dict(values)
        except ValueError as error:
            st.error(str(error), icon=":material/error:")
        else:
            _start(config)


def _attached_run() -> str | None:
    """The run this page shows: the URL's, this session's, or the newest active one."""
    store = job_manager().store
    for run_id in (st.query_params.get("run"), st.session_state.get("train_run_id")):
        if run_id and store.get_run(run_id) is not None:
            return run_id
    active = store.list_runs(statuses=("running", "queued"), limit=1)
    return active[0].run_id if active else None


attached = _attached_run()
with run_column:
    if attached:
        st.query_params["run"] = attached
        show_run(attached)
    else:
        st.info("No run yet: choose the settings and press **Train**.")
for draw in later:
    draw()
