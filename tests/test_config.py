"""ExperimentConfig: validation messages, JSON round-trip, overrides."""

import json

import pytest

from cnnlab.config import ExperimentConfig, Tricks, parse_changes

INVALID = [
    # (fields, a fragment the message must contain)
    ({"learning_rate": -0.1}, "Invalid `learning_rate`. Expected a value > 0.0"),
    ({"learning_rate": 0}, "Received: 0.0"),
    ({"tricks": {"dropout_rate": 1.0}}, "Invalid `dropout_rate`. Expected a value >= 0.0 and < 1.0. Received: 1.0"),
    ({"tricks": {"dropout_rate": -0.1}}, "`dropout_rate`"),
    ({"tricks": {"l2": -1e-3}}, "Invalid `l2`"),
    ({"batch_size": 0}, "Invalid `batch_size`. Expected a value >= 1"),
    ({"epochs": 0}, "Invalid `epochs`. Expected a value >= 1"),
    ({"dataset": "imagenet"}, "Unknown `dataset`. Expected one of ['digits', 'shapes'"),
    ({"architecture": "resnet18"}, "Unknown `architecture`. Expected one of"),
    ({"optimizer": "adamx"}, "Unknown `optimizer`. Expected one of ['sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', 'adadelta', 'adamax', 'nadam']. Received: 'adamx'"),
    ({"schedule": {"kind": "linear"}}, "In `schedule`: Unknown `kind`. Expected one of ['constant', 'time_based'"),
    ({"schedule": {"unit": "batch"}}, "Unknown `unit`. Expected one of ['epoch', 'iteration']"),
    ({"schedule": {"drop_factor": 1.5}}, "Invalid `drop_factor`"),
    ({"augmentation": {"rotation_range": 200}}, "In `augmentation`: Invalid `rotation_range`"),
    ({"augmentation": {"fill_mode": "mirror"}}, "Unknown `fill_mode`"),
    ({"early_stopping": {"monitor": "val_f1"}}, "Unknown `monitor`"),
    ({"early_stopping": {"patience": 0}}, "Invalid `patience`"),
    ({"optimizer_options": {"momentum": 1.0}}, "Invalid `momentum`"),
    ({"optimizer_options": {"clipnorm": 0}}, "Invalid `clipnorm`. Expected a value > 0.0"),
    ({"optimizer_options": {"clipnorm": 1, "clipvalue": 1}}, "takes one of `clipnorm` and `clipvalue`"),
    ({"tricks": {"activation": "swish"}}, "Unknown `activation`. Expected one of ['relu', 'leaky_relu'"),
    ({"tricks": {"initializer": "zeros"}}, "Unknown `initializer`"),
    ({"tricks": {"dropout_placement": "after_conv"}}, "Unknown `dropout_placement`"),
    ({"tricks": {"batch_norm_position": "first"}}, "Unknown `batch_norm_position`"),
    ({"tricks": {"batch_norm_momentum": 1.0}},
     "Invalid `batch_norm_momentum`. Expected a value >= 0.0 and < 1.0. Received: 1.0"),
    ({"tricks": {"batch_norm_momentum": -0.5}}, "Invalid `batch_norm_momentum`"),
    ({"tricks": {"batch_norm_momentum": "fast"}}, "Invalid type for `batch_norm_momentum`"),
    ({"tricks": {"l1": -1}}, "Invalid `l1`"),
    ({"epochs": "3"}, "Invalid type for `epochs`. Expected a whole number. Received: '3' (str)"),
    ({"epochs": 2.5}, "Invalid type for `epochs`"),
    ({"tricks": {"batch_norm": 1}}, "Invalid type for `batch_norm`. Expected a boolean"),
    ({"learning_rate": float("nan")}, "Expected a finite number"),
    ({"seed": -1}, "Invalid `seed`"),
    ({"validation_fraction": 0.95}, "Invalid `validation_fraction`. Expected a value >= 0.0 and <= 0.9"),
    ({"train_size": 0}, "Invalid `train_size`"),
    ({"image_size": 4}, "Invalid `image_size`"),
    ({"dataset": None}, "`dataset` is required"),
    ({"foo": 1}, "Unknown field 'foo' in `ExperimentConfig`. Expected only these fields: ["),
    ({"tricks": {"bn": True}}, "Unknown field 'bn' in `Tricks`"),
    ({"tricks": [0.5]}, "Invalid `Tricks`. Expected a JSON object"),
]


@pytest.mark.parametrize("fields, message", INVALID)
def test_invalid_fields_are_rejected_with_a_clear_message(fields, message):
    with pytest.raises(ValueError) as error:
        ExperimentConfig.from_dict(fields)
    assert message in str(error.value)


def test_defaults_are_valid_and_round_trip_through_json():
    config = ExperimentConfig()
    assert ExperimentConfig.from_json(config.to_json()) == config
    changed = ExperimentConfig(dataset="shapes", tricks=Tricks(dropout_rate=0.5, batch_norm=True, l2=1e-3,
                                                               batch_norm_momentum=0.99),
                               learning_rate=0.01, train_size=500, image_size=48)
    restored = ExperimentConfig.from_json(changed.to_json())
    assert restored == changed
    assert isinstance(restored.tricks, Tricks)
    assert json.loads(changed.to_json())["tricks"]["dropout_rate"] == 0.5
    assert json.loads(changed.to_json())["tricks"]["batch_norm_momentum"] == 0.99


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        ExperimentConfig().epochs = 3


