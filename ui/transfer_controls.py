"""The Train form's transfer-learning controls: pretrained weights, another run's weights,
the transfer mode, and a view of which layers train.

Widget keys are `train_transfer_<field>`, the names `load_into_form` fills from a config,
so a run's transfer settings come back into the form with the rest of it. Below the
controls, `transfer_view` shows, for the form's whole experiment, why the engine would
refuse it (`check_transfer`) and which layers each phase trains (`trainable_by_phase`);
the network is built (random weights, never a download) only when asked, and cached.
"""

from __future__ import annotations

import dataclasses
import os

import streamlit as st

from cnnlab.config import (
    TRANSFER_MODES,
    WEIGHTS,
    ExperimentConfig,
    TransferConfig,
    field_help,
)
from cnnlab.data import DATASETS
from cnnlab.models.backbones import is_backbone
from cnnlab.text import code, md

MODE_LABELS = {
    "feature_extraction": "Feature extraction (freeze the base)",
    "fine_tune": "Fine-tune the top layers",
    "two_phase": "Two phases: head, then fine-tune",
}
WEIGHT_LABELS = {"imagenet": "ImageNet (pretrained)", "random": "Random (no transfer)"}


def transfer_controls(architecture: str) -> dict:
    """Draw the transfer controls for `architecture`; return a dict of TransferConfig fields.

    Why the start run list holds only completed runs of the same architecture: only those
    have a saved model whose weights fit (the engine refuses the others anyway).
    """
    defaults = TransferConfig()
    for name, value in dataclasses.asdict(defaults).items():  # a form not filled by a config
        st.session_state.setdefault(f"train_transfer_{name}", value)
    values = {"weights": st.session_state.get("train_transfer_weights", defaults.weights)}
    if is_backbone(architecture):
        values["weights"] = st.radio(
            "Backbone weights", WEIGHTS, format_func=WEIGHT_LABELS.get, horizontal=True,
            key="train_transfer_weights", help=field_help(TransferConfig, "weights"))
        if values["weights"] == "imagenet":
            _weights_note(architecture)

    runs = _completed_runs(architecture)
    key = "train_transfer_start_from_run"
    if st.session_state.get(key) not in runs:  # a run deleted since, or of another network
        st.session_state[key] = ""  # "" rather than None: Streamlit shows None as no choice
    values["start_from_run"] = st.selectbox(
        "Start from a run", ["", *runs], key=key,
        format_func=lambda run_id: runs[run_id] if run_id else "No (a fresh start)",
        help=field_help(TransferConfig, "start_from_run") + " Only completed runs of this "
        "architecture are listed; the new run needs the same image size and channels.")

    values["start_from_run"] = values["start_from_run"] or None
    transfer = transfers(architecture, values["start_from_run"], values["weights"])
    mode = st.radio("Transfer mode", TRANSFER_MODES, format_func=MODE_LABELS.get,
                    key="train_transfer_mode", disabled=not transfer,
                    help=field_help(TransferConfig, "mode"))
    layers_key = "train_transfer_fine_tune_layers"
    if transfer and mode != "feature_extraction" and st.session_state.get(layers_key) == 0:
        # Fine-tuning nothing would be refused (or read as 1): the modes start at 1 layer.
        st.session_state[layers_key] = 1
    columns = st.columns(3)
    layers = columns[0].number_input(
        "Top layers to fine-tune", min_value=0, max_value=1000, key=layers_key,
        disabled=not transfer or mode == "feature_extraction",
        help=field_help(TransferConfig, "fine_tune_layers") + " Layers with weights are "
        "counted (BatchNormalization is not: it stays frozen); 1000 means all.")
    factor = columns[1].number_input(
        "Fine-tuning rate factor", min_value=0.0001, max_value=1.0, format="%g",
        key="train_transfer_learning_rate_factor",
        disabled=not transfer or mode == "feature_extraction",
        help=field_help(TransferConfig, "learning_rate_factor") + " It scales the whole "
        "model's rate while the base's top layers train.")
    head_epochs = columns[2].number_input(
        "Head-only epochs", min_value=1, key="train_transfer_head_epochs",
        disabled=not transfer or mode != "two_phase",
        help=field_help(TransferConfig, "head_epochs"))
    values.update(mode=mode, fine_tune_layers=int(layers), learning_rate_factor=float(factor),
                  head_epochs=int(head_epochs))
    return values


def transfers(architecture: str, start_from_run: str | None, weights: str) -> bool:
    """Whether these settings start from trained weights (as `uses_transfer` decides),
    known without importing the training code, which loads Keras."""
    return start_from_run is not None or (is_backbone(architecture) and weights == "imagenet")


