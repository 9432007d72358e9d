"""Batch normalization on dense layers (`tricks.batch_norm_dense`) and the dense network.

References: deck 002's BN network (after Géron, ch. 11) counts 271,346 parameters, 2,368
non-trainable; Keras' own BatchNormalization in training mode normalizes each batch.
The claim that dense batch norm brings a sigmoid network's gradients back is proven on a
real run in tests/test_alerts.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.config import ExperimentConfig, Tricks
from cnnlab.export.link import config_from_params, config_to_params
from cnnlab.models.build import build_model


def _non_trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.non_trainable_weights)


@pytest.mark.parametrize("position, total", [("after_activation", 271_346),
                                             ("before_activation", 270_946)])
def test_the_decks_dense_network_has_its_parameter_count(position, total):
    """After the activation the dense biases stay (the deck's count); before it BN's beta
    replaces them, 300 + 100 fewer."""
    tricks = Tricks(batch_norm_dense=True, batch_norm_position=position)
    model = build_model("mlp", (28, 28, 1), 10, tricks=tricks)
    assert model.count_params() == total
    assert _non_trainable(model) == 2 * (784 + 300 + 100) == 2_368


def test_without_dense_batch_norm_the_network_has_none():
    model = build_model("mlp", (28, 28, 1), 10)
    assert model.count_params() == 266_610  # 784*300+300 + 300*100+100 + 100*10+10
    assert not any("bn" in layer.name for layer in model.layers)
    # Convolutional batch norm alone leaves a dense network as it was.
    assert build_model("mlp", (28, 28, 1), 10, tricks=Tricks(batch_norm=True)).count_params() == 266_610


@pytest.mark.parametrize("position, order", [
    ("before_activation", ["fc1", "fc1_bn", "fc1_act"]),
    ("after_activation", ["fc1", "fc1_act", "fc1_bn"]),
])
def test_dense_batch_norm_sits_where_the_position_says_and_normalizes(position, order):
    tricks = Tricks(batch_norm_dense=True, batch_norm_position=position)
    model = build_model("deep_plain", (16, 16, 1), 10, tricks=tricks)
    names = [layer.name for layer in model.layers]
    assert [name for name in names if name.startswith("fc1")] == order
    assert sum(name.endswith("_bn") for name in names) == 7  # every hidden dense layer
    assert model.get_layer("fc1").use_bias is (position == "after_activation")
    # In training mode the BN layer normalizes each unit by its batch mean and variance
    # (its learnt scale and shift start at 1 and 0; Keras' epsilon is 1e-3).
    import keras

    before = "fc1" if position == "before_activation" else "fc1_act"
    probe = keras.Model(model.input, [model.get_layer(before).output,
                                      model.get_layer("fc1_bn").output])
    images = np.random.default_rng(0).random((64, 16, 16, 1), dtype=np.float32)
    raw, out = (np.asarray(tensor, dtype=np.float64) for tensor in probe(images, training=True))
    expected = (raw - raw.mean(axis=0)) / np.sqrt(raw.var(axis=0) + 1e-3)
    np.testing.assert_allclose(out, expected, atol=1e-3)
    assert np.abs(out.mean(axis=0)).max() < 1e-4


def test_the_field_round_trips_through_json_links_and_the_exported_architecture(tmp_path):
    config = ExperimentConfig(architecture="mlp").with_overrides(
        {"tricks.batch_norm_dense": True, "tricks.batch_norm_momentum": 0.7})
    assert ExperimentConfig.from_json(config.to_json()) == config
    params = config_to_params(config)
    assert params["tricks.batch_norm_dense"] == "true"
    assert config_from_params(params) == config
    assert "dense BN" in config.summary()
    with pytest.raises(ValueError, match="batch_norm_dense"):
        ExperimentConfig().with_overrides({"tricks.batch_norm_dense": "maybe"})
    # train.py rebuilds the run's model from Keras' JSON of it: the BN layers travel with it.
    import keras

    from cnnlab.training.train_step import wrap

    model = wrap(build_model("mlp", (16, 16, 1), 10, tricks=config.tricks))
    rebuilt = keras.models.model_from_json(model.to_json())
    momenta = {layer.name: layer.momentum for layer in rebuilt.layers
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {"input_bn": 0.7, "fc1_bn": 0.7, "fc2_bn": 0.7}
