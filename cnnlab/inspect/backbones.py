"""An ImageNet classifier from keras.applications, opened only from Keras' own cache.

Why only from the cache: the lab runs offline in many classrooms. Before a model is
built, the page learns which file is missing and where it goes, and says so, rather than
let Keras start a download that cannot finish. MobileNetV2 is offered: 14 MB, and its
preprocessing ([0, 1] to [-1, 1]) is one Rescaling layer, so the whole network stays one
flat graph whose every layer the page can inspect.
"""

from __future__ import annotations

import json
import os

import keras

from cnnlab.inspect.loading import InspectedModel
from cnnlab.models.pretrained import weights_folder

_GCS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# name -> (the with-top weights file Keras 3 loads, its download folder), from Keras'
# applications/mobilenet_v2.py.
IMAGENET_CLASSIFIERS = {
    "MobileNetV2": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
                    _GCS + "mobilenet_v2/"),
}
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
IMAGE_SIZE = 224


def missing_files(name: str) -> list[tuple[str, str]]:
    """(path where Keras looks for it, URL to download it from) of each file not cached.

    The class names file is optional: without it the classes are shown by number.
    """
    if name not in IMAGENET_CLASSIFIERS:
        raise ValueError(f"Unknown ImageNet classifier. Expected one of "
                         f"{list(IMAGENET_CLASSIFIERS)}. Received: {name!r}.")
    file, folder = IMAGENET_CLASSIFIERS[name]
    path = os.path.join(weights_folder(), file)
    return [] if os.path.isfile(path) else [(path, folder + file)]


def class_names() -> tuple[str, ...]:
    """ImageNet's 1,000 class names from Keras' cached index, or their numbers."""
    path = os.path.join(weights_folder(), CLASS_INDEX_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            index = json.load(file)
        return tuple(index[str(number)][1] for number in range(1000))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return tuple(str(number) for number in range(1000))


def build_classifier(name: str, *, weights: str | None = "imagenet") -> InspectedModel:
    """The classifier on [0, 1] images of IMAGE_SIZE px; refuses when weights are missing.

    Args:
        weights: "imagenet" (from the cache only) or None (random, for timing).
    """
    missing = missing_files(name) if weights == "imagenet" else []
    if missing:
        path, url = missing[0]
        folder, file = os.path.split(path)
        raise ValueError(
            f"The ImageNet weights of {name} are not in Keras' cache, and the lab does not "
            f"download while you inspect. Expected the file '{file}' in '{folder}'. Received: "
            f"no such file. Download {url} and save it as '{path}' (Keras does this itself "
            f"on a machine with a network: keras.applications.{name}(weights='imagenet')).")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="input")
    scaled = keras.layers.Rescaling(2.0, offset=-1.0, name="preprocess")(inputs)
    application = getattr(keras.applications, name)
    model = application(input_tensor=scaled, weights=weights, include_top=True)
    return InspectedModel(f"backbone:{name}:{weights}", model, class_names(), {})
