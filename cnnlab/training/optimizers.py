"""Build the Keras optimizer an experiment asks for, with its options and gradient clipping."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# name -> (Keras class in keras.optimizers, the OptimizerOptions fields that class takes).
# Names, not classes: the Train form asks which fields to show before TensorFlow has loaded.
_OPTIMIZERS = {
    "sgd": ("SGD", ("momentum", "nesterov")),
    "rmsprop": ("RMSprop", ("rho", "momentum", "epsilon")),
    "adam": ("Adam", ("beta_1", "beta_2", "epsilon")),
    "adamw": ("AdamW", ("weight_decay", "beta_1", "beta_2", "epsilon")),
    "adagrad": ("Adagrad", ("epsilon",)),
    "adadelta": ("Adadelta", ("rho", "epsilon")),
    "adamax": ("Adamax", ("beta_1", "beta_2", "epsilon")),
    "nadam": ("Nadam", ("beta_1", "beta_2", "epsilon")),
}


def optimizer_parameters(name: str) -> tuple[str, ...]:
    """The option fields an optimizer reads, so a form shows only those."""
    return _OPTIMIZERS[name][1]


def make_optimizer(config, learning_rate=None) -> keras.optimizers.Optimizer:
    """A fresh optimizer for one run (optimizers hold per-model state, never share one).

    Args:
        config: the ExperimentConfig.
        learning_rate: a float or a LearningRateSchedule; defaults to None, i.e. the
            config's constant learning rate.
    """
    import keras

    class_name, fields = _OPTIMIZERS[config.optimizer]
    cls = getattr(keras.optimizers, class_name)
    options = config.optimizer_options
    clipping = {key: getattr(options, key) for key in ("clipnorm", "clipvalue")
                if getattr(options, key) is not None}
    return cls(
        learning_rate=config.learning_rate if learning_rate is None else learning_rate,
        **{field: getattr(options, field) for field in fields},
        **clipping,
    )
