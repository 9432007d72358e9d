"""Keras' downloadable data sets, offline: a cached copy loads, a missing file is explained.

Keras reads `$KERAS_HOME` once, when it is imported (`keras.src.backend.config._KERAS_DIR`),
and other tests may have imported it already, so setting the variable is not enough: the
fixture also patches that module attribute, which is what `keras.utils.get_file` and
`cnnlab.data.keras_datasets.keras_cache_folder` consult. Downloads are made to fail at
once (`urlretrieve` and the reachability probe are patched), so no test touches the network.
"""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import DatasetUnavailableError, get_info, keras_datasets, load_dataset
from cnnlab.data.cache import DATA_CACHE
from cnnlab.data.keras_datasets import CACHE_FILES, CLASS_NAMES, keras_cache_folder
from tests.keras_home import NO_NETWORK, offline_keras_home

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """A writable copy of shared/data/keras as Keras' home, with downloads failing at once."""
    pytest.importorskip("keras")
    home, downloads = offline_keras_home(tmp_path, monkeypatch, copy_from=SHARED / "keras")
    # Keras data sets are cached per process: start and end each test without them.
    DATA_CACHE.clear()
    yield home, downloads
    DATA_CACHE.clear()


def _missing(home: Path, name: str) -> list[str]:
    return [f.path for f in CACHE_FILES[name] if not (home / "datasets" / f.path).exists()]


def test_cache_folder_follows_keras_home(keras_home):
    home, _ = keras_home
    assert keras_cache_folder() == str(home / "datasets")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_load_from_cached_copy(keras_home, name):
    home, downloads = keras_home
    if missing := _missing(home, name):
        pytest.skip(f"{missing} not in shared/data/keras, so `{name}` cannot load offline")
    info = get_info(name)
    data = load_dataset(name, train_size=500, seed=0)
    assert data.input_shape == (info.native_size, info.native_size, info.channels)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (
        500,
        round(0.2 * info.pool_size),
        info.test_size,
    )
    assert data.class_names == CLASS_NAMES[name] and data.num_classes == info.num_classes
    for x, y in [
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    ]:
        assert x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
        assert y.dtype == np.int32 and y.ndim == 1
    assert set(np.unique(data.y_test)) == set(range(info.num_classes))
    assert downloads == []


def test_fashion_mnist_matches_the_raw_files(keras_home):
    """The test split is the official one, in order, pixel for pixel (the files read directly)."""
    home, _ = keras_home
    if _missing(home, "fashion_mnist"):
        pytest.skip("Fashion-MNIST files not in shared/data/keras")
    folder = home / "datasets" / "fashion-mnist"
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    data = load_dataset("fashion_mnist", train_size=500)
    np.testing.assert_array_equal(data.y_test, labels)
    np.testing.assert_array_equal(np.rint(data.x_test[..., 0] * 255).astype(np.uint8), images)
    # Stratified: ten balanced classes of 6,000 give 1,200 validation images each.
    assert np.array_equal(np.bincount(data.y_val), [1200] * 10)
    assert np.array_equal(np.bincount(data.y_train), [50] * 10)

    resized = load_dataset("fashion_mnist", train_size=500, image_size=32)
    assert resized.input_shape == (32, 32, 1)
    np.testing.assert_array_equal(resized.y_train, data.y_train)


@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100"])
def test_missing_file_offline_names_file_and_folder(keras_home, name):
    home, downloads = keras_home
    if not _missing(home, name):
        pytest.skip(f"`{name}` is cached in shared/data/keras, so it cannot be missing")
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset(name)
    message = str(caught.value)
    folder = str(home / "datasets")
    assert isinstance(caught.value, ValueError)
    assert message.startswith(f"Could not load `{name}`: the file '")
    for file in CACHE_FILES[name]:
        assert f"'{file.path}'" in message and file.url in message
        assert os.path.join(folder, file.path) in message
    assert f"Keras' cache folder '{folder}'" in message
    assert "(digits, shapes)" in message and message.endswith(f"Original error: {NO_NETWORK}")
    assert downloads == []  # The probe failed, so Keras was never asked to download.


@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100"])
def test_failing_keras_download_is_explained_and_uses_our_file_names(keras_home, monkeypatch, name):
    """When the probe passes but Keras' own download fails, Keras tried the very paths we name."""
    home, downloads = keras_home
    if not _missing(home, name):
        pytest.skip(f"`{name}` is cached in shared/data/keras")
    monkeypatch.setattr(keras_datasets, "probe_download", lambda url: None)
    with pytest.raises(DatasetUnavailableError, match="Original error: .*no network in tests"):
        load_dataset(name)
    (file,) = CACHE_FILES[name]
    assert downloads == [(file.url, str(home / "datasets" / file.path))]


def test_damaged_file_is_reported_and_kept(keras_home):
    home, downloads = keras_home
    damaged = home / "datasets" / "mnist.npz"
    damaged.write_bytes(b"not the real mnist.npz")
    with pytest.raises(DatasetUnavailableError, match="missing from or damaged in") as caught:
        load_dataset("mnist")
    assert "does not match the one Keras expects" in str(caught.value)
    # Keras deletes a file whose re-download fails; the probe kept it from trying.
    assert damaged.read_bytes() == b"not the real mnist.npz" and downloads == []


def test_mnist_arrays_become_a_dataset(keras_home, monkeypatch):
    """MNIST's real arrays (not Keras' own file) fed through `load_data`."""
    arrays = SHARED / "mnist" / "mnist-keras-arrays.npz"
    if not arrays.exists():
        pytest.skip("shared/data/mnist/mnist-keras-arrays.npz is absent")
    import keras

    with np.load(arrays) as file:
        published = (file["x_train"], file["y_train"]), (file["x_test"], file["y_test"])
    monkeypatch.setattr(keras_datasets, "probe_download", lambda url: None)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: published)
    data = load_dataset("mnist", train_size=1000, image_size=32, validation_fraction=0.1)
    assert data.input_shape == (32, 32, 1) and data.class_names == tuple("0123456789")
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (1000, 6000, 10000)
    np.testing.assert_array_equal(data.y_test, published[1][1])
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() < data.x_train.max() <= 1


def test_channels_first_arrays_are_made_channels_last():
    images = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    nhwc, labels = keras_datasets.as_nhwc(images, np.array([[1], [2]]))
    assert nhwc.shape == (2, 4, 4, 3) and labels.tolist() == [1, 2]
    assert nhwc[1, 2, 3, 0] == images[1, 0, 2, 3]


def test_cifar100_has_100_distinct_class_names():
    names = CLASS_NAMES["cifar100"]
    assert len(names) == len(set(names)) == 100
    assert names[:3] == ("apple", "aquarium_fish", "baby") and names[-1] == "worm"


def test_probe_reports_an_unreachable_host(monkeypatch):
    def refuse(address, timeout):
        assert timeout <= 10
        raise ConnectionRefusedError("refused")

    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.setattr(keras_datasets.socket, "create_connection", refuse)
    assert keras_datasets.probe_download("https://example.org/x.gz") == (
        "ConnectionRefusedError: refused"
    )
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    assert keras_datasets.probe_download("https://example.org/x.gz") is None
