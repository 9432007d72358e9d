"""One run from start to finish: data, model, fit, outcome. Runs in a job's thread.

Every way a run can end is written to the store here: completed (with test metrics),
stopped, diverged (a non-finite loss; metrics so far are kept) or failed (the exception's
message is stored). Nothing here touches Streamlit.

A run trains in one or more phases (`cnnlab.training.transfer`): a two-phase transfer run
trains the new head first, then recompiles and fine-tunes the top of the base. Each phase
is one `model.fit` whose epochs continue from the phase before, with the same recorder,
so the stored curves run on; a "phase" metric row marks where each phase starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import threading

from cnnlab.config import ExperimentConfig
from cnnlab.data import load_dataset
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

    from cnnlab.augment import make_eval_dataset, make_training_dataset
    from cnnlab.schedules import schedule_callbacks
    from cnnlab.training.callbacks import StoreCallback
    from cnnlab.training.insight_callback import InsightCallback, record_interval
    from cnnlab.training.optimizers import make_optimizer
    from cnnlab.training.tensorboard import tensorboard_callback
    from cnnlab.training.train_step import wrap
    from cnnlab.training.transfer import (
        PHASE_METRIC,
        build_run_model,
        phase_config,
        phase_learning_rate,
    )

    data = load_dataset(
        config.dataset, image_size=config.image_size, train_size=config.train_size,
        validation_fraction=config.validation_fraction, seed=config.seed,
    )
    steps = math.ceil(len(data.x_train) / config.batch_size)
    with _seed_lock:
        keras.utils.set_random_seed(config.seed)
        built, phases = build_run_model(config, data, store)
        model = wrap(built)
        train = make_training_dataset(
            data.x_train, data.y_train, num_classes=data.num_classes, batch_size=config.batch_size,
            augmentation=config.augmentation, seed=config.seed)
    evaluation = max(config.batch_size, 256)
    validation = None
    if len(data.x_val):
        validation = make_eval_dataset(data.x_val, data.y_val, num_classes=data.num_classes,
                                       batch_size=evaluation)
    recorder = StoreCallback(store, run_id, epochs=config.epochs, steps_per_epoch=steps,
                             batch_size=config.batch_size, stop_event=stop_event)
    # The insight callback validates each epoch itself (see its module) and comes first.
    insight = InsightCallback(
        recorder, validation=None if validation is None else (validation, data.y_val),
        probe=data.x_val if len(data.x_val) else data.x_train,
        record_every=record_interval(config.epochs, steps))
    # Early stopping watches each phase on its own (Keras resets it when a fit begins): a
    # head that stops improving ends phase 1 early, and fine-tuning follows at once.
    early = _early_stopping(config)
    done = 0  # epochs trained so far
    for phase in phases:
        if stop_event.is_set():  # a stop between two phases
            recorder.stopped = True
        if recorder.stopped or recorder.diverged:
            break
        if done < phase.initial_epoch:
            phase = dataclasses.replace(phase, initial_epoch=done)
        if len(phases) > 1:
            store.add_metrics(run_id, [(phase.initial_epoch + 1, 0, PHASE_METRIC, phase.number)])
        # Trainable flags change between phases, and Keras collects the trainable weights
        # when it compiles: each phase compiles, with a fresh optimizer at the phase's rate.
        phase.apply(model)
        settings = phase_config(config, phase)
        # Labels are one-hot everywhere, so MixUp's and CutMix's soft labels need no special case.
        model.compile(
            optimizer=make_optimizer(settings, phase_learning_rate(config, phase, steps)),
            loss="categorical_crossentropy",
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
        callbacks = [insight, recorder, tensorboard_callback(store.run_dir(run_id), epochs=config.epochs,
                                                             steps_per_epoch=steps),
                     *schedule_callbacks(settings)]
        if early is not None:
            callbacks.append(early)
        history = model.fit(train, initial_epoch=phase.initial_epoch, epochs=phase.epochs,
                            shuffle=False, verbose=0,
                            callbacks=callbacks)  # the data set shuffles itself, seeded
        done = history.epoch[-1] + 1 if history.epoch else phase.initial_epoch

    final = dict(recorder.last_epoch_logs)
    if recorder.diverged:
        progress = recorder.progress()
        return "diverged", final, (
            f"The loss became NaN or infinite at epoch {progress['epoch']}, step "
            f"{progress['step']}. The learning rate {config.learning_rate:g} is probably too "
            "high: lower it (try 10x smaller), or add gradient clipping or batch norm."
        )
    if recorder.stopped:
        return "stopped", final, None
    if early is not None:
        final["best_epoch"] = early.best_epoch + 1
        if early.stopped_epoch:
            final["early_stopping_epoch"] = early.stopped_epoch + 1
    if validation is not None:
        # The weights that are kept (early stopping may have restored the best epoch's).
        val_loss, val_accuracy = model.evaluate(validation, verbose=0)
        final.update(val_loss=float(val_loss), val_accuracy=float(val_accuracy))
    test = make_eval_dataset(data.x_test, data.y_test, num_classes=data.num_classes,
                             batch_size=evaluation)
    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    final.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
    _save_model(store, run_id, model)
    return "completed", final, None


def _early_stopping(config):
    import keras

    options = config.early_stopping
    if not options.enabled:
        return None
    return keras.callbacks.EarlyStopping(
        monitor=options.monitor, min_delta=options.min_delta, patience=options.patience,
        restore_best_weights=options.restore_best_weights,
        mode="max" if options.monitor.endswith("accuracy") else "min",
    )


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
