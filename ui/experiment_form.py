"""The experiment form of the Train page: every trick, in tabs, turned into a config dict.

It is not an `st.form`: each change reruns the page, so the schedule preview, the cost of
the gradient-descent variant and the optimizer's own options follow the choices at once.
Widget keys carry the `train_` prefix; `load_into_form` fills them from a config (the last
run's, or a pipeline sent over from the Augment page). The widgets' values become one
`ExperimentConfig` once per rerun (`Draft`); the parts that need it (the transfer check,
the model summary, the schedule preview) are drawn from that one config, in places kept
for them in their tabs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import streamlit as st

from cnnlab.config import (
    ACTIVATIONS,
    DROPOUT_PLACEMENTS,
    INITIALIZERS,
    LOSSES,
    MONITORS,
    NORM_POSITIONS,
    OPTIMIZERS,
    SCHEDULE_PARAMETERS,
    SCHEDULE_UNITS,
    SCHEDULES,
    AugmentationConfig,
    EarlyStoppingConfig,
    ExperimentConfig,
    OptimizerOptions,
    ScheduleConfig,
    Tricks,
    field_help,
    fitted_batch_size,
    flatten,
)
from cnnlab.data import DATASETS
from cnnlab.models.backbones import is_backbone
from cnnlab.models.registry import ARCHITECTURES
from cnnlab.text import md
from ui.augmentation_controls import augmentation_controls
from ui.augmentation_controls import load_augmentation as load_augmentation_controls
from ui.projector import plotly_chart
from ui.transfer_controls import transfer_controls, transfer_view

AUGMENTATION_PREFIX = "train_augmentation_"
# Select boxes show this for a field left at None (Streamlit shows None as "no choice").
DEFAULT = "default"
VARIANTS = ("Mini-batch", "Full batch", "Stochastic (batch size 1)")
LABELS = {
    "before_dense": "before the first dense layer", "every_dense": "after every dense layer",
    "spatial": "spatial, after every conv block", "before_activation": "before the activation",
    "after_activation": "after the activation", None: "architecture default",
    "standard_normal": "N(0, 1) (standard)", DEFAULT: "architecture default",
    "time_based": "time-based", "one_cycle": "one-cycle",
    "warmup": "linear warm-up", "plateau": "reduce on plateau",
    "categorical_crossentropy": "softmax + categorical cross-entropy",
    "binary_crossentropy": "one sigmoid unit + binary cross-entropy (2 classes)",
}


def load_into_form(config: ExperimentConfig) -> None:
    """Set every widget of the form to `config`'s values (before the widgets are drawn)."""
    flat = flatten(config.to_dict())
    for name, value in flat.items():
        if name.startswith("augmentation."):
            continue  # a switch and a strength each: load_augmentation sets both
        if value is None and name in ("tricks.activation", "tricks.initializer"):
            value = DEFAULT
        st.session_state[f"train_{name.replace('.', '_')}"] = value
    st.session_state["train_train_size"] = config.train_size or 0
    st.session_state["train_image_size"] = config.image_size or 0
    st.session_state["train_variant"] = VARIANTS[0]
    options = config.optimizer_options
    clipping = "by norm" if options.clipnorm else "by value" if options.clipvalue else "off"
    st.session_state["train_clipping"] = clipping
    st.session_state["train_clip_threshold"] = options.clipnorm or options.clipvalue or 1.0
    load_augmentation(config.augmentation)


def load_augmentation(augmentation: AugmentationConfig) -> None:
    """Set the form's augmentation widgets to a pipeline (one sent from the Augment page)."""
    load_augmentation_controls(augmentation, AUGMENTATION_PREFIX)


def _label(value) -> str:
    return LABELS.get(value, str(value).replace("_", " "))


@dataclass(frozen=True)
class Draft:
    """The form's experiment: the widgets' values, and the config they make or why not.

    Args:
        values: the experiment as a dict for `ExperimentConfig.from_dict`.
        config: that config; None while the values are invalid.
        error: why they are invalid (the config's own message); None when they are valid.
    """

    values: dict
    config: ExperimentConfig | None
    error: str | None


