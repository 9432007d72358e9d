"""ExperimentConfig: everything that defines an experiment, validated in one place.

A page, the CLI and a stored run all speak this one type. Every field is checked when the
config is built, with a Keras-style message (what is wrong, what was expected, what was
received, how to fix it), so a bad value never reaches the trainer and nothing is written
for it. Configs are frozen and round-trip through JSON, so each run stores its whole config.

Each field declares its own bounds in its metadata (`cnnlab.config.fields`), so a new
trick is one field with one line of metadata; the sections it holds are in
`cnnlab.config.sections`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from cnnlab.config.fields import from_dict, spec, validate
from cnnlab.config.sections import (
    LOSSES,
    OPTIMIZERS,
    AugmentationConfig,
    EarlyStoppingConfig,
    OptimizerOptions,
    ScheduleConfig,
    TransferConfig,
    Tricks,
)


def _datasets() -> Container[str]:
    """The data sets, live: built-in and imported (a name is looked up, never a list made)."""
    from cnnlab.data import DATASETS

    return DATASETS


def _architectures() -> Container[str]:
    """The registered architectures.

    The one import in the engine from a lower layer up to a higher one: the models import
    the config (every builder takes `Tricks`), and the config checks an architecture's
    name against their registry. It is lazy, and the registry is plain data (it imports
    neither Keras nor the config), so no import circle forms.
    """
    from cnnlab.models.registry import ARCHITECTURES

    return ARCHITECTURES


RUN_KINDS = ("train", "lr_find")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: data, model, tricks and optimization. A run is one execution of it."""

    dataset: str = spec("digits", "Data set to train on.", choices=_datasets)
    # Side length in pixels the images are resized to; None keeps the data set's default.
    image_size: int | None = spec(None, "Image side length in pixels.", minimum=8, maximum=256)
    # Number of training images drawn from the pool; None uses all of them.
    train_size: int | None = spec(None, "Training-subset size.", minimum=1)
    validation_fraction: float = spec(
        0.2, "Fraction of the training pool held out for validation.", minimum=0.0, maximum=0.9
    )
    architecture: str = spec("small_convnet", "Network architecture.", choices=_architectures)
    tricks: Tricks = spec(Tricks, "Training tricks.")
    augmentation: AugmentationConfig = spec(AugmentationConfig, "Data augmentation.")
    # categorical_crossentropy: a softmax over the classes; binary_crossentropy: one sigmoid
    # unit (two classes only), its probability stored as two columns (1 - p, p) so the
    # confusion matrix, top-k and predictions read it like any other run's.
    loss: str = spec("categorical_crossentropy", "The head and its loss: a softmax with "
                     "categorical cross-entropy, or one sigmoid unit with binary cross-entropy "
                     "(two classes only).", choices=lambda: LOSSES)
    # Targets become (1 - s) * one_hot + s / K (K classes; 2 for the sigmoid head).
    label_smoothing: float = spec(
        0.0, "Label smoothing: train towards (1 - s) for the true class and s / K spread over "
        "all K classes instead of hard 0/1 targets.", minimum=0.0, maximum=0.5)
    optimizer: str = spec("adam", "Optimizer.", choices=lambda: list(OPTIMIZERS))
    learning_rate: float = spec(1e-3, "Learning rate (the initial one, under a schedule).",
                                 above=0.0, maximum=1e4)
    optimizer_options: OptimizerOptions = spec(OptimizerOptions, "Optimizer parameters.")
    schedule: ScheduleConfig = spec(ScheduleConfig, "Learning-rate schedule.")
    # 1 is stochastic gradient descent; the training-set size is full-batch gradient descent.
    batch_size: int = spec(32, "Mini-batch size.", minimum=1, maximum=65536)
    epochs: int = spec(6, "Number of epochs.", minimum=1, maximum=1000)
    early_stopping: EarlyStoppingConfig = spec(EarlyStoppingConfig, "Early stopping.")
    transfer: TransferConfig = spec(TransferConfig, "Transfer learning.")
    # One seed for data order, subset, initialization and dropout masks.
    seed: int = spec(0, "Random seed.", minimum=0, maximum=2**31 - 1)
    # What a run of it does: "train", or "lr_find", the learning-rate range test (one short
    # run that raises the rate every batch and keeps nothing it trains; see
    # cnnlab.training.lr_finder). The Train form only ever makes "train" configs.
    kind: str = spec("train", "What a run does: train the model, or find a learning rate.",
                     choices=lambda: RUN_KINDS)

    def __post_init__(self):
        validate(self)
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
        return from_dict(cls, data)

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
        self._check_head()
        count = self.planned_train_count()
        if self.batch_size > count:
            raise ValueError(
                f"`batch_size` is larger than the training set. Expected at most {count} "
                f"(the training images of '{self.dataset}' with these settings). "
                f"Received: {self.batch_size}. {self._more_images_advice(count)}"
            )

    @property
    def binary(self) -> bool:
        """Whether the head is one sigmoid unit trained with binary cross-entropy."""
        return self.loss == "binary_crossentropy"

    def head_units(self, num_classes: int) -> int:
        """Units of the output layer for `num_classes` classes: 1 for the sigmoid head."""
        return 1 if self.binary else num_classes

    def _check_head(self) -> None:
        """The sigmoid head separates two classes; refuse it for any other number."""
        if not self.binary:
            return
        from cnnlab.data import get_info

        classes = get_info(self.dataset).num_classes
        if classes != 2:
            raise ValueError(
                "The sigmoid head with binary cross-entropy separates two classes. Expected a "
                f"data set with 2 classes. Received: '{self.dataset}' with {classes} classes. "
                "Use `loss` = 'categorical_crossentropy' (a softmax over the classes), or a "
                "two-class data set (import one with two class folders on the Data page)."
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
        if self.kind == "lr_find":
            parts[2] = f"{self.optimizer} rate 1e-07 to 10"
            parts.insert(0, "LR finder")
        if self.tricks.dropout_rate:
            parts.append(f"dropout {self.tricks.dropout_rate:g}")
        if self.tricks.batch_norm:
            default = Tricks().batch_norm_momentum
            momentum = self.tricks.batch_norm_momentum
            parts.append("BN" if momentum == default else f"BN momentum {momentum:g}")
        if self.tricks.batch_norm_dense:
            parts.append("dense BN")
        if self.tricks.l1:
            parts.append(f"L1 {self.tricks.l1:g}")
        if self.tricks.l2:
            parts.append(f"L2 {self.tricks.l2:g}")
        if self.tricks.activation:
            parts.append(self.tricks.activation)
        if self.tricks.initializer:
            parts.append(self.tricks.initializer)
        if self.binary:
            parts.append("sigmoid head")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
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
