"""Ensembles of finished runs: their stored predictions averaged, or a majority vote.

Why no retraining: deck 003's trick 4 combines networks trained separately (seed repeats
are the natural members). Every completed run stores its validation and test
probabilities (`cnnlab.training.figures`), so an ensemble is arithmetic on those arrays:
the mean of the members' probabilities ("mean", soft voting), or each class's share of
the members' top-class votes ("vote", ties broken by the mean probability). The result
(members, accuracies, the curve as members are added) is kept as a small JSON file in the
store's `ensembles/` folder, a derived result beside the runs; nothing is trained.

Members must have predicted the same test images: the same data set, the same test labels
in the same order, and the same number of classes. The test split never depends on the
seed, so seed repeats share it; their validation splits do depend on it, so the ensemble is
measured on validation only where every member drew the same split (same seed, training
size and validation fraction), and on test always. A run that predates stored test
predictions, or did not complete, is refused with a message.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.training.figures import (
    TEST_LABELS,
    TEST_PROBS,
    VAL_FINAL_PROBS,
    VAL_LABELS,
    VAL_PROBS,
    decode_array,
)

METHODS = ("mean", "vote")
FOLDER = "ensembles"
# Members, at most: a lecture's seed repeats are a handful; each adds two small arrays.
MAX_MEMBERS = 20


@dataclass(frozen=True)
class MemberPredictions:
    """One run's stored predictions: validation and test labels and probabilities."""

    run_id: str
    dataset: str
    # What draws the validation split: (train_size, validation_fraction, seed).
    split: tuple
    val_labels: np.ndarray
    val_probabilities: np.ndarray
    test_labels: np.ndarray
    test_probabilities: np.ndarray


@dataclass(frozen=True)
class EnsembleResult:
    """An ensemble's figures: each member's accuracy, the ensemble's, and the curve.

    `curve` holds, for k = 1 .. n, the accuracy of the ensemble of the first k members
    (in the order given), on validation and test; validation is None where the members
    drew different validation splits (`shared_validation`).
    """

    members: list[str]
    method: str
    member_accuracy: dict[str, dict[str, float]]
    accuracy: dict[str, float | None]
    curve: list[dict]
    created: float = field(default_factory=time.time)
    # The ensemble's probabilities, not written to its JSON (recomputed from the members).
    val_probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)
    test_probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("val_probabilities")
        data.pop("test_probabilities")
        return data


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The fraction of images whose most probable class is the label."""
    return float((np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)).mean())


def combine(probabilities: list[np.ndarray], method: str = "mean") -> np.ndarray:
    """The ensemble's class scores from the members' probabilities.

    "mean": the average probability of each class. "vote": each class's share of the
    members whose top class it is; a tie goes to the class with the larger mean probability
    (added scaled far below one vote's share, so it only breaks ties).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown ensemble `method`. Expected one of {list(METHODS)}. "
                         f"Received: {method!r}.")
    stacked = np.stack([np.asarray(p, dtype="float64") for p in probabilities])
    mean = stacked.mean(axis=0)
    if method == "mean":
        return mean
    classes = stacked.shape[2]
    votes = np.eye(classes)[stacked.argmax(axis=2)].mean(axis=0)
    return votes + mean * (0.5 / (len(probabilities) * classes + 1))


def member_predictions(store, run_id: str) -> MemberPredictions:
    """A completed run's stored validation and test predictions; ValueError if missing."""
    record = store.get_run(run_id)
    if record is None:
        raise ValueError(f"Unknown run {run_id!r}. Expected the id of a run in this store. "
                         "Pick runs from the table.")
    if record.status != "completed":
        raise ValueError(
            f"Run {run_id} {record.status}; an ensemble takes completed runs only. Expected "
            f"status 'completed'. Received: {record.status!r}. Deselect it.")
    arrays = {}
    for name in (VAL_LABELS, _val_probabilities_name(store, run_id), TEST_LABELS, TEST_PROBS):
        data = store.read_artifact(run_id, name) if name else None
        if data is None:
            raise ValueError(
                f"Run {run_id} has no stored {'test' if name and 'test' in name else 'validation'} "
                "predictions (it was trained before the lab kept them, or without a validation "
                "set). Expected the files the lab writes when a run completes. Start it again "
                "(same config) and use the new run.")
        arrays[name] = decode_array(data)
    val_name = _val_probabilities_name(store, run_id)
    config = record.config
    split = (config.get("train_size"), config.get("validation_fraction"), config.get("seed"))
    return MemberPredictions(run_id, str(config.get("dataset")), split, arrays[VAL_LABELS], arrays[val_name].astype("float32"),
                             arrays[TEST_LABELS], arrays[TEST_PROBS].astype("float32"))


