"""ExperimentConfig: everything that defines an experiment, validated in one place.

A page, the CLI and a stored run all speak this one type. Every field is checked when the
config is built, with a Keras-style message (what is wrong, what was expected, what was
received, how to fix it), so a bad value never reaches the trainer and nothing is written
for it. Configs are frozen and round-trip through JSON, so each run stores its whole config.

Each field declares its own bounds in its metadata; `_validate` reads them, so a new trick
is one field with one line of metadata.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam")
DROPOUT_PLACEMENTS = ("before_dense", "every_dense", "spatial")
NORM_POSITIONS = ("before_activation", "after_activation")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal",
                "standard_normal")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid")
SCHEDULES = ("constant", "time_based", "step", "exponential", "cosine", "warmup", "plateau",
             "one_cycle")
SCHEDULE_UNITS = ("epoch", "iteration")
FILL_MODES = ("nearest", "reflect", "wrap", "constant")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
TRANSFER_MODES = ("feature_extraction", "fine_tune", "two_phase")
WEIGHTS = ("imagenet", "random")


def _spec(default, help: str, **bounds) -> Any:
    """A dataclass field whose metadata carries its help text and its bounds.

    Args:
        default: the default value; a dataclass type means "its default instance".
        help: one sentence for the form and the error messages.
        **bounds: any of `minimum`, `maximum` (inclusive), `above`, `below` (exclusive),
            `choices` (a callable returning the allowed values, so registries stay lazy).
    """
    metadata = {"help": help, **bounds}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def _dataset_names() -> list[str]:
    from cnnlab.data import dataset_names

    return dataset_names()


def _architecture_names() -> list[str]:
    from cnnlab.models.registry import architecture_names

    return architecture_names()


@dataclass(frozen=True)
class Tricks:
    """The training tricks a model builder applies; every architecture takes the same set."""

    # Fraction of units dropped; 0 switches dropout off.
    dropout_rate: float = _spec(0.0, "Dropout rate: the fraction of units dropped in training.",
                                minimum=0.0, below=1.0)
    # before_dense: once, before the first dense layer (the lectures' convnet);
    # every_dense: before every dense layer; spatial: whole feature maps after each conv block.
    dropout_placement: str = _spec(
        "before_dense", "Where dropout goes: before the first dense layer, before every dense "
        "layer, or spatial dropout after every conv block.", choices=lambda: DROPOUT_PLACEMENTS)
    # Batch normalization after every convolution.
    batch_norm: bool = _spec(False, "Batch normalization after each convolution.")
    batch_norm_position: str = _spec(
        "before_activation", "Batch normalization before the activation (as in the paper) or after it.",
        choices=lambda: NORM_POSITIONS)
    # Training normalizes each batch with its own mean and variance; validation, test and
    # prediction use moving averages of them. Keras' default momentum, 0.99, averages over
    # about 100 steps and starts from mean 0, variance 1: after the default experiment's
    # 216 steps the averages still held the first steps' statistics, and validation stayed
    # at chance (10.9 +- 2.5%, 6 seeds) while training reached 99.6%. Measured with
    # benchmarks/batch_norm.py: 0.5 gave validation 98.3 +- 0.8% there and 80.7 +- 3.0% on
    # shapes (0.9: 98.0 and 74.9; 0.99: 10.9 and 73.6; no batch norm: 97.0 and 63.7).
    batch_norm_momentum: float = _spec(
        0.5, "Batch norm trains on each batch's own mean and variance; validation and test "
        "use moving averages of them, updated every step as moving = momentum × moving + "
        "(1 − momentum) × batch. Close to 1 (Keras' 0.99) they average over ~100 steps and "
        "lag behind a short run, whose validation then looks like chance; 0.5 follows the "
        "last few batches.", minimum=0.0, below=1.0)
    # Penalties on every kernel: l1 * sum|w| + l2 * sum(w^2); both non-zero is L1+L2.
    l1: float = _spec(0.0, "L1 regularization strength (lambda).", minimum=0.0, maximum=10.0)
    l2: float = _spec(0.0, "L2 regularization strength (lambda).", minimum=0.0, maximum=10.0)
    # None keeps Keras' default (Glorot uniform); standard_normal is N(0, 1), which makes
    # gradients vanish in deep sigmoid networks.
    initializer: str | None = _spec(None, "Kernel initializer; empty keeps Glorot uniform.",
                                    choices=lambda: INITIALIZERS)
    # None keeps the architecture's own (ReLU; tanh for LeNet-5).
    activation: str | None = _spec(None, "Activation of hidden layers; empty keeps the "
                                   "architecture's own.", choices=lambda: ACTIVATIONS)

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class OptimizerOptions:
    """The optimizer's own parameters beyond the learning rate, and gradient clipping.

    Each optimizer reads only the fields it has: momentum and nesterov for SGD, rho for
    RMSprop and Adadelta, beta_1 and beta_2 for the Adam family, weight_decay for AdamW.
    """

    momentum: float = _spec(0.0, "SGD momentum (0 is plain SGD; 0.9 is usual).", minimum=0.0, below=1.0)
    nesterov: bool = _spec(False, "Nesterov accelerated gradient (SGD with momentum).")
    rho: float = _spec(0.9, "Decay of the squared-gradient average (RMSprop, Adadelta).",
                       above=0.0, below=1.0)
    beta_1: float = _spec(0.9, "Decay of the gradient average (Adam family).", minimum=0.0, below=1.0)
    beta_2: float = _spec(0.999, "Decay of the squared-gradient average (Adam family).",
                          minimum=0.0, below=1.0)
    epsilon: float = _spec(1e-7, "Small constant that keeps divisions finite.", above=0.0, maximum=1.0)
    weight_decay: float = _spec(0.004, "Decoupled weight decay (AdamW).", minimum=0.0, maximum=1.0)
    # Gradient clipping; None switches it off.
    clipnorm: float | None = _spec(None, "Clip each gradient tensor to this L2 norm.", above=0.0)
    clipvalue: float | None = _spec(None, "Clip each gradient element to [-v, v].", above=0.0)

    def __post_init__(self):
        _validate(self)
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError(
                "Gradient clipping takes one of `clipnorm` and `clipvalue`. Expected at most one "
                f"set. Received: clipnorm={self.clipnorm}, clipvalue={self.clipvalue}. "
                "Clear one of them."
            )


@dataclass(frozen=True)
class ScheduleConfig:
    """The learning-rate schedule: how the rate changes from `learning_rate` (eta0) over time.

    t counts epochs or iterations (`unit`). Formulas, with eta0 the config's learning rate:
    constant: eta0; time_based: eta0 / (1 + decay_rate * t); step: eta0 * drop_factor **
    floor(t / step_size); exponential: eta0 * exp(-decay_rate * t); cosine: from eta0 down
    to min_learning_rate over the run; warmup: eta0 * min(1, (t + 1) / W), W the warm-up
    length (warmup_epochs, in t's unit), then eta0; plateau: eta0, times drop_factor when
    the validation loss has not improved for `patience` epochs; one_cycle: up from
    eta0 / 25 to eta0 for the first 30% of the run, then down to eta0 / 1e4 (cosine).
    """

    kind: str = _spec("constant", "Learning-rate schedule.", choices=lambda: SCHEDULES)
    unit: str = _spec("epoch", "What t counts: epochs, or iterations (batches).",
                      choices=lambda: SCHEDULE_UNITS)
    decay_rate: float = _spec(0.1, "k in the time-based and exponential formulas.", minimum=0.0,
                              maximum=100.0)
    step_size: int = _spec(5, "Step decay: t units between drops.", minimum=1)
    drop_factor: float = _spec(0.5, "Step decay and plateau: factor applied at each drop.",
                               above=0.0, below=1.0)
    warmup_epochs: float = _spec(1.0, "Linear warm-up length in epochs.", above=0.0, maximum=1000.0)
    min_learning_rate: float = _spec(0.0, "Floor for cosine decay and plateau.", minimum=0.0)
    patience: int = _spec(2, "Plateau: epochs without improvement before a drop.", minimum=1)

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop when the monitored metric stops improving; optionally go back to the best epoch."""

    enabled: bool = _spec(False, "Stop early when the monitored metric stops improving.")
    monitor: str = _spec("val_loss", "Metric watched by early stopping.", choices=lambda: MONITORS)
    min_delta: float = _spec(0.0, "Smallest change that counts as an improvement.", minimum=0.0)
    patience: int = _spec(3, "Epochs without improvement before stopping.", minimum=1)
    restore_best_weights: bool = _spec(True, "Go back to the best epoch's weights at the end.")

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class AugmentationConfig:
    """Random transforms of training images (never validation or test images).

    The options of the lectures' ImageDataGenerator, plus contrast, random crop and
    MixUp/CutMix. Every default switches its transform off.
    """

    rotation_range: float = _spec(0.0, "Random rotation, up to this many degrees either way.",
                                  minimum=0.0, maximum=180.0)
    width_shift_range: float = _spec(0.0, "Random horizontal shift, as a fraction of the width.",
                                     minimum=0.0, maximum=1.0)
    height_shift_range: float = _spec(0.0, "Random vertical shift, as a fraction of the height.",
                                      minimum=0.0, maximum=1.0)
    shear_range: float = _spec(0.0, "Random shear, up to this many degrees.", minimum=0.0,
                               maximum=80.0)
    zoom_range: float = _spec(0.0, "Random zoom in or out by up to this fraction.", minimum=0.0,
                              below=1.0)
    horizontal_flip: bool = _spec(False, "Flip left-right at random.")
    vertical_flip: bool = _spec(False, "Flip upside down at random.")
    brightness_range: float = _spec(0.0, "Random brightness change, up to this fraction.",
                                    minimum=0.0, maximum=1.0)
    contrast_range: float = _spec(0.0, "Random contrast change, up to this fraction.",
                                  minimum=0.0, maximum=1.0)
    channel_shift_range: float = _spec(0.0, "Random shift added to each colour channel (0-1 scale).",
                                       minimum=0.0, maximum=1.0)
    crop_padding: int = _spec(0, "Random crop: pad by this many pixels, crop back at random.",
                              minimum=0, maximum=64)
    fill_mode: str = _spec("nearest", "How pixels shifted in from outside are filled.",
                           choices=lambda: FILL_MODES)
    mixup_alpha: float = _spec(0.0, "MixUp: blend pairs of images and labels (Beta(alpha, alpha)).",
                               minimum=0.0, maximum=10.0)
    cutmix_alpha: float = _spec(0.0, "CutMix: paste a patch of another image, labels by area.",
                                minimum=0.0, maximum=10.0)

    def __post_init__(self):
        _validate(self)

    @property
    def enabled(self) -> bool:
        """Whether any transform is switched on."""
        return self != AugmentationConfig(fill_mode=self.fill_mode)


@dataclass(frozen=True)
class TransferConfig:
    """How a network that starts from trained weights is trained (transfer learning).

    It applies to the pretrained backbones (keras.applications, ImageNet weights) and to
    runs that start from another run's weights (`start_from_run`). Modes: feature_extraction
    freezes the base and trains a new head; fine_tune also trains the base's top
    `fine_tune_layers` layers at learning_rate * `learning_rate_factor`; two_phase trains the
    head for `head_epochs` epochs, then unfreezes the top layers and fine-tunes, in one run.
    """

    mode: str = _spec("feature_extraction", "Transfer mode.", choices=lambda: TRANSFER_MODES)
    weights: str = _spec("imagenet", "Backbone weights: ImageNet, or random (no transfer).",
                         choices=lambda: WEIGHTS)
    fine_tune_layers: int = _spec(0, "Layers at the top of the base that are trained (0 = none).",
                                  minimum=0, maximum=1000)
    learning_rate_factor: float = _spec(0.1, "Fine-tuning learning rate, as a factor of the "
                                        "learning rate.", above=0.0, maximum=1.0)
    head_epochs: int = _spec(2, "Two-phase: epochs that train only the head first.", minimum=1)
    # Run id of a finished run whose weights start this one (all but its head).
    start_from_run: str | None = _spec(None, "Start from the weights of this finished run.")

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: data, model, tricks and optimization. A run is one execution of it."""

    dataset: str = _spec("digits", "Data set to train on.", choices=_dataset_names)
    # Side length in pixels the images are resized to; None keeps the data set's default.
    image_size: int | None = _spec(None, "Image side length in pixels.", minimum=8, maximum=256)
    # Number of training images drawn from the pool; None uses all of them.
    train_size: int | None = _spec(None, "Training-subset size.", minimum=1)
    validation_fraction: float = _spec(
        0.2, "Fraction of the training pool held out for validation.", minimum=0.0, maximum=0.9
    )
    architecture: str = _spec("small_convnet", "Network architecture.", choices=_architecture_names)
    tricks: Tricks = _spec(Tricks, "Training tricks.")
    augmentation: AugmentationConfig = _spec(AugmentationConfig, "Data augmentation.")
    optimizer: str = _spec("adam", "Optimizer.", choices=lambda: list(OPTIMIZERS))
    learning_rate: float = _spec(1e-3, "Learning rate (the initial one, under a schedule).",
                                 above=0.0, maximum=1e4)
    optimizer_options: OptimizerOptions = _spec(OptimizerOptions, "Optimizer parameters.")
    schedule: ScheduleConfig = _spec(ScheduleConfig, "Learning-rate schedule.")
    # 1 is stochastic gradient descent; the training-set size is full-batch gradient descent.
    batch_size: int = _spec(32, "Mini-batch size.", minimum=1, maximum=65536)
    epochs: int = _spec(6, "Number of epochs.", minimum=1, maximum=1000)
    early_stopping: EarlyStoppingConfig = _spec(EarlyStoppingConfig, "Early stopping.")
    transfer: TransferConfig = _spec(TransferConfig, "Transfer learning.")
    # One seed for data order, subset, initialization and dropout masks.
    seed: int = _spec(0, "Random seed.", minimum=0, maximum=2**31 - 1)

    def __post_init__(self):
        _validate(self)
        floor = self.schedule.min_learning_rate
        if self.schedule.kind in ("cosine", "plateau") and floor > self.learning_rate:
            raise ValueError(
                "The schedule's `min_learning_rate` is above the learning rate. Expected at "
                f"most {self.learning_rate:g}. Received: {floor:g}. Lower the floor."
            )

    # -- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> ExperimentConfig:
        return _from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                "Could not parse the experiment config. Expected a JSON object such as "
                f'{{"dataset": "digits", "epochs": 5}}. Received invalid JSON: {error}. '
                "Fix the syntax at that position."
            ) from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted fields replaced, e.g. {"tricks.dropout_rate": 0.5}."""
        data = self.to_dict()
        for path, value in overrides.items():
            node = data
            *parents, leaf = path.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ValueError(
                        f"Unknown config section `{part}` in '{path}'. Expected a dotted path "
                        f"such as 'tricks.dropout_rate'. Received: '{path}'."
                    )
                node = node[part]
            if leaf not in node:
                raise ValueError(
                    f"Unknown config field `{leaf}` in '{path}'. Expected one of "
                    f"{sorted(node)}. Received: '{path}'."
                )
            node[leaf] = value
        return ExperimentConfig.from_dict(data)

    # -- checks that need the data set ----------------------------------------------

    def planned_train_count(self) -> int:
        """How many training images a run of this config gets, computed without loading."""
        from cnnlab.data import planned_train_count

        return planned_train_count(
            self.dataset, train_size=self.train_size, validation_fraction=self.validation_fraction
        )

    def check_feasible(self) -> None:
        """Raise ValueError for a config that is valid field by field but cannot run.

        Why: the batch size can only be compared with the training set once the data set is
        known; checking here, before a run is created, means nothing is written for it.
        """
        if self.validation_fraction == 0:
            needs = [what for what, uses in (
                ("the plateau schedule", self.schedule.kind == "plateau"),
                (f"early stopping on `{self.early_stopping.monitor}`",
                 self.early_stopping.enabled and self.early_stopping.monitor.startswith("val_")),
            ) if uses]
            if needs:
                raise ValueError(
                    f"{needs[0].capitalize()} watches the validation set, but there is none. "
                    "Expected `validation_fraction` > 0. Received: 0.0. Hold out a validation "
                    "set, or monitor a training metric instead."
                )
        count = self.planned_train_count()
        if self.batch_size > count:
            raise ValueError(
                f"`batch_size` is larger than the training set. Expected at most {count} "
                f"(the training images of '{self.dataset}' with these settings). "
                f"Received: {self.batch_size}. {self._more_images_advice(count)}"
            )

    def _more_images_advice(self, count: int) -> str:
        """How to fit the batch size to `count` training images: only the fixes that apply.

        Why: "raise `train_size`" is no advice when the run already trains on every image.
        """
        from cnnlab.data import get_info
        from cnnlab.data.splits import validation_count

        fixes = [f"lower `batch_size` to {fitted_batch_size(self.batch_size, count)} (at most {count})"]
        info = get_info(self.dataset)
        available = info.pool_size - validation_count(info.pool_size, self.validation_fraction)
        if self.train_size is not None and self.train_size < available:
            fixes.append(f"raise `train_size` (up to {available})")
        if self.validation_fraction > 0 and (self.train_size is None or self.train_size >= available):
            fixes.append(f"hold out less for validation (`validation_fraction` is "
                         f"{self.validation_fraction:g})")
        if self.train_size is None or self.train_size >= available:
            fixes.append("import more images" if info.version else "use a larger data set")
        return "Fix: " + ", or ".join(fixes) + "."

    def fitted_to_data(self) -> ExperimentConfig:
        """This experiment with a batch size its training set can fill.

        Why: the default batch size (32) is larger than the training set of a small imported
        data set (26 images of ants and bees), and a run that cannot make one batch fails. A
        config whose training set cannot be counted (an unknown data set, a `train_size`
        beyond it) comes back unchanged: `check_feasible` says what is wrong with it.
        """
        try:
            count = self.planned_train_count()
        except ValueError:
            return self
        batch_size = fitted_batch_size(self.batch_size, count)
        return self if batch_size == self.batch_size else dataclasses.replace(self, batch_size=batch_size)

    def summary(self) -> str:
        """A short human name: 'digits · small_convnet · adam 0.001 · dropout 0.5 · BN'."""
        parts = [self.dataset, self.architecture, f"{self.optimizer} {self.learning_rate:g}"]
        if self.tricks.dropout_rate:
            parts.append(f"dropout {self.tricks.dropout_rate:g}")
        if self.tricks.batch_norm:
            default = Tricks().batch_norm_momentum
            momentum = self.tricks.batch_norm_momentum
            parts.append("BN" if momentum == default else f"BN momentum {momentum:g}")
        if self.tricks.l1:
            parts.append(f"L1 {self.tricks.l1:g}")
        if self.tricks.l2:
            parts.append(f"L2 {self.tricks.l2:g}")
        if self.tricks.activation:
            parts.append(self.tricks.activation)
        if self.tricks.initializer:
            parts.append(self.tricks.initializer)
        if self.augmentation.enabled:
            parts.append("augmented")
        if self.schedule.kind != "constant":
            parts.append(f"{self.schedule.kind} schedule")
        if self.early_stopping.enabled:
            parts.append("early stopping")
        if self.train_size:
            parts.append(f"n={self.train_size}")
        return " · ".join(parts)


def fitted_batch_size(batch_size: int, train_count: int) -> int:
    """`batch_size` if `train_count` images fill it, else one that gives about four updates an epoch.

    Why four, and a power of two: one batch of every image would be full-batch descent, a
    single update an epoch; a quarter of the images keeps the mini-batch's noisy, frequent
    steps the lectures describe (26 images: batches of 4, 7 updates an epoch).

    Args:
        batch_size: the batch size asked for.
        train_count: the training images a run gets (`ExperimentConfig.planned_train_count`).
    """
    if batch_size <= train_count:
        return batch_size
    return 1 << max(0, (max(1, train_count // 4)).bit_length() - 1)


def field_help(cls, name: str) -> str:
    """The help text a field declares, for form tooltips."""
    return next(f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name)


def field_bounds(cls, name: str) -> dict:
    """The bounds a field declares (minimum, maximum, above, below), for form widgets."""
    meta = next(f.metadata for f in dataclasses.fields(cls) if f.name == name)
    return {k: meta[k] for k in ("minimum", "maximum", "above", "below") if k in meta}


# -- validation ------------------------------------------------------------------------


def _from_dict(cls, data):
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValueError(
            f"Invalid `{cls.__name__}`. Expected a JSON object (a dict of fields). "
            f"Received: {type(data).__name__} {data!r:.80}."
        )
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown field {unknown[0]!r} in `{cls.__name__}`. Expected only these fields: "
            f"{sorted(known)}. Received: {unknown}. Remove it or check its spelling."
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        nested = hints[name]
        values[name] = _section(name, nested, value) if dataclasses.is_dataclass(nested) else value
    return cls(**values)


def _section(name: str, cls, value):
    """A nested section from its dict, its errors prefixed with where they are."""
    try:
        return _from_dict(cls, value)
    except ValueError as error:
        raise ValueError(f"In `{name}`: {error}") from None


def _validate(instance) -> None:
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        value = _coerce(f.name, hints[f.name], getattr(instance, f.name))
        object.__setattr__(instance, f.name, value)
        if value is not None and not isinstance(value, (bool, str)) and not dataclasses.is_dataclass(value):
            _check_range(f.name, value, f.metadata)
        if "choices" in f.metadata and value is not None:
            allowed = list(f.metadata["choices"]())
            if value not in allowed:
                raise ValueError(
                    f"Unknown `{f.name}`. Expected one of {allowed}. Received: {value!r}."
                )


def _coerce(name: str, hint, value):
    """Check a value's type, allowing only the lossless conversions a JSON form needs."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None:
        if optional:
            return None
        raise ValueError(f"`{name}` is required. Expected a {_type_name(base)}. Received: None.")
    if dataclasses.is_dataclass(base):
        return _section(name, base, value)
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(
                    f"Invalid `{name}`. Expected a finite number. Received: {value!r}."
                )
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a field type this validator does not know is a bug here
        raise AssertionError(f"unsupported field type {hint!r}")
    hint_text = " or null" if optional else ""
    raise ValueError(
        f"Invalid type for `{name}`. Expected a {_type_name(base)}{hint_text}. "
        f"Received: {value!r} ({type(value).__name__})."
    )


def _type_name(base) -> str:
    return {bool: "boolean", int: "whole number", float: "number", str: "string"}.get(
        base, getattr(base, "__name__", str(base))
    )


def _check_range(name: str, value, meta: dict) -> None:
    low, high = meta.get("minimum"), meta.get("maximum")
    above, below = meta.get("above"), meta.get("below")
    failed = (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    )
    if failed:
        lower = f">= {low}" if low is not None else (f"> {above}" if above is not None else "")
        upper = f"<= {high}" if high is not None else (f"< {below}" if below is not None else "")
        expected = " and ".join(part for part in (lower, upper) if part)
        raise ValueError(
            f"Invalid `{name}`. Expected a value {expected}. Received: {value!r}. "
            f"Choose a value in that range."
        )
