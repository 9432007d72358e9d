"""One run from start to finish: data, model, fit, outcome. Runs in a job's thread.

Every way a run can end is written to the store here: completed (with test metrics),
stopped, diverged (a non-finite loss; metrics so far are kept) or failed (the exception's
message is stored). Nothing here touches Streamlit.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading

from cnnlab.config import ExperimentConfig
from cnnlab.data import load_dataset
from cnnlab.models import build_model
from cnnlab.training.device import configure_tensorflow

# keras.utils.set_random_seed sets process-wide seeds; building under a lock keeps one
# run's seeding from interleaving with another's model construction.
_seed_lock = threading.Lock()


def execute_run(store, run_id: str, config: ExperimentConfig, stop_event: threading.Event) -> str:
    """Train one run and record how it ended. Returns the final status."""
    try:
        device = configure_tensorflow()
        store.mark_running(run_id, device=device)
        status, final, error = _train(store, run_id, config, stop_event)
    except Exception as exc:  # any failure becomes the run's status, never the server's
        store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        return "failed"
    store.finish_run(run_id, status, final_metrics=final, error=error)
    return status


def _train(store, run_id, config, stop_event):
    import keras

    from cnnlab.training.callbacks import StoreCallback
    from cnnlab.training.optimizers import make_optimizer
    from cnnlab.training.train_step import wrap

    data = load_dataset(
        config.dataset, image_size=config.image_size, train_size=config.train_size,
        validation_fraction=config.validation_fraction, seed=config.seed,
    )
    with _seed_lock:
        keras.utils.set_random_seed(config.seed)
        model = wrap(build_model(config.architecture, data.input_shape, data.num_classes,
                                 tricks=config.tricks))
    model.compile(
        optimizer=make_optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    steps = math.ceil(len(data.x_train) / config.batch_size)
    callback = StoreCallback(store, run_id, epochs=config.epochs, steps_per_epoch=steps,
                             batch_size=config.batch_size, stop_event=stop_event)
    validation = (data.x_val, data.y_val) if len(data.x_val) else None
    model.fit(data.x_train, data.y_train, batch_size=config.batch_size, epochs=config.epochs,
              validation_data=validation, shuffle=True, verbose=0, callbacks=[callback])

    final = dict(callback.last_epoch_logs)
    if callback.diverged:
        progress = callback.progress()
        return "diverged", final, (
            f"The loss became NaN or infinite at epoch {progress['epoch']}, step "
            f"{progress['step']}. The learning rate {config.learning_rate:g} is probably too "
            "high: lower it (try 10x smaller), or add gradient clipping or batch norm."
        )
    if callback.stopped:
        return "stopped", final, None
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0,
                                              batch_size=max(config.batch_size, 256))
    final.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
    _save_model(store, run_id, model)
    return "completed", final, None


def _save_model(store, run_id: str, model) -> None:
    """Save the trained model atomically: a half-written file is never left under its name."""
    folder = store.run_dir(run_id)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".keras")
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, folder / "model.keras")
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
