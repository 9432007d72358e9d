"""Which models the Inspect page may open: a completed run's own file, unchanged.

Why so strict: a Keras file is code as much as data, and on a shared server a student
must not make the lab open a file of their choosing. A run records the sha256 of the model
it saved in the store (`cnnlab.store.artifacts.MODEL_DIGEST_KEY`), so a file put in a
run's folder by hand (or a run's model swapped for another's) is refused with a message;
the file is then loaded by the lab's own loader (`transfer.load_run_model`: safe mode on,
the run's own folder only), the one "start from a run" uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from cnnlab.data import load_dataset
from cnnlab.store.artifacts import MODEL_DIGEST_KEY, file_sha256
from cnnlab.training.transfer import MODEL_FILE, _completed_run, load_run_model


@dataclass(frozen=True, eq=False)
class InspectedModel:
    """A model to inspect, with what the page needs to label it.

    Args:
        key: a cache key naming the model (the run id, or "backbone:<name>").
        model: the Keras model (its last layer a softmax over `class_names`).
        class_names: one name per output unit.
        config: the run's stored config (empty for a backbone).
        data: the run's data set, split as the run split it (None for a backbone).
    """

    key: str
    model: keras.Model
    class_names: tuple[str, ...]
    config: dict
    data: object = None


def check_inspectable(store, run_id: str) -> None:
    """Raise ValueError unless `run_id` is a completed run whose model file is its own.

    Args:
        store: the RunStore.
        run_id: the run to inspect.
    """
    try:
        record = _completed_run(store, run_id, None)
    except ValueError as exc:
        # The transfer module words its refusals for "start from"; say "inspect" here.
        raise ValueError(str(exc).replace("cannot start another run", "cannot be inspected")
                         .replace("`transfer.start_from_run`", "the Inspect page")) from None
    path = store.run_dir(run_id) / MODEL_FILE
    if not path.is_file() or path.is_symlink():
        raise ValueError(
            f"Run {run_id!r} has no saved model to inspect. Expected the file '{MODEL_FILE}' "
            f"its training wrote in {path.parent}. Received: no such file (deleted, or the run "
            "was stored without it). Pick another completed run, or train this one again.")
    recorded = record.progress.get(MODEL_DIGEST_KEY)
    if not recorded:
        raise ValueError(
            f"Run {run_id!r} recorded no digest of its model file, so the lab cannot tell "
            f"its '{MODEL_FILE}' from one put there by hand. Expected a run trained by this "
            "version of the lab. Received: a run without a recorded sha256. Train it again "
            "(the Train page's form reloads its settings) and inspect the new run.")
    actual = file_sha256(path)
    if actual != recorded:
        raise ValueError(
            f"Run {run_id!r}'s model file is not the one its training saved: the store "
            f"recorded sha256 {recorded[:12]}..., the file in {path.parent} has "
            f"{actual[:12]}... (replaced or changed by hand). Expected the run's own file. "
            "The lab opens no model it did not save itself: delete the run, or train it again.")


def load_inspected_run(store, run_id: str) -> InspectedModel:
    """The model of a completed run, checked by `check_inspectable`, and its class names."""
    check_inspectable(store, run_id)
    config = store.get_run(run_id).config
    model = load_run_model(store, run_id)
    data = run_data(config)
    outputs = int(model.outputs[0].shape[-1])
    names = tuple(data.class_names) if data is not None else ()
    if len(names) != outputs:
        names = tuple(str(index) for index in range(outputs))
    return InspectedModel(run_id, model, names, dict(config), data)


def run_data(config: dict):
    """The data set a run trained on, split as it was (cached per process), or None when
    it can no longer be loaded (an imported data set since deleted)."""
    try:
        return load_dataset(config["dataset"], image_size=config.get("image_size"),
                            train_size=config.get("train_size"),
                            validation_fraction=config.get("validation_fraction", 0.2),
                            seed=config.get("seed", 0))
    except (KeyError, ValueError, OSError):
        return None
