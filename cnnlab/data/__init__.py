"""Data sets for the lab: embedded (digits, shapes) and Keras' downloadable ones.

`load_dataset` turns a registered name into a `Dataset` of float32 NHWC images in [0, 1]
and int32 labels, split into a training subset, a validation split and a test split,
cached per process. Importing this package is cheap: TensorFlow, Keras and scikit-learn
are imported only when a data set that needs them is loaded.
"""

from cnnlab.data.dataset import Dataset, DatasetInfo
from cnnlab.data.keras_datasets import DatasetUnavailableError
from cnnlab.data.loader import load_dataset, planned_train_count
from cnnlab.data.registry import DATASETS, dataset_names, get_info

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetInfo",
    "DatasetUnavailableError",
    "dataset_names",
    "get_info",
    "load_dataset",
    "planned_train_count",
]
