"""An isolated, offline Keras home for tests: Keras' cache in a temporary folder, no network.

Keras reads `$KERAS_HOME` once, when it is imported (`keras.src.backend.config._KERAS_DIR`),
and other tests may have imported it already, so setting the variable is not enough: this
also patches that module attribute, which `keras.utils.get_file` and the lab's cache-folder
lookups consult. Downloads fail at once (`urlretrieve` and the lab's reachability probe are
patched), so no test touches the network.
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
