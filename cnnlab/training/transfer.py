"""Transfer learning for a run: which model it starts from, and the phases it trains in.

Why a module of its own: a run can start from ImageNet weights (a keras.applications
backbone), from the weights of another run of the lab (`transfer.start_from_run`), or
from scratch, and a transfer run may train in two phases (the head first, then the top of
the base at a lower rate). `build_run_model` turns the config into a model and a list of
`Phase`s; the job then runs one `model.fit` per phase, its epochs numbered on from the
phase before, so the curves of a run read as one.

The learning rate of fine-tuning: `transfer.learning_rate_factor` scales the rate of the
whole model while the base's top layers train (the fine_tune mode, and two_phase's second
phase), not only the base's layers. Keras 3 has no per-layer rates, and the lectures' recipe
(and Keras' guide) fine-tunes a head that is already trained, which takes the low rate well.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import keras

from cnnlab.config import ExperimentConfig, Tricks
from cnnlab.data import DATASETS
from cnnlab.models import blocks, build_model
from cnnlab.models.backbones import is_backbone
from cnnlab.models.pretrained import (
    build_transfer_model,
    set_trainable,
    trainable_layer_names,
)

MODEL_FILE = "model.keras"
# The metric row a run stores at the start of each phase of a two-phase run: value 1 or
# 2, at the phase's first epoch and step 0, so the curves page can draw the boundary.
PHASE_METRIC = "phase"


@dataclass(frozen=True)
class Phase:
    """One `model.fit` of a run: its epochs, what trains, and at what rate.

    Args:
        number: 1 for the first phase, 2 for the second.
        initial_epoch: epochs done before this phase (Keras' `initial_epoch`, from 0).
        epochs: the epoch this phase ends at (Keras' `epochs`: a total, not a count).
        trainable: "all" (no transfer), "feature_extraction" (the base frozen) or
            "fine_tune" (the base's top `fine_tune_layers` layers train too).
        fine_tune_layers: layers at the top of the base that train, for "fine_tune".
        learning_rate_factor: the config's learning rate (and schedule) times this.
    """

    number: int
    initial_epoch: int
    epochs: int
    trainable: str
    fine_tune_layers: int = 0
    learning_rate_factor: float = 1.0

    def apply(self, model: keras.Model) -> None:
        """Freeze and unfreeze the model's layers for this phase (recompile afterwards)."""
        set_trainable(model, self.trainable, self.fine_tune_layers)

    @property
    def description(self) -> str:
        what = {
            "all": "all layers train",
            "feature_extraction": "the base is frozen; the new head trains",
            "fine_tune": f"the head and the base's top {self.fine_tune_layers} layers train",
        }[self.trainable]
        rate = "" if self.learning_rate_factor == 1 else \
            f", at {self.learning_rate_factor:g} x the learning rate"
        return f"Phase {self.number}, epochs {self.initial_epoch + 1}-{self.epochs}: {what}{rate}"


def uses_transfer(config: ExperimentConfig) -> bool:
    """Whether a run of `config` starts from trained weights (ImageNet's or a run's)."""
    transfer = config.transfer
    return transfer.start_from_run is not None or (
        is_backbone(config.architecture) and transfer.weights == "imagenet")


def plan_phases(config: ExperimentConfig) -> list[Phase]:
    """The phases a run of `config` trains in; one, unless the mode is two_phase.

    A run without transfer (no start run, random backbone weights, or an architecture of
    the lab's own) is one phase in which all layers train at the full rate.
    """
    transfer, epochs = config.transfer, config.epochs
    if not uses_transfer(config):
        return [Phase(1, 0, epochs, "all")]
    if transfer.mode == "feature_extraction":
        return [Phase(1, 0, epochs, "feature_extraction")]
    if transfer.mode == "fine_tune":
        if transfer.fine_tune_layers < 1:
            raise ValueError(
                "The fine_tune mode trains the top `fine_tune_layers` layers of the base. "
                f"Expected at least 1. Received: {transfer.fine_tune_layers}. Set "
                "`transfer.fine_tune_layers`, or choose feature_extraction to train only "
                "the new head."
            )
        return [Phase(1, 0, epochs, "fine_tune", transfer.fine_tune_layers,
                      transfer.learning_rate_factor)]
    if transfer.head_epochs >= epochs:
        raise ValueError(
            "Two-phase training trains the head for `head_epochs` epochs, then fine-tunes "
            f"for the rest. Expected head_epochs < epochs ({epochs}). Received: "
            f"head_epochs={transfer.head_epochs}. Lower `transfer.head_epochs` or raise "
            "`epochs`."
        )
    return [
        Phase(1, 0, transfer.head_epochs, "feature_extraction"),
        # At least one layer: a second phase that trains only the head again is no phase.
        Phase(2, transfer.head_epochs, epochs, "fine_tune", max(1, transfer.fine_tune_layers),
              transfer.learning_rate_factor),
    ]


@dataclass(frozen=True)
class PhaseLayers:
    """What one phase of a run trains: its description, its trainable layers, its counts."""

    description: str
    layers: tuple[str, ...]  # the names of the layers that train, input to output
    trainable_params: int
    params: int


def trainable_by_phase(config: ExperimentConfig, store) -> list[PhaseLayers]:
    """Which layers each planned phase of a transfer run trains, and how many parameters.

    Why before training: fine-tuning "the top 20 layers" means little until one sees which
    layers those are. The model is built as the run builds it, but with random weights (a
    backbone: nothing is downloaded) or the start run's saved model, and without loading
    the data set: only its image shape and class count matter.

    Args:
        config: a transfer run's experiment (see `uses_transfer`).
        store: the run store that holds `config.transfer.start_from_run`, if it is set.
    """
    info = DATASETS[config.dataset]
    start = config.transfer.start_from_run
    if start is not None:
        source = load_run_model(store, start, architecture=config.architecture)
        model = new_head(source, tuple(source.inputs[0].shape[1:]), info.num_classes, run_id=start)
    else:
        side = config.image_size or info.default_size
        model = build_transfer_model(config.architecture, (side, side, info.channels),
                                     info.num_classes, weights=None)
    total = model.count_params()
    phases = []
    for phase in plan_phases(config):
        phase.apply(model)
        trained = sum(math.prod(weight.shape) for weight in model.trainable_weights)
        phases.append(PhaseLayers(phase.description, tuple(trainable_layer_names(model)),
                                  int(trained), total))
    return phases


def check_transfer(config: ExperimentConfig, store) -> None:
    """Raise ValueError for transfer settings a run of `config` cannot use.

    Why a check of its own: it reads only the config and the store's records (no model,
    no data), so a page or `JobManager.submit` can refuse a run before it is created,
    with the same message the run would fail with.

    Args:
        config: the experiment.
        store: the RunStore holding `transfer.start_from_run`.
    """
    plan_phases(config)
    run_id = config.transfer.start_from_run
    if run_id is None:
        return
    record = _completed_run(store, run_id, config.architecture)
    expected, received = _image_shape(record.config), _image_shape(config.to_dict())
    if None not in (expected, received) and expected != received:
        raise ValueError(_shape_mismatch(run_id, expected, received))


def build_run_model(config: ExperimentConfig, data, store) -> tuple[keras.Model, list[Phase]]:
    """The uncompiled model a run of `config` starts from, and the phases it trains in.

    Which model: with `transfer.start_from_run`, that run's saved model with a new head
    for this data set's classes; for a pretrained backbone, the keras.applications
    network with `transfer.weights` and a new head; otherwise the registry's
    architecture, from scratch. The first phase's trainable flags are already applied.

    Args:
        config: the experiment.
        data: the loaded Dataset (its input shape and number of classes).
        store: the RunStore, where a start run's model is kept.
    """
    check_transfer(config, store)
    phases = plan_phases(config)
    transfer = config.transfer
    # One sigmoid unit for the binary head, shown to every reader as two columns (1 - p, p).
    units = config.head_units(data.num_classes)
    if transfer.start_from_run is not None:
        source = load_run_model(store, transfer.start_from_run,
                                architecture=config.architecture)
        model = new_head(source, data.input_shape, units, tricks=config.tricks,
                         run_id=transfer.start_from_run)
    elif is_backbone(config.architecture):
        model = build_transfer_model(config.architecture, data.input_shape, units,
                                     tricks=config.tricks, weights=transfer.weights)
    else:
        model = build_model(config.architecture, data.input_shape, units, tricks=config.tricks)
    if config.binary:
        from cnnlab.models.head import as_class_probabilities

        model = as_class_probabilities(model)
    phases[0].apply(model)
    return model, phases


# -- starting from another run ------------------------------------------------------------


def load_run_model(store, run_id: str, *, architecture: str | None = None) -> keras.Model:
    """The model a completed run of the lab saved, loaded without its optimizer.

    Why so strict: only the lab's own file in the run's own folder is loaded, and only
    from a run that completed, so the weights are the ones its test metrics describe.
    Keras' safe mode stays on (no Lambda code from the file runs).

    Args:
        store: the RunStore.
        run_id: the id of a completed run.
        architecture: when given, the run must have trained this architecture.
    """
    from cnnlab.training.train_step import LabModel

    folder = store.run_dir(run_id)
    _completed_run(store, run_id, architecture)
    path = (folder / MODEL_FILE).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise ValueError(
            f"Run {run_id!r} has no saved model. Expected the file '{MODEL_FILE}' in its "
            f"folder {folder}. Received: no such file. Pick another completed run."
        )
    # The lab's own classes, registered before loading: schedules in a saved optimizer
    # and the instrumented model class itself.
    import cnnlab.schedules  # noqa: F401

    return keras.saving.load_model(path, compile=False, safe_mode=True,
                                   custom_objects={"LabModel": LabModel})


def _completed_run(store, run_id: str, architecture: str | None):
    """The store's record of `run_id`, which must be a completed run of `architecture`."""
    store.run_dir(run_id)  # a ValueError for a string that is not a run id
    record = store.get_run(run_id)
    if record is None:
        raise ValueError(
            "Unknown run in `transfer.start_from_run`. Expected the id of a completed run in "
            f"the store at {store.home}. Received: {run_id!r}. Pick a run from the list of "
            "completed runs."
        )
    if record.status != "completed":
        raise ValueError(
            f"Run {run_id!r} cannot start another run: it is {record.status}, and only a "
            "completed run has a trained model. Expected a run with status 'completed'. "
            f"Received: status {record.status!r}. Pick a completed run, or wait for it to finish."
        )
    source_architecture = record.config.get("architecture")
    if architecture is not None and source_architecture != architecture:
        raise ValueError(
            f"Run {run_id!r} trained '{source_architecture}', so its weights fit only that "
            f"architecture. Expected `architecture` '{source_architecture}'. Received: "
            f"'{architecture}'. Set the architecture to '{source_architecture}', or pick a "
            f"run of '{architecture}'."
        )
    return record


def _image_shape(config: dict) -> tuple[int, int, int] | None:
    """(height, width, channels) of a stored config's images, from the data registry."""
    info = DATASETS.get(config.get("dataset"))
    if info is None:
        return None
    size = config.get("image_size") or info.default_size
    return size, size, info.channels


def _shape_mismatch(run_id: str, expected: tuple, received: tuple) -> str:
    return (
        f"Run {run_id!r} trained on images of shape {expected} (height, width, channels), "
        "and its weights take only that shape. Expected the same input shape. Received: "
        f"{received}. Pick the same image size ({expected[0]} pixels) and a data set with "
        f"{expected[2]} channel{'s' if expected[2] > 1 else ''}."
    )


def new_head(source: keras.Model, input_shape: tuple, num_classes: int, *,
             tricks: Tricks | None = None, run_id: str = "") -> keras.Model:
    """`source` without its head, as the sub-model "base", under a new head.

    The head is the layer "predictions" (every architecture of the lab names its output
    so) with the "head_..." layers in front of it (a transfer model's dropout), else the
    last Dense layer. The base is
    called with `training=False`, as a pretrained base is: its BatchNormalization layers
    keep the statistics of the data set it learned on.

    Args:
        source: a trained model.
        input_shape: the new data set's image shape; it must be the source's.
        num_classes: the new data set's number of classes.
        tricks: the head's dropout and kernel penalties; defaults to None (`Tricks()`).
        run_id: the source run's id, for error messages.
    """
    tricks = blocks.resolve_tricks(tricks)
    if len(source.inputs) != 1:
        raise ValueError(
            f"Model '{source.name}' has {len(source.inputs)} inputs; a new head fits a model "
            "of one image input. Expected 1 input. Received: "
            f"{[tuple(tensor.shape) for tensor in source.inputs]}. Pick a run of the lab."
        )
    source_input = source.inputs[0]
    expected = tuple(source_input.shape[1:])
    if tuple(input_shape) != expected:
        raise ValueError(_shape_mismatch(run_id, expected, tuple(input_shape)))
    base = keras.Model(source_input, _head_input(source), name="base")
    inputs = keras.Input(shape=expected, name="input")
    x = base(inputs, training=False)
    x = blocks.dropout(x, name="head_dropout", tricks=tricks)
    outputs = blocks.classifier_head(x, num_classes, tricks=tricks, name="predictions")
    return keras.Model(inputs, outputs, name=source.name)


def _head_input(source: keras.Model):
    """The tensor the source's head starts from."""
    layers = source.layers
    head = [layer for layer in layers
            if layer.name == "predictions" or layer.name.startswith("head_")]
    head = head or [layer for layer in layers if isinstance(layer, keras.layers.Dense)][-1:]
    if not head:
        raise ValueError(
            f"Model '{source.name}' has no head to replace. Expected a layer named "
            "'predictions' or a Dense layer. Received layers: "
            f"{[layer.name for layer in layers]}."
        )
    return head[0].input


# -- the learning rate of a phase ---------------------------------------------------------


def phase_config(config: ExperimentConfig, phase: Phase) -> ExperimentConfig:
    """`config` with its learning rate (and the schedule's floor) times the phase's factor."""
    factor = phase.learning_rate_factor
    if factor == 1:
        return config
    schedule = dataclasses.replace(config.schedule,
                                   min_learning_rate=config.schedule.min_learning_rate * factor)
    return dataclasses.replace(config, learning_rate=config.learning_rate * factor,
                               schedule=schedule)


def phase_learning_rate(config: ExperimentConfig, phase: Phase, steps_per_epoch: int):
    """What the phase's optimizer takes as `learning_rate`: scaled, and shifted in time."""
    from cnnlab.schedules import ShiftedSchedule, make_learning_rate

    rate = make_learning_rate(phase_config(config, phase), steps_per_epoch)
    if phase.initial_epoch and isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = ShiftedSchedule(rate, phase.initial_epoch * steps_per_epoch)
    return rate