def experiment_form(later: list | None = None) -> Draft:
    """Draw the form; return its experiment, parsed once.

    Args:
        later: if a list, the parts that need TensorFlow (the model summary, the schedule's
            formula and preview) keep their place in their tabs but are drawn by the
            functions appended here, which the page calls after its Train button. Why: on
            a server that has just started, TensorFlow loads in the background for
            seconds, and the button must not wait for it; nor must a click wait for a
            summary to be drawn before its run is submitted.
    """
    def drawn(part, *args) -> None:
        if later is None:
            part(*args)
        else:
            later.append(functools.partial(part, *args))

    tabs = st.tabs(["Data", "Model", "Regularize", "Optimize", "Schedule", "Augment"])
    with tabs[0]:
        data = _data_section()
    with tabs[1]:
        model = _model_section()
    with tabs[2]:
        regularization, early_stopping = _regularization_section()
    with tabs[3]:
        optimization = _optimizer_section(data)
    values = {**data, **model, **optimization, "early_stopping": early_stopping}
    values["tricks"] = {**model["tricks"], **regularization}
    with tabs[1]:
        with st.expander("Transfer learning", expanded=is_backbone(values["architecture"])):
            values["transfer"] = transfer_controls(values["architecture"])
            transfer_slot = st.container()
        summary_slot = st.container()
    with tabs[4]:
        values["schedule"] = _schedule_section()
        schedule_slot = st.container()
    with tabs[5]:
        st.caption("Switch transforms on and set their strength; the Augment page shows what "
                   "they do to an image, with these same controls.")
        geometry, colour = st.columns(2)
        values["augmentation"] = augmentation_controls(
            AUGMENTATION_PREFIX, containers={"Geometry": geometry, "Colour": colour, "Mixing": colour})
    try:
        draft = Draft(values, ExperimentConfig.from_dict(values), None)
    except ValueError as error:
        draft = Draft(values, None, str(error))
    with transfer_slot:
        transfer_view(values["architecture"], values["transfer"], draft.config)
    drawn(_summary, summary_slot, draft)
    drawn(_schedule_preview, schedule_slot, draft)
    return draft


def _fit_batch_size() -> None:
    """After the data changed: a batch size the training set can fill, and a note saying so.

    Why: a small imported data set (26 training images) cannot fill the default batch of
    32, and a run of it would fail; `fitted_batch_size` picks one that can.
    """
    from cnnlab.data import planned_train_count

    state = st.session_state
    try:
        count = planned_train_count(state["train_dataset"], train_size=int(state.get("train_train_size") or 0) or None,
                                    validation_fraction=state.get("train_validation_fraction", 0.2))
    except (KeyError, ValueError):
        return  # the Train button says what is wrong
    batch_size = int(state.get("train_batch_size") or 1)
    fitted = fitted_batch_size(batch_size, count)
    if fitted != batch_size:
        state["train_batch_size"] = fitted
        state["train_batch_note"] = (f"Batch size lowered from {batch_size} to {fitted}: this data "
                                     f"set gives {count} training images.")


def _data_section() -> dict:
    dataset = st.selectbox("Data set", list(DATASETS), format_func=lambda n: DATASETS[n].title,
                           key="train_dataset", help=field_help(ExperimentConfig, "dataset"),
                           on_change=_fit_batch_size)
    info = DATASETS[dataset]
    st.caption(md(info.description) + (" Downloads into Keras' cache on first use." if info.needs_download else ""))
    if "train_batch_note" in st.session_state:
        st.info(md(st.session_state.pop("train_batch_note")), icon=":material/tune:")
    train_size = st.number_input(
        "Training images (0 = all)", min_value=0, step=100, key="train_train_size",
        help="Train on a subset to see overfitting, as with the lectures' 2,000 images.",
        on_change=_fit_batch_size)
    image_size = st.number_input(
        f"Image size in pixels (0 = the data set's {info.default_size:d})", min_value=0,
        max_value=256, step=4, key="train_image_size", help=field_help(ExperimentConfig, "image_size"))
    validation_fraction = st.slider("Validation fraction", 0.0, 0.5, step=0.05,
                                    key="train_validation_fraction",
                                    help=field_help(ExperimentConfig, "validation_fraction"),
                                    on_change=_fit_batch_size)
    return {"dataset": dataset, "train_size": int(train_size) or None,
            "image_size": int(image_size) or None, "validation_fraction": validation_fraction}


