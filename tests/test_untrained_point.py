"""The first point of every run: the untrained model's loss and accuracy, stored as epoch 0.

It is there so a page shows a point within a second of a run starting (issue 12: the first
point came 7 to 48 s after Train). Checked against Keras' own evaluate, and shown to leave
the training itself exactly as it was.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from cnnlab.config import Tricks
from cnnlab.data import load_dataset
from cnnlab.models import build_model
from cnnlab.training import job
from cnnlab.training.job import execute_run
from cnnlab.training.measurements import UNTRAINED_SAMPLES, untrained_rows


@pytest.mark.parametrize("tricks", [Tricks(), Tricks(l2=1e-2, dropout_rate=0.5, batch_norm=True)])
def test_the_untrained_point_is_what_keras_evaluate_gives(tricks):
    data = load_dataset("digits", image_size=16, train_size=256, validation_fraction=0.2, seed=0)
    keras.utils.set_random_seed(0)
    model = build_model("small_convnet", data.input_shape, data.num_classes, tricks=tricks)
    rows = untrained_rows(model, data)
    # The reference: Keras' compiled evaluation of the same images (its loss includes the
    # L2 penalty; dropout and batch norm run in inference mode, as in the lab's point).
    model.compile(loss="categorical_crossentropy",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    expected = []
    for prefix, images, labels in (("", data.x_train, data.y_train), ("val_", data.x_val, data.y_val)):
        images, labels = images[:UNTRAINED_SAMPLES], labels[:UNTRAINED_SAMPLES]
        loss, accuracy = model.evaluate(images, keras.utils.to_categorical(labels, data.num_classes),
                                        batch_size=len(images), verbose=0)
        expected += [(0, 0, f"{prefix}loss", loss), (0, 0, f"{prefix}accuracy", accuracy)]
    assert [row[:3] for row in rows] == [row[:3] for row in expected]
    np.testing.assert_allclose([row[3] for row in rows], [row[3] for row in expected], rtol=1e-5)


def test_measuring_the_untrained_model_leaves_the_training_exactly_as_it_was(store, tiny_config,
                                                                             monkeypatch):
    config = tiny_config.with_overrides({"epochs": 1, "tricks.dropout_rate": 0.3,
                                         "augmentation.horizontal_flip": True})

    def losses() -> list[float]:
        run_id = store.create_run(config.to_dict())
        assert execute_run(store, run_id, config, threading.Event()) == "completed"
        return [row.value for row in store.metrics(run_id, names=["batch/loss"])]

    measured = losses()
    monkeypatch.setattr(job, "untrained_rows", lambda model, data: [])
    assert losses() == measured
