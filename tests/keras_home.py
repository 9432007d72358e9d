"""An isolated, offline Keras home for tests: Keras' cache in a temporary folder, no network.

Keras reads `$KERAS_HOME` once, when it is imported (`keras.src.backend.config._KERAS_DIR`),
and other tests may have imported it already, so setting the variable is not enough: this
also patches that module attribute, which `keras.utils.get_file` and the lab's cache-folder
lookups consult. Downloads fail at once (`urlretrieve` and the lab's reachability probe are
patched), so no test touches the network. `write_mobilenet_v2_weights` puts a stand-in for
MobileNetV2's ImageNet weights file into such a home, under Keras' exact cache name.
"""

from __future__ import annotations

import os
import shutil
import stat
import urllib.error
from pathlib import Path

NO_NETWORK = "OSError: no network in tests"


def offline_keras_home(tmp_path: Path, monkeypatch, *, copy_from: Path | None = None):
    """Make Keras' home a fresh folder (a writable copy of `copy_from`, if given).

    Returns (home, downloads): `downloads` collects every (url, target) Keras tried.
    """
    from keras.src.backend import config
    from keras.src.utils import file_utils

    from cnnlab.data import keras_datasets

    home = tmp_path / "keras_home"
    if copy_from is not None and copy_from.is_dir():
        shutil.copytree(copy_from, home)
        for folder, _, files in os.walk(home):  # the shared files are read-only
            for entry in [folder, *(os.path.join(folder, name) for name in files)]:
                os.chmod(entry, os.stat(entry).st_mode | stat.S_IWUSR)
    for sub in ("datasets", "models"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    downloads = []

    def no_download(url, target, *args, **kwargs):
        downloads.append((url, target))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(file_utils, "urlretrieve", no_download)
    monkeypatch.setattr(keras_datasets, "probe_download", lambda url: NO_NETWORK)
    return home, downloads


def write_mobilenet_v2_weights(home: Path, size: int):
    """Write random no-top MobileNetV2 weights where Keras looks for the ImageNet ones.

    The file goes to `<home>/models/` under Keras' exact cache name for `size` (224 for
    any size without weights of its own, such as the 32 px the lab's small images become),
    so `weights="imagenet"` loads it through Keras' real path, offline. Returns the
    reference model whose weights the file holds.
    """
    import h5py
    import keras
    import numpy as np
    from keras.src.legacy.saving import legacy_h5_format

    # The arguments Keras' own weights="imagenet" path uses for this file.
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=1.0,
                                               input_shape=(size, size, 3))
    # Keras' own initial values, each moved at random (so no value is a default such as a
    # BN gamma of 1), with variances kept positive: a network that still computes.
    rng = np.random.default_rng(7)
    reference.set_weights([
        rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
        else (keras.ops.convert_to_numpy(w) + rng.normal(0, 0.01, w.shape)).astype("float32")
        for w in reference.weights])
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5"
    (home / "models").mkdir(parents=True, exist_ok=True)
    with h5py.File(home / "models" / name, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, reference)
    return reference