def _model_section() -> dict:
    architecture = st.selectbox("Architecture", list(ARCHITECTURES), key="train_architecture",
                                format_func=lambda n: ARCHITECTURES[n].title)
    st.caption(ARCHITECTURES[architecture].description)
    activation = st.selectbox("Activation", [DEFAULT, *ACTIVATIONS], format_func=_label,
                              key="train_tricks_activation", help=field_help(Tricks, "activation"))
    initializer = st.selectbox("Weight initialization", [DEFAULT, *INITIALIZERS], format_func=_label,
                               key="train_tricks_initializer", help=field_help(Tricks, "initializer"))
    batch_norm = st.toggle("Batch normalization", key="train_tricks_batch_norm",
                           help=field_help(Tricks, "batch_norm"))
    batch_norm_dense = st.toggle("Batch normalization on dense layers",
                                 key="train_tricks_batch_norm_dense",
                                 help=field_help(Tricks, "batch_norm_dense"))
    any_norm = batch_norm or batch_norm_dense
    position = st.radio("Batch norm position", NORM_POSITIONS, format_func=_label, horizontal=True,
                        key="train_tricks_batch_norm_position", disabled=not any_norm,
                        help=field_help(Tricks, "batch_norm_position"))
    # No upper bound here: 1 or more gets the config's own message ("Expected a value < 1.0").
    momentum = st.number_input("Batch norm momentum", min_value=0.0, step=0.05,
                               format="%g", key="train_tricks_batch_norm_momentum",
                               disabled=not any_norm, help=field_help(Tricks, "batch_norm_momentum"))
    loss = st.selectbox("Head and loss", LOSSES, format_func=_label, key="train_loss",
                        help=field_help(ExperimentConfig, "loss"))
    smoothing = st.slider("Label smoothing", 0.0, 0.5, step=0.05, key="train_label_smoothing",
                          help=field_help(ExperimentConfig, "label_smoothing"))
    return {"architecture": architecture, "loss": loss, "label_smoothing": smoothing, "tricks": {
        "activation": None if activation == DEFAULT else activation,
        "initializer": None if initializer == DEFAULT else initializer, "batch_norm": batch_norm,
        "batch_norm_dense": batch_norm_dense, "batch_norm_position": position,
        "batch_norm_momentum": momentum}}


def _summary(slot, draft: Draft) -> None:
    """What the chosen network costs, before it is trained (drawn in `slot`)."""
    from ui.model_summary import show_model_summary

    with slot:
        st.markdown("**Before training**")
        if draft.config is None:
            st.caption(f"No summary yet: {md(draft.error)}")
        else:
            show_model_summary(draft.config)


def _regularization_section() -> tuple[dict, dict]:
    rate = st.slider("Dropout rate", 0.0, 0.9, step=0.05, key="train_tricks_dropout_rate",
                     help=field_help(Tricks, "dropout_rate"))
    placement = st.radio("Dropout placement", DROPOUT_PLACEMENTS, format_func=_label,
                         key="train_tricks_dropout_placement", disabled=rate == 0,
                         help=field_help(Tricks, "dropout_placement"))
    l1_column, l2_column = st.columns(2)
    l1 = l1_column.number_input("L1 (lambda)", min_value=0.0, max_value=10.0, step=1e-4,
                                format="%g", key="train_tricks_l1", help=field_help(Tricks, "l1"))
    l2 = l2_column.number_input("L2 (lambda)", min_value=0.0, max_value=10.0, step=1e-4,
                                format="%g", key="train_tricks_l2", help=field_help(Tricks, "l2"))
    st.markdown("**Early stopping**")
    enabled = st.toggle("Stop early", key="train_early_stopping_enabled",
                        help=field_help(EarlyStoppingConfig, "enabled"))
    columns = st.columns(2)
    monitor = columns[0].selectbox("Monitor", MONITORS, key="train_early_stopping_monitor",
                                   disabled=not enabled)
    patience = columns[1].number_input("Patience (epochs)", min_value=1, key="train_early_stopping_patience",
                                       disabled=not enabled)
    min_delta = columns[0].number_input("Min delta", min_value=0.0, step=1e-3, format="%g",
                                        key="train_early_stopping_min_delta", disabled=not enabled,
                                        help=field_help(EarlyStoppingConfig, "min_delta"))
    restore = columns[1].toggle("Restore best weights", key="train_early_stopping_restore_best_weights",
                                disabled=not enabled)
    return ({"dropout_rate": rate, "dropout_placement": placement, "l1": l1, "l2": l2},
            {"enabled": enabled, "monitor": monitor, "patience": int(patience),
             "min_delta": min_delta, "restore_best_weights": restore})


