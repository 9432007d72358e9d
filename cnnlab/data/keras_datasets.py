"""Keras' downloadable data sets (MNIST, Fashion-MNIST, CIFAR-10/100) and their cache files.

Why a wrapper around `keras.datasets.<name>.load_data()`: offline, Keras fails with a
bare URL error, and on a network that silently drops packets it can hang for minutes.
This module checks Keras' cache folder first, so the error says which file to put where.

Keras' cache folder is its home (`$KERAS_HOME`, else `~/.keras`, or `/tmp/.keras` where
the home folder is not writable) joined with `datasets/`, or `/tmp/.keras/datasets` when
that home is not writable: `keras.utils.get_file` makes the same choice, and this module
mirrors Keras' rules (`keras_home`), since Keras has no public call that names the folder.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass

import numpy as np

_GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# A DNS failure is answered in milliseconds, but a firewall that drops packets leaves
# `urlretrieve` (which has no timeout) waiting minutes; a connect probe bounds that.
PROBE_TIMEOUT_S = 5.0


class DatasetUnavailableError(ValueError):
    """A data set's files are not in Keras' cache and could not be downloaded."""


@dataclass(frozen=True)
class CacheFile:
    """One file `load_data()` expects in Keras' cache folder.

    Args:
        path: the path relative to the `datasets/` cache folder, exactly as Keras names it.
        url: where Keras downloads it from.
        sha256: the hash Keras checks it against; None where Keras checks none.
        published_as: the file's name at `url`, where Keras stores it under another name.
    """

    path: str
    url: str
    sha256: str | None = None
    published_as: str | None = None


def _fashion(name: str) -> CacheFile:
    return CacheFile(f"fashion-mnist/{name}", _GCS + name)


# Names and hashes from Keras 3's source, datasets/*.py. Keras stores an archive it
# will extract under `<fname>_archive`, so CIFAR's tarballs must be saved under that name.
CACHE_FILES: dict[str, tuple[CacheFile, ...]] = {
    "mnist": (
        CacheFile(
            "mnist.npz",
            _GCS + "mnist.npz",
            "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        ),
    ),
    "fashion_mnist": tuple(
        _fashion(name)
        for name in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ),
    "cifar10": (
        CacheFile(
            "cifar-10-batches-py-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            published_as="cifar-10-python.tar.gz",
        ),
    ),
    "cifar100": (
        CacheFile(
            "cifar-100-python-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            published_as="cifar-100-python.tar.gz",
        ),
    ),
}

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
    # The fine labels, in label order, as listed in the data set's `meta` file.
    "cifar100": tuple(
        """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge
        bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud
        cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl
        hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man
        maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree
        pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road
        rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel
        streetcar sunflower sweet_pepper table tank telephone television tiger tractor train
        trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
    ),
}


def keras_home() -> str:
    """Keras' home folder, by Keras' own rule: `$KERAS_HOME`, else `~/.keras`, or
    `/tmp/.keras` where the user's home folder is not writable.

    Keras applies the rule once, when it is imported, and this module at each call: the
    two differ only if `$KERAS_HOME` changes while the process runs, which nothing does.
    """
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def keras_cache_folder() -> str:
    """The folder Keras' `get_file` keeps downloaded data sets in, as Keras resolves it."""
    home = os.path.expanduser(keras_home())
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(home, "datasets")


def _sha256(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _files_to_fetch(name: str, folder: str) -> tuple[list[CacheFile], list[CacheFile]]:
    """The cache files Keras would download: `(missing, present_but_wrong_hash)`."""
    missing, corrupt = [], []
    for file in CACHE_FILES[name]:
        path = os.path.join(folder, file.path)
        if not os.path.exists(path):
            missing.append(file)
        elif file.sha256 is not None and _sha256(path) != file.sha256:
            corrupt.append(file)
    return missing, corrupt


def is_cached(name: str) -> bool:
    """Whether every file of Keras' data set `name` is in Keras' cache (so it loads offline).

    Why without the hash: a page asks it on every draw; a damaged file is still reported,
    with its fix, when the data set is loaded.
    """
    folder = keras_cache_folder()
    return name in CACHE_FILES and all(os.path.exists(os.path.join(folder, file.path))
                                       for file in CACHE_FILES[name])


def probe_download(url: str) -> str | None:
    """Why a download from `url` cannot start now (None if it can), in at most ~5 s.

    A TCP connect to the host stands in for the download, since Keras' own download has
    no timeout. Behind a proxy the probe is skipped: only the proxy knows the way out.
    """
    parts = urllib.parse.urlsplit(url)
    if urllib.request.getproxies().get(parts.scheme):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as error:
        return f"{type(error).__name__}: {error}"


def _unavailable(name: str, folder: str, files: list[CacheFile], corrupt, error) -> str:
    def describe(file: CacheFile) -> str:
        if file.published_as:
            return f"'{file.path}' (Keras' name for '{file.published_as}')"
        return f"'{file.path}'"

    plural = len(files) > 1
    state = "missing from or damaged in" if corrupt else "not in"
    fixes = "; ".join(
        f"download {file.url} and save it as '{os.path.join(folder, file.path)}'" for file in files
    )
    return (
        f"Could not load `{name}`: the file{'s' if plural else ''} "
        f"{', '.join(describe(file) for file in files)} {'are' if plural else 'is'} {state} "
        f"Keras' cache folder '{folder}' and could not be downloaded (no network?). To fix "
        f"it, {fixes}; or choose a data set that needs no download (digits, shapes). "
        f"Original error: {error}"
    )


def load_keras_pool(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`keras.datasets.<name>.load_data()` as uint8 NHWC images and int32 1-D labels.

    Raises:
        DatasetUnavailableError: a cache file is missing (or fails Keras' hash check) and
            the download cannot start, or `load_data()` itself fails.
    """
    import keras

    folder = keras_cache_folder()
    missing, corrupt = _files_to_fetch(name, folder)
    to_fetch = missing + corrupt
    if to_fetch:
        # Keras deletes a damaged file when its re-download fails, so the probe also
        # protects a file the user may still want to inspect.
        reason = probe_download(to_fetch[0].url)
        if reason is not None:
            if corrupt:
                reason += " (the sha256 of " + ", ".join(f.path for f in corrupt)
                reason += " does not match the one Keras expects)"
            raise DatasetUnavailableError(_unavailable(name, folder, to_fetch, corrupt, reason))
    module = getattr(keras.datasets, name)
    try:
        if name == "cifar100":
            (x_pool, y_pool), (x_test, y_test) = module.load_data(label_mode="fine")
        else:
            (x_pool, y_pool), (x_test, y_test) = module.load_data()
    except Exception as error:
        files = to_fetch or list(CACHE_FILES[name])
        message = _unavailable(name, folder, files, corrupt, f"{type(error).__name__}: {error}")
        raise DatasetUnavailableError(message) from error
    return (*as_nhwc(x_pool, y_pool), *as_nhwc(x_test, y_test))


def as_nhwc(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    elif images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        # CIFAR comes channels-first when keras.json sets image_data_format so.
        images = images.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels, dtype=np.int32).reshape(-1)
