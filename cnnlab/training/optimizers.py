"""Build the Keras optimizer an experiment asks for."""

from __future__ import annotations

import keras

_OPTIMIZERS = {
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}


def make_optimizer(config) -> keras.optimizers.Optimizer:
    """A fresh optimizer for one run (optimizers hold per-model state, never share one)."""
    return _OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate)