def transfer_view(architecture: str, transfer: dict, config: ExperimentConfig | None) -> None:
    """Below the controls: why a run of `config` would be refused, and which layers train.

    Args:
        architecture: the form's architecture.
        transfer: what `transfer_controls` returned.
        config: the form's whole experiment; None while the form is invalid (the Train
            button says why), when nothing is checked or built.
    """
    if not transfers(architecture, transfer["start_from_run"], transfer["weights"]):
        st.caption("No transfer: every layer starts from random weights and trains.")
        return
    problem = _problem(config) if config is not None else ""
    if problem:
        st.warning(md(problem), icon=":material/warning:")
    # Drawn (disabled) even while the settings are refused: a widget left out of a rerun
    # loses its state, and the view should come back once the problem is fixed.
    if st.toggle("Show which layers train", key="train_transfer_show_layers",
                 disabled=problem is not None) and problem is None:
        _layer_view(config)


def _weights_note(architecture: str) -> None:
    """Whether the ImageNet weights file is in Keras' cache, naming the file and folder.

    Why before training: offline (a lecture hall without network) a run would fail only
    after loading its data; here the lecturer sees at once which file to copy where.
    """
    from cnnlab.models.pretrained import weights_file, weights_folder

    dataset, image_size = _form_settings()
    file = weights_file(architecture, (image_size, image_size, DATASETS[dataset].channels))
    folder = weights_folder()
    if os.path.isfile(os.path.join(folder, file)):
        st.caption(f"ImageNet weights in Keras' cache: {code(file)} in {code(folder)}.")
    else:
        st.info(f"The ImageNet weights file {code(file)} is not in Keras' cache folder {code(folder)} "
                "yet. The run downloads it there, which needs the network; offline, copy the "
                "file into that folder first, or choose Random weights.",
                icon=":material/cloud_download:")


def _form_settings() -> tuple[str, int]:
    """The data set and image size chosen elsewhere in the Train form (drawn before it)."""
    dataset = st.session_state.get("train_dataset", "digits")
    info = DATASETS.get(dataset) or DATASETS["digits"]
    return info.name, int(st.session_state.get("train_image_size") or info.default_size)


def _problem(config: ExperimentConfig) -> str | None:
    """Why a run of `config` would be refused (the engine's own check), or None."""
    from cnnlab.training.transfer import check_transfer
    from ui.resources import job_manager

    try:
        check_transfer(config, job_manager().store)
    except ValueError as error:
        return str(error)
    return None


def _completed_runs(architecture: str) -> dict[str, str]:
    """Completed runs of `architecture`, newest first: id -> a label for the select box."""
    from ui.resources import job_manager

    runs = job_manager().store.list_runs(statuses=("completed",))
    labels = {}
    for run in runs:
        if run.config.get("architecture") != architecture:
            continue
        accuracy = run.final_metrics.get("test_accuracy")
        score = f" · test accuracy {accuracy:.1%}" if accuracy is not None else ""
        labels[run.run_id] = f"{run.name or run.run_id} ({run.run_id}){score}"
    return labels


def _layer_view(config: ExperimentConfig) -> None:
    """The layers each phase trains, from the engine's own `trainable_by_phase`."""
    try:
        with st.spinner("Building the network..."):
            phases = _trainable_by_phase(config.dataset, config.image_size, config.architecture,
                                         config.epochs, tuple(sorted(dataclasses.asdict(config.transfer).items())))
    except ValueError as error:
        st.error(md(error))
        return
    from cnnlab.units import format_count

    for phase in phases:
        st.markdown(f"**{phase.description}** · {format_count(phase.trainable_params)} of "
                    f"{format_count(phase.params)} parameters train")
        count = "1 layer trains" if len(phase.layers) == 1 else f"{len(phase.layers)} layers train"
        st.caption(f"{md(count)}: " + ", ".join(code(name) for name in phase.layers))


@st.cache_data(show_spinner=False, max_entries=32)
def _trainable_by_phase(dataset: str, image_size: int | None, architecture: str, epochs: int,
                        transfer: tuple) -> list:
    """`trainable_by_phase`, cached on what it depends on (building a network takes seconds):
    the rest of the form can change without a rebuild."""
    from cnnlab.training.transfer import trainable_by_phase
    from ui.resources import job_manager

    config = ExperimentConfig(dataset=dataset, image_size=image_size, architecture=architecture,
                              epochs=epochs, transfer=dict(transfer))
    return trainable_by_phase(config, job_manager().store)