def test_integers_are_accepted_where_numbers_are_expected():
    config = ExperimentConfig.from_dict({"learning_rate": 1, "epochs": 3.0})
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)
    assert config.epochs == 3 and isinstance(config.epochs, int)


@pytest.mark.parametrize("text, message", [
    ("{not json", "Could not parse the experiment config"),
    ("[1, 2]", "Expected a JSON object"),
    ('{"epochs": 0}', "Invalid `epochs`"),
])
def test_malformed_json_is_rejected(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ExperimentConfig.from_json(text)


def test_dotted_overrides():
    config = ExperimentConfig().with_overrides({"epochs": 2, "tricks.dropout_rate": 0.25})
    assert config.epochs == 2 and config.tricks.dropout_rate == 0.25
    with pytest.raises(ValueError, match="Unknown config field `dropout`"):
        ExperimentConfig().with_overrides({"tricks.dropout": 0.5})
    with pytest.raises(ValueError, match="Unknown config section `trick`"):
        ExperimentConfig().with_overrides({"trick.dropout_rate": 0.5})


@pytest.mark.parametrize("fields, message", [
    ({"batch_size": 4096}, "`batch_size` is larger than the training set"),
    ({"validation_fraction": 0.0, "schedule": {"kind": "plateau"}}, "The plateau schedule watches the validation set"),
    ({"validation_fraction": 0.0, "early_stopping": {"enabled": True}}, "Early stopping on `val_loss` watches"),
    ({"train_size": 100, "batch_size": 101}, "Expected at most 100"),
])
def test_batch_size_larger_than_the_training_set_is_infeasible(fields, message):
    config = ExperimentConfig.from_dict(fields)
    with pytest.raises(ValueError, match=message):
        config.check_feasible()


def test_default_config_is_feasible():
    ExperimentConfig().check_feasible()
    # Early stopping on a training metric needs no validation set.
    ExperimentConfig.from_dict({"validation_fraction": 0.0, "early_stopping": {"enabled": True, "monitor": "loss"}}).check_feasible()
    assert ExperimentConfig(train_size=64, batch_size=64).planned_train_count() == 64


# (fields, advice the error must give, advice it must not): only the fixes that apply.
ADVICE = [
    ({"train_size": 20, "batch_size": 64},
     ["lower `batch_size` to 4 (at most 20)", "raise `train_size` (up to 1150)"],
     ["validation_fraction", "larger data set"]),
    ({"batch_size": 2048},  # every image already: raising train_size is no fix
     ["lower `batch_size` to 256 (at most 1150)", "`validation_fraction` is 0.2", "use a larger data set"],
     ["raise `train_size`"]),
    ({"batch_size": 2048, "validation_fraction": 0.0},
     ["lower `batch_size` to 256 (at most 1438)", "use a larger data set"],
     ["raise `train_size`", "validation_fraction"]),
    ({"train_size": 1150, "batch_size": 2048},  # a subset as large as it can be
     ["lower `batch_size` to 256", "`validation_fraction` is 0.2"], ["raise `train_size`"]),
]


@pytest.mark.parametrize("fields, wanted, unwanted", ADVICE)
def test_an_infeasible_batch_size_gets_only_advice_that_applies(fields, wanted, unwanted):
    with pytest.raises(ValueError) as error:
        ExperimentConfig(dataset="digits", **fields).check_feasible()
    message = str(error.value)
    assert all(advice in message for advice in wanted), message
    assert not any(advice in message for advice in unwanted), message


@pytest.mark.parametrize("batch_size, count, fitted", [
    (32, 1150, 32), (32, 32, 32), (32, 26, 4), (32, 31, 4), (64, 40, 8), (32, 7, 1), (32, 1, 1),
    (1, 1, 1),
])
def test_a_batch_size_too_large_for_the_data_becomes_a_quarter_of_it_in_a_power_of_two(
        batch_size, count, fitted):
    from cnnlab.config import fitted_batch_size

    assert fitted_batch_size(batch_size, count) == fitted
    assert fitted <= count and (fitted in (batch_size, 1) or count // fitted >= 4)


def test_a_config_fitted_to_its_data_is_feasible_and_unchanged_where_it_already_was():
    small = ExperimentConfig(dataset="digits", train_size=20)
    fitted = small.fitted_to_data()
    assert fitted.batch_size == 4
    fitted.check_feasible()
    assert ExperimentConfig().fitted_to_data() == ExperimentConfig()
    too_many = ExperimentConfig(dataset="digits", train_size=5000)  # not countable: left to check_feasible
    assert too_many.fitted_to_data() is too_many


@pytest.mark.parametrize("text, changes", [
    ("learning_rate=0.01, tricks.dropout_rate=0.3,epochs=3",
     {"learning_rate": 0.01, "tricks.dropout_rate": 0.3, "epochs": 3}),
    ("a=[1, 2], b.c=x", {"a": [1, 2], "b.c": "x"}),  # a comma inside a value stays in it
    ("  optimizer=sgd  ", {"optimizer": "sgd"}),
])
def test_changes_on_one_line_are_split_at_commas_before_a_field_only(text, changes):
    assert parse_changes(text) == changes


@pytest.mark.parametrize("text, message", [("", "No change given"), ("   ", "No change given"),
                                           ("dropout", "Expected FIELD=VALUE")])
def test_a_line_without_changes_says_what_is_expected(text, message):
    with pytest.raises(ValueError, match=message):
        parse_changes(text)
