"""Build the Keras optimizer an experiment asks for, with its options and gradient clipping."""

from __future__ import annotations

import keras

# name -> (Keras class, the OptimizerOptions fields that class takes)
_OPTIMIZERS = {
    "sgd": (keras.optimizers.SGD, ("momentum", "nesterov")),
    "rmsprop": (keras.optimizers.RMSprop, ("rho", "momentum", "epsilon")),
    "adam": (keras.optimizers.Adam, ("beta_1", "beta_2", "epsilon")),
    "adamw": (keras.optimizers.AdamW, ("weight_decay", "beta_1", "beta_2", "epsilon")),
    "adagrad": (keras.optimizers.Adagrad, ("epsilon",)),
    "adadelta": (keras.optimizers.Adadelta, ("rho", "epsilon")),
    "adamax": (keras.optimizers.Adamax, ("beta_1", "beta_2", "epsilon")),
    "nadam": (keras.optimizers.Nadam, ("beta_1", "beta_2", "epsilon")),
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
    cls, fields = _OPTIMIZERS[config.optimizer]
    options = config.optimizer_options
    clipping = {key: getattr(options, key) for key in ("clipnorm", "clipvalue")
                if getattr(options, key) is not None}
    return cls(
        learning_rate=config.learning_rate if learning_rate is None else learning_rate,
        **{field: getattr(options, field) for field in fields},
        **clipping,
    )
