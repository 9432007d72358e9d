"""What a run's insight data says: per-layer tables, confusion matrices, per-class scores.

Why here and not in the pages: the Train and Compare pages, the CLI and the tests all read
the same stored figures, and none of this needs Streamlit or TensorFlow.

What training stores (cnnlab.training.insight_callback writes it):
  metric rows   "grad_norm/<layer>", "weight_norm/<layer>", "update_ratio/<layer>" at
                (epoch, step) every `record_every` steps, layers written input to output;
                "dead_fraction/<layer>" for each ReLU layer at every epoch's end.
  artifacts     VAL_LABELS (the validation labels, int) once, and VAL_PROBS % epoch (the
                validation set's predicted probabilities, float16) at every epoch's end.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

LAYER_KINDS = ("grad_norm", "weight_norm", "update_ratio")
DEAD_KIND = "dead_fraction"
VAL_LABELS = "val_labels.npy"
VAL_PROBS = "val_probs_e%03d.npy"
# Every kernel's layer, input to output, frozen ones too (a JSON list): a two-phase transfer
# run records the base's layers only once fine-tuning unfreezes them, after the head's.
LAYER_ORDER = "layer_order.json"


def encode_array(array: np.ndarray) -> bytes:
    """`array` as .npy bytes (no pickles), for `RunStore.write_artifact`."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_array(data: bytes) -> np.ndarray:
    """The array in .npy bytes; objects (pickles) are refused."""
    return np.load(io.BytesIO(data), allow_pickle=False)


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


def misclassified(labels: np.ndarray, probabilities: np.ndarray, true_class: int,
                  predicted_class: int) -> np.ndarray:
    """Indices of validation images of `true_class` predicted as `predicted_class`,
    most confident first."""
    predicted = probabilities.argmax(axis=1)
    chosen = np.flatnonzero((np.asarray(labels) == true_class) & (predicted == predicted_class))
    return chosen[np.argsort(-probabilities[chosen, predicted_class], kind="stable")]
