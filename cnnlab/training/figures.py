"""What a run stores beyond its epoch metrics, by name, and how its arrays are encoded.

Why in training: the train step and the insight callback write these rows and files, and
every reader (`cnnlab.analysis.insight`, `cnnlab.analysis.history`, the CLI's report) finds
them by the names defined here, next to their writer.

  metric rows   "grad_norm/<layer>", "weight_norm/<layer>", "update_ratio/<layer>" at
                (epoch, step) every `record_every` steps, layers written input to output;
                "dead_fraction/<layer>" for each ReLU layer at every epoch's end.
  artifacts     VAL_LABELS (the validation labels, int) once, and VAL_PROBS % epoch (the
                validation set's predicted probabilities, float16) at every epoch's end;
                LAYER_ORDER once. When a run completes: TEST_LABELS and TEST_PROBS (the
                test set's, float16), and VAL_FINAL_PROBS if the kept weights are not
                the last epoch's (early stopping restored the best); ensembles read them.
"""

from __future__ import annotations

import io

import numpy as np

DEAD_KIND = "dead_fraction"
VAL_LABELS = "val_labels.npy"
VAL_PROBS = "val_probs_e%03d.npy"
VAL_FINAL_PROBS = "val_probs_final.npy"
TEST_LABELS = "test_labels.npy"
TEST_PROBS = "test_probs.npy"
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