def _val_probabilities_name(store, run_id: str) -> str | None:
    """The validation predictions of the kept weights: the restored best epoch's if early
    stopping went back to it, else the last epoch's."""
    if store.read_artifact(run_id, VAL_FINAL_PROBS) is not None:
        return VAL_FINAL_PROBS
    from cnnlab.analysis.insight import prediction_epochs

    epochs = prediction_epochs(store, run_id)
    return VAL_PROBS % epochs[-1] if epochs else None


def check_members(members: list[MemberPredictions]) -> None:
    """Refuse members that did not predict the same images and classes."""
    if len(members) < 2:
        raise ValueError(f"An ensemble needs at least 2 runs. Expected 2 or more selected "
                         f"runs. Received: {len(members)}. Select more runs (seed repeats "
                         "make good members).")
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"Too many runs for an ensemble. Expected at most {MAX_MEMBERS}. "
                         f"Received: {len(members)}. Select fewer runs.")
    first = members[0]
    for member in members[1:]:
        if member.dataset != first.dataset or not np.array_equal(first.test_labels, member.test_labels):
            raise ValueError(
                f"Runs {first.run_id} and {member.run_id} were tested on different test sets "
                f"('{first.dataset}', {len(first.test_labels)} images, and '{member.dataset}', "
                f"{len(member.test_labels)} images). Expected members of one data set, whose "
                "test split is the same for every seed. Select runs of one data set.")
        classes = (first.test_probabilities.shape[1], member.test_probabilities.shape[1])
        if classes[0] != classes[1]:
            raise ValueError(
                f"Runs {first.run_id} and {member.run_id} predict different numbers of "
                f"classes. Expected the same. Received: {classes[0]} and {classes[1]}. "
                "Select runs of one data set.")


def shared_validation(members: list[MemberPredictions]) -> bool:
    """Whether every member predicted the same validation images (the same split)."""
    first = members[0]
    return all(member.split == first.split and np.array_equal(member.val_labels, first.val_labels)
               for member in members[1:])


def build_ensemble(store, run_ids: list[str], method: str = "mean") -> EnsembleResult:
    """The ensemble of `run_ids` (in this order) by `method`, from their stored predictions.

    Args:
        store: the RunStore.
        run_ids: completed runs with the same validation and test sets.
        method: "mean" (average the probabilities) or "vote" (majority of top classes).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown ensemble `method`. Expected one of {list(METHODS)}. "
                         f"Received: {method!r}.")
    run_ids = list(dict.fromkeys(run_ids))
    members = [member_predictions(store, run_id) for run_id in run_ids]
    check_members(members)
    first = members[0]
    validated = shared_validation(members)
    member_accuracy = {m.run_id: {"validation": accuracy(m.val_labels, m.val_probabilities),
                                  "test": accuracy(m.test_labels, m.test_probabilities)}
                       for m in members}

    def scores(chosen) -> tuple[np.ndarray | None, np.ndarray]:
        val = combine([m.val_probabilities for m in chosen], method) if validated else None
        return val, combine([m.test_probabilities for m in chosen], method)

    curve = []
    for count in range(1, len(members) + 1):
        val, test = scores(members[:count])
        curve.append({"members": count,
                      "validation": None if val is None else accuracy(first.val_labels, val),
                      "test": accuracy(first.test_labels, test)})
    val, test = scores(members)
    return EnsembleResult(
        members=run_ids, method=method, member_accuracy=member_accuracy,
        accuracy={"validation": curve[-1]["validation"], "test": curve[-1]["test"]},
        curve=curve, val_probabilities=val, test_probabilities=test)


def save_ensemble(store, result: EnsembleResult) -> Path:
    """Keep `result` as `<home>/ensembles/<id>.json` (written atomically); return the path."""
    from cnnlab.store.artifacts import write_atomically

    folder = Path(store.home) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(result.created))}-{result.method}-" \
           f"{len(result.members)}.json"
    return write_atomically(folder, name, json.dumps(result.to_dict(), indent=2).encode())


def saved_ensembles(store) -> list[dict]:
    """The ensembles kept in the store, newest first; unreadable files are skipped."""
    folder = Path(store.home) / FOLDER
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("members"), list):
            found.append({**data, "file": path.name})
    return found