def _optimizer_section(data: dict) -> dict:
    from cnnlab.training.optimizers import optimizer_parameters

    optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer")
    learning_rate = st.number_input("Learning rate", min_value=0.0, step=1e-4, format="%g",
                                    key="train_learning_rate",
                                    help=field_help(ExperimentConfig, "learning_rate"))
    options = {}
    shown = optimizer_parameters(optimizer)
    columns = st.columns(2)
    # Counted over the options shown only, so they fill the two columns in order (Beta 1,
    # then Beta 2), rather than by their place among all the options.
    drawn = (name for name in dataclasses.fields(OptimizerOptions) if name.name in shown)
    place = {field.name: index for index, field in enumerate(drawn)}
    for name in (f.name for f in dataclasses.fields(OptimizerOptions)):
        key = f"train_optimizer_options_{name}"
        index = place.get(name, 0)
        if name not in shown:
            options[name] = st.session_state.get(key, getattr(OptimizerOptions(), name))
        elif name == "nesterov":
            options[name] = columns[index % 2].toggle("Nesterov", key=key,
                                                      help=field_help(OptimizerOptions, name))
        else:
            options[name] = columns[index % 2].number_input(
                md(name.replace("_", " ").capitalize()), min_value=0.0, format="%g", step=0.01,
                key=key, help=field_help(OptimizerOptions, name))
    clip = st.radio("Gradient clipping", ["off", "by norm", "by value"], horizontal=True,
                    key="train_clipping")
    threshold = st.number_input("Clip threshold", min_value=0.0, step=0.1, format="%g",
                                key="train_clip_threshold", disabled=clip == "off")
    options["clipnorm"] = threshold if clip == "by norm" else None
    options["clipvalue"] = threshold if clip == "by value" else None

    st.markdown("**Gradient descent**")
    variant = st.radio("Variant", VARIANTS, horizontal=True, key="train_variant")
    count = _planned_count(data)
    batch_size = st.number_input("Batch size", min_value=1, key="train_batch_size",
                                 disabled=variant != VARIANTS[0])
    if variant == VARIANTS[1]:
        batch_size = count or batch_size
    elif variant == VARIANTS[2]:
        batch_size = 1
    if count:
        st.caption(md(_variant_cost(variant, count, int(batch_size))))
    epochs_column, seed_column = st.columns(2)
    epochs = epochs_column.number_input("Epochs", min_value=1, key="train_epochs")
    seed = seed_column.number_input("Seed", min_value=0, key="train_seed")
    st.caption("One seed fixes the data split and order, the initial weights, the dropout masks "
               "and the augmentation. Runs that train one at a time on a CPU repeat exactly; "
               "runs training at the same time share TensorFlow's random state, and some GPU "
               "kernels are not deterministic, so there a repeat can differ slightly.")
    return {"optimizer": optimizer, "learning_rate": learning_rate, "optimizer_options": options,
            "batch_size": int(batch_size), "epochs": int(epochs), "seed": int(seed)}


def _planned_count(data: dict) -> int | None:
    from cnnlab.data import planned_train_count

    try:
        return planned_train_count(data["dataset"], train_size=data["train_size"],
                                   validation_fraction=data["validation_fraction"])
    except ValueError:
        return None  # the Train button shows the error


def _variant_cost(variant: str, count: int, batch_size: int) -> str:
    """What one epoch costs with this variant, as the lectures compare them."""
    if variant == VARIANTS[1]:
        return (f"Full batch: 1 update per epoch, each computed from all {count:,} images: the "
                "exact gradient, but slow progress and all images in memory at once.")
    if variant == VARIANTS[2]:
        return (f"Stochastic: {count:,} updates per epoch, each from a single image: very noisy "
                "steps, no vectorization, the slowest epochs.")
    updates = math.ceil(count / max(batch_size, 1))
    return (f"Mini-batch: {updates:,} updates per epoch of {batch_size} images each: a noisy "
            "but cheap gradient estimate that uses vectorized hardware well.")


def _schedule_section() -> dict:
    kind = st.selectbox("Schedule", SCHEDULES, format_func=_label, key="train_schedule_kind")
    unit = st.radio("t counts", SCHEDULE_UNITS, horizontal=True, key="train_schedule_unit",
                    help=field_help(ScheduleConfig, "unit"))
    schedule = {"kind": kind, "unit": unit}
    for name in (f.name for f in dataclasses.fields(ScheduleConfig) if f.name not in ("kind", "unit")):
        key = f"train_schedule_{name}"
        if name in SCHEDULE_PARAMETERS[kind]:
            integer = name in ("step_size", "patience")
            schedule[name] = st.number_input(
                md(name.replace("_", " ").capitalize()), min_value=1 if integer else 0.0,
                step=1 if integer else 0.01, format=None if integer else "%g", key=key,
                help=field_help(ScheduleConfig, name))
        else:
            schedule[name] = st.session_state.get(key, getattr(ScheduleConfig(), name))
    return schedule


def _schedule_preview(slot, draft: Draft) -> None:
    """The schedule's formula and the learning rate it plans, batch by batch (in `slot`)."""
    from cnnlab.charts.training import schedule_figure
    from cnnlab.schedules import preview, schedule_formula

    with slot:
        if draft.config is None:
            st.caption(f"No preview yet: {md(draft.error)}")
            return
        config = draft.config
        try:
            steps = math.ceil(config.planned_train_count() / config.batch_size)
            st.caption(schedule_formula(config))
            x, rates = preview(config, steps)
            plotly_chart(schedule_figure(x, rates, title="Planned learning rate"),
                            key="train_schedule_preview", config={"displaylogo": False}, theme=None)
        except ValueError as error:
            st.caption(f"No preview yet: {md(error)}")

