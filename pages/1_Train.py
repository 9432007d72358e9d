"""Train: describe an experiment, press Train, watch it learn."""

from __future__ import annotations

import streamlit as st

from cnnlab.config import OPTIMIZERS, ExperimentConfig, Tricks, field_help
from cnnlab.data import DATASETS
from cnnlab.models.registry import ARCHITECTURES
from ui.layout import page_setup
from ui.resources import device_name, job_manager
from ui.run_panel import show_run

page_setup("Train")
st.title("Train")
st.caption(f"Runs train in the background on **{device_name()}**; leave or reload this page "
           "and the run goes on.")

defaults: ExperimentConfig = st.session_state.get("train_config", ExperimentConfig())

form_column, run_column = st.columns([2, 3], gap="large")
with form_column, st.form("train_form", border=True):
    data_tab, model_tab, optimizer_tab = st.tabs(["Data", "Model and tricks", "Optimization"])
    with data_tab:
        dataset = st.selectbox(
            "Data set", list(DATASETS), index=list(DATASETS).index(defaults.dataset),
            format_func=lambda name: DATASETS[name].title, key="train_dataset",
            help=field_help(ExperimentConfig, "dataset"),
        )
        train_size = st.number_input(
            "Training images (0 = all)", min_value=0, value=defaults.train_size or 0, step=100,
            key="train_train_size",
            help="Train on a subset to see overfitting, as with the lectures' 2,000 images.",
        )
        validation_fraction = st.slider(
            "Validation fraction", 0.0, 0.5, defaults.validation_fraction, 0.05,
            key="train_validation_fraction", help=field_help(ExperimentConfig, "validation_fraction"),
        )
    with model_tab:
        architecture = st.selectbox(
            "Architecture", list(ARCHITECTURES), index=list(ARCHITECTURES).index(defaults.architecture),
            format_func=lambda name: ARCHITECTURES[name].title, key="train_architecture",
        )
        dropout_rate = st.slider("Dropout rate", 0.0, 0.9, defaults.tricks.dropout_rate, 0.05,
                                 key="train_dropout_rate", help=field_help(Tricks, "dropout_rate"))
        batch_norm = st.toggle("Batch normalization", defaults.tricks.batch_norm,
                               key="train_batch_norm", help=field_help(Tricks, "batch_norm"))
        l2 = st.number_input("L2 (lambda)", min_value=0.0, max_value=10.0, value=defaults.tricks.l2,
                             step=1e-4, format="%g", key="train_l2", help=field_help(Tricks, "l2"))
    with optimizer_tab:
        optimizer = st.selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(defaults.optimizer),
                                 key="train_optimizer")
        learning_rate = st.number_input(
            "Learning rate", min_value=0.0, value=defaults.learning_rate, step=1e-4, format="%g",
            key="train_learning_rate", help=field_help(ExperimentConfig, "learning_rate"),
        )
        batch_column, epoch_column, seed_column = st.columns(3)
        batch_size = batch_column.number_input("Batch size", min_value=1, value=defaults.batch_size,
                                               key="train_batch_size")
        epochs = epoch_column.number_input("Epochs", min_value=1, value=defaults.epochs,
                                           key="train_epochs")
        seed = seed_column.number_input("Seed", min_value=0, value=defaults.seed, key="train_seed")
    submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:",
                                      width="stretch")

if submitted:
    values = {
        "dataset": dataset, "train_size": int(train_size) or None,
        "validation_fraction": validation_fraction, "architecture": architecture,
        "tricks": {"dropout_rate": dropout_rate, "batch_norm": batch_norm, "l2": l2},
        "optimizer": optimizer, "learning_rate": learning_rate, "batch_size": int(batch_size),
        "epochs": int(epochs), "seed": int(seed),
    }
    try:
        config = ExperimentConfig.from_dict({**defaults.to_dict(), **values})
        run_id = job_manager().submit(config)
    except ValueError as error:
        form_column.error(str(error), icon=":material/error:")
    else:
        st.session_state["train_config"] = config
        st.session_state["train_run_id"] = run_id
        st.query_params["run"] = run_id


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
