"""What a run's insight data says: confusion matrices, per-class scores, misclassified images.

Why here and not in the pages: the Train and Compare pages, the CLI and the tests all read
the same stored figures, and none of this needs Streamlit or TensorFlow. What training
stores, and under which names, is in `cnnlab.training.figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnnlab.training.figures import VAL_LABELS, VAL_PROBS, decode_array


def prediction_epochs(store, run_id: str) -> list[int]:
    """The epochs whose validation predictions were stored, in order."""
    folder = store.run_dir(run_id)
    if not folder.is_dir():
        return []
    prefix, suffix = VAL_PROBS.split("%03d")
    epochs = []
    for path in folder.glob(f"{prefix}*{suffix}"):
        number = path.name.removeprefix(prefix).removesuffix(suffix)
        if number.isdigit():
            epochs.append(int(number))
    return sorted(epochs)


def load_predictions(store, run_id: str, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, probabilities) of the validation set after `epoch`; None if not stored."""
    labels = store.read_artifact(run_id, VAL_LABELS)
    probabilities = store.read_artifact(run_id, VAL_PROBS % epoch)
    if labels is None or probabilities is None:
        return None
    return decode_array(labels), decode_array(probabilities).astype("float32")


def confusion(labels: np.ndarray, probabilities: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Counts[true, predicted] of the predictions' top class (scikit-learn's layout)."""
    from sklearn.metrics import confusion_matrix

    classes = num_classes or probabilities.shape[1]
    return confusion_matrix(labels, probabilities.argmax(axis=1), labels=np.arange(classes))


def class_report(labels: np.ndarray, probabilities: np.ndarray, class_names) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support; classes never predicted score 0."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        labels, probabilities.argmax(axis=1), labels=np.arange(len(class_names)),
        zero_division=0,
    )
    return pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                        index=pd.Index(list(class_names), name="class"))


def top_k_accuracy(labels: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """The fraction of images whose true class is among the `k` most probable."""
    top = np.argsort(-probabilities, axis=1)[:, :k]
    return float((top == np.asarray(labels)[:, None]).any(axis=1).mean())


# The k the lectures quote (ImageNet's top-5), where there are more classes than that.
USUAL_TOP_K = 5


def top_k_plan(num_classes: int) -> tuple[int | None, str | None]:
    """Which top-k to show beside top-1 for `num_classes` classes, and why another is not.

    Top-k with k >= the number of classes is 100% whatever the network does, so it says
    nothing: top-5 is shown only above five classes; with three to five, top-2 (is the
    true class among the two most probable?) instead; with two, no top-k at all, since
    top-1 is the accuracy and top-2 is always right.

    Returns:
        (k, note): the k to show (None for none) and a sentence on what is hidden and
        why (None when top-5 is shown).
    """
    if num_classes > USUAL_TOP_K:
        return USUAL_TOP_K, None
    if num_classes > 2:
        return 2, (f"Top-5 is hidden: with {num_classes} classes every image's true class is "
                   "among the five most probable, so it would always read 100%. Top-2 is "
                   "shown instead.")
    return None, (f"Top-k is hidden: with {num_classes} classes top-1 is the accuracy and "
                  "top-2 always reads 100%.")


def misclassified(labels: np.ndarray, probabilities: np.ndarray, true_class: int,
                  predicted_class: int) -> np.ndarray:
    """Indices of validation images of `true_class` predicted as `predicted_class`,
    most confident first."""
    predicted = probabilities.argmax(axis=1)
    chosen = np.flatnonzero((np.asarray(labels) == true_class) & (predicted == predicted_class))
    return chosen[np.argsort(-probabilities[chosen, predicted_class], kind="stable")]


def worst_confusion(matrix: np.ndarray) -> tuple[int, int]:
    """The (true, predicted) cell with the most mistakes; (0, 0) if there are none."""
    mistakes = np.array(matrix, copy=True)
    np.fill_diagonal(mistakes, -1)
    true_class, predicted_class = np.unravel_index(int(np.argmax(mistakes)), mistakes.shape)
    if mistakes[true_class, predicted_class] <= 0:
        return 0, 0
    return int(true_class), int(predicted_class)


def validation_data(config: dict, labels: np.ndarray):
    """The run's data set, to show its validation images; None if it cannot be had.

    Why the labels: the stored predictions are of the validation split the run drew; the
    data set is loaded again with the run's split settings (`load_dataset` caches it per
    process) and used only if its validation labels are those predicted, in the same order.
    An imported data set deleted since, or one that cannot be downloaded here, gives None.

    Args:
        config: the run's stored config (a dict).
        labels: the validation labels stored with its predictions.
    """
    from cnnlab.data import DatasetUnavailableError, load_dataset

    try:
        data = load_dataset(config["dataset"], image_size=config.get("image_size"),
                            train_size=config.get("train_size"),
                            validation_fraction=config.get("validation_fraction", 0.2),
                            seed=config.get("seed", 0))
    except (DatasetUnavailableError, ValueError, KeyError, OSError):
        return None
    if len(data.y_val) != len(labels) or not np.array_equal(data.y_val, labels):
        return None
    return data
