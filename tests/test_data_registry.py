"""The data-set registry and the counts a form checks before loading anything."""

import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.data import (
    DATASETS,
    DatasetInfo,
    dataset_names,
    get_info,
    planned_train_count,
)

EXPECTED = {
    # name: (native, default, channels, classes, pool, test, needs_download)
    "digits": (8, 32, 1, 10, 1438, 359, False),
    "shapes": (32, 32, 3, 8, 4000, 1000, False),
    "mnist": (28, 28, 1, 10, 60000, 10000, True),
    "fashion_mnist": (28, 28, 1, 10, 60000, 10000, True),
    "cifar10": (32, 32, 3, 10, 50000, 10000, True),
    "cifar100": (32, 32, 3, 100, 50000, 10000, True),
}


def test_names_in_display_order():
    assert dataset_names() == list(EXPECTED)
    assert list(DATASETS) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_info_fields(name):
    info = get_info(name)
    assert isinstance(info, DatasetInfo) and info.name == name
    fields = (
        info.native_size,
        info.default_size,
        info.channels,
        info.num_classes,
        info.pool_size,
        info.test_size,
        info.needs_download,
    )
    assert fields == EXPECTED[name]
    assert info.title and info.description


def test_info_is_frozen():
    with pytest.raises(AttributeError):
        get_info("digits").pool_size = 3


@pytest.mark.parametrize("bad", ["resnet", "Digits", "", None, ["digits"]])
def test_unknown_dataset_error(bad):
    with pytest.raises(ValueError) as caught:
        get_info(bad)
    assert str(caught.value) == (
        "Unknown `dataset`. Expected one of ['digits', 'shapes', 'mnist', 'fashion_mnist', "
        f"'cifar10', 'cifar100']. Received: {bad!r}."
    )


@pytest.mark.parametrize(
    "name, train_size, fraction, expected",
    [
        ("digits", None, 0.2, 1438 - 288),  # 0.2 * 1438 = 287.6, rounded half up
        ("digits", None, 0.0, 1438),
        ("digits", 100, 0.2, 100),
        ("digits", None, 0.9, 1438 - 1294),  # 1294.2
        ("shapes", None, 0.25, 3000),
        ("shapes", 1, 0.5, 1),
        ("mnist", None, 0.1, 54000),
        ("cifar10", None, 0.2, 40000),
        ("cifar100", 2500, 0.2, 2500),
        ("fashion_mnist", 48000, 0.2, 48000),
    ],
)
def test_planned_train_count(name, train_size, fraction, expected):
    assert (
        planned_train_count(name, train_size=train_size, validation_fraction=fraction) == expected
    )


def test_train_size_too_large_says_how_many_are_available():
    with pytest.raises(ValueError) as caught:
        planned_train_count("digits", train_size=1151, validation_fraction=0.2)
    message = str(caught.value)
    assert "Expected at most 1150" in message
    assert "1438 images in the training pool minus 288 held out for validation" in message
    assert "Received: train_size=1151" in message


@pytest.mark.parametrize("fraction", [-0.1, 0.95, 1, True, "0.2", None, float("nan")])
def test_invalid_validation_fraction(fraction):
    with pytest.raises(ValueError, match="Invalid `validation_fraction`. Expected a number"):
        planned_train_count("digits", train_size=None, validation_fraction=fraction)


@pytest.mark.parametrize("train_size", [0, -5, 2.5, True, "100"])
def test_invalid_train_size(train_size):
    with pytest.raises(ValueError, match="Invalid `train_size`. Expected None"):
        planned_train_count("digits", train_size=train_size, validation_fraction=0.2)


def test_import_is_light():
    """`import cnnlab.data` must not pull in TensorFlow, Keras, scikit-learn or streamlit."""
    code = (
        "import sys, cnnlab.data; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'tensorflow', 'keras', 'sklearn', 'streamlit'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.stdout.strip() == "[]"
