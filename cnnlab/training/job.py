"""One run from start to finish: data, model, fit, outcome. Runs in a job's thread.

Every way a run can end is written to the store here: completed (with test metrics),
stopped, diverged (a non-finite loss; metrics so far are kept) or failed (the exception's
message is stored, and the metrics recorded before it are kept). Nothing here touches
Streamlit.

Why a full disk gets a message of its own: on a shared classroom server one student's
runs can fill the disk for everyone, and "OSError: [Errno 28]" deep from Keras' zip writer
tells no one what to do. A run that hits it fails with "The disk is full ..." naming the
folder to clean, its partial model file is removed (which frees the space to record the
failure), and the other runs go on. The last write of a run, its status, is retried a few
times; a store that still refuses it leaves the run for recovery instead of killing the
thread (a later server start marks it interrupted).

A run trains in one or more phases (`cnnlab.training.transfer`): a two-phase transfer run
trains the new head first, then recompiles and fine-tunes the top of the base. Each phase
is one `model.fit` whose epochs continue from the phase before, with the same recorder,
so the stored curves run on; a "phase" metric row marks where each phase starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import os
import sqlite3
import sys
import tempfile
import threading
import time

from cnnlab.config import ExperimentConfig
from cnnlab.data import load_dataset
from cnnlab.store import fsync_folder
from cnnlab.store.artifacts import MODEL_DIGEST_KEY, file_sha256
from cnnlab.training.device import configure_tensorflow
from cnnlab.training.measurements import (
    UNTRAINED_CHUNK,
    evaluate_with_probabilities,
    untrained_rows,
)
from cnnlab.training.seeding import seed_lock

# OSError numbers that mean "no room to write": a full disk, a used-up quota, a file past
# the file system's (or the process's RLIMIT_FSIZE) size limit.
DISK_FULL_ERRNOS = {errno.ENOSPC: "no space left on the disk",
                    errno.EDQUOT: "the disk quota is used up",
                    errno.EFBIG: "a file grew past the largest size allowed"}
# Pauses before retrying a run's final status write (SQLite busy past its timeout, a disk
# that was full a moment ago); then the run is left to recovery.
FINISH_RETRY_DELAYS_S = (0.2, 1.0, 3.0)


def execute_run(store, run_id: str, config: ExperimentConfig, stop_event: threading.Event,
                *, owner: str | None = None) -> str:
    """Train one run and record how it ended. Returns the final status; never raises.

    `owner` is the process recorded as training it (default: this one; a worker
    process names its server, see `cnnlab.training.workers`).

    Why never: it is the body of a job's thread, and an exception escaping it would end the
    thread with a traceback on the console and the run shown as running forever.
    """
    try:
        if stop_event.is_set():  # stopped while it waited: it never starts
            status, final, error = "stopped", None, None
        else:
            device = configure_tensorflow()
            if not store.mark_running(run_id, device=device, owner=owner):
                # It ended while it waited (stopped, or interrupted by a restarted server):
                # the first ending stands, and nothing is trained.
                record = store.get_run(run_id)
                return record.status if record is not None else "stopped"
            status, final, error = _train(store, run_id, config, stop_event)
    except Exception as exc:  # noqa: BLE001 - any failure becomes the run's status, never the server's
        status, final = "failed", None
        error = disk_full_message(exc, store.home) or f"{type(exc).__name__}: {exc}"
    _finish(store, run_id, status, final, error)
    return status


def warm_up(config: ExperimentConfig | None = None) -> None:
    """Load, before a run comes, what the run would otherwise wait for.

    TensorFlow and the modules every run imports, the data set of `config` (default: the
    default experiment) into this process's data cache, and TensorFlow's kernels for a
    forward pass of its model. A worker process calls it once while idle; measured on
    the default experiment (two cores under load), it cut the time from a run's start to
    its first stored point from 2.8 s in a fresh process to 0.2 to 0.5 s.
    Nothing here may fail a run: an error is left for the run that meets it to report.
    """
    configure_tensorflow()
    import keras

    import cnnlab.schedules  # noqa: F401 - imported for its cost, as _train does
    import cnnlab.training.callbacks  # noqa: F401
    import cnnlab.training.insight_callback  # noqa: F401
    import cnnlab.training.optimizers  # noqa: F401
    import cnnlab.training.tensorboard  # noqa: F401
    from cnnlab.models import build_model

    config = config or ExperimentConfig()
    try:
        data = load_dataset(config.dataset, image_size=config.image_size,
                            train_size=config.train_size,
                            validation_fraction=config.validation_fraction, seed=config.seed)
        with seed_lock:
            model = build_model(config.architecture, data.input_shape, data.num_classes,
                                tricks=config.tricks)
        model(data.x_train[:UNTRAINED_CHUNK], training=False)
    except Exception:  # noqa: BLE001 - see the docstring
        pass
    finally:
        keras.backend.clear_session(free_memory=False)


def disk_full_message(exc: BaseException, folder) -> str | None:
    """The message for a write refused for lack of room, or None for any other error.

    The whole chain is searched (`__cause__`, `__context__`): Keras' zip writer and h5py
    re-raise or wrap the OSError, and SQLite reports a full disk as an OperationalError.

    Args:
        exc: the exception a run failed with.
        folder: the folder to free space in (the lab's home: every run's files are there).
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        reason = None
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            reason = DISK_FULL_ERRNOS[exc.errno]
        elif isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            reason = f"the run store reported: {exc}"
        if reason is not None:
            return (
                f"The disk is full: the run's files could not be written in {folder} "
                f"({reason}). Expected room for the run's metrics and its trained model. "
                f"Received: {type(exc).__name__}: {exc}. Free space in {folder} (delete runs "
                "you no longer need, or ask the server's administrator), then train again."
            )
        exc = exc.__cause__ or exc.__context__
    return None


def _finish(store, run_id: str, status: str, final, error) -> None:
    """Write how the run ended, retried a few times; if the store refuses, say so on stderr.

    Why not raise: the run's status is the store's last word, and no one is left to catch
    an exception in this thread. Unwritten, the run stays "running" in the store until
    the next server start marks it interrupted (`RunStore.recover_interrupted`).
    """
    tries = 0
    for delay in (*FINISH_RETRY_DELAYS_S, None):
        tries += 1
        try:
            store.finish_run(run_id, status, final_metrics=final, error=error)
            return
        except (sqlite3.Error, OSError) as exc:  # busy or full: it may pass in a moment
            if delay is not None:
                time.sleep(delay)
                continue
            problem = exc
        except Exception as exc:  # noqa: BLE001 - anything else will not pass by retrying
            problem = exc
        break
    print(f"cnnlab: could not record that run {run_id} ended as {status!r} after {tries} "
          f"{'try' if tries == 1 else 'tries'} ({type(problem).__name__}: {problem}). It is left "
          "for recovery, which marks it interrupted when the lab next starts. Its error was: "
          f"{error}", file=sys.stderr, flush=True)


def _train(store, run_id, config, stop_event):
    import keras

    from cnnlab.augment.pipeline import make_eval_dataset, make_training_dataset
    from cnnlab.schedules import schedule_callbacks
    from cnnlab.training.callbacks import StoreCallback
    from cnnlab.training.distributions import PROBE_SIZE, DistributionCallback
    from cnnlab.training.figures import TEST_LABELS, TEST_PROBS, VAL_FINAL_PROBS
    from cnnlab.training.insight_callback import InsightCallback, record_interval
    from cnnlab.training.tensorboard import tensorboard_callback
    from cnnlab.training.train_step import compile_for_training, wrap
    from cnnlab.training.transfer import (
        PHASE_METRIC,
        build_run_model,
        phase_config,
        phase_learning_rate,
    )

    if config.kind == "lr_find":
        from cnnlab.training.lr_finder import run_finder

        return run_finder(store, run_id, config, stop_event, lambda progress: _tell_stage(store, run_id, progress))
    _tell_stage(store, run_id, {"stage": "loading_data"})
    data = load_dataset(
        config.dataset, image_size=config.image_size, train_size=config.train_size,
        validation_fraction=config.validation_fraction, seed=config.seed,
    )
    steps = math.ceil(len(data.x_train) / config.batch_size)
    recorder = StoreCallback(store, run_id, epochs=config.epochs, steps_per_epoch=steps,
                             batch_size=config.batch_size, stop_event=stop_event)
    if stop_event.is_set():
        return "stopped", {}, None
    _tell_stage(store, run_id, {"stage": "building_model"})
    with seed_lock:
        keras.utils.set_random_seed(config.seed)
        built, phases = build_run_model(config, data, store)
        model = wrap(built)
        if stop_event.is_set():  # stopped while the model was built: not even its first point
            return "stopped", {}, None
        # The first point of the curves, long before the first step has been traced.
        # Measured on `built` (the same layers and weights as `model`, called as it was
        # built); it draws no random number, so it may come before the pipeline's seeds.
        recorder.write_before_training(untrained_rows(built, data), "first_step")
        train = make_training_dataset(
            data.x_train, data.y_train, num_classes=data.num_classes, batch_size=config.batch_size,
            augmentation=config.augmentation, seed=config.seed)
    if stop_event.is_set():
        return "stopped", {}, None
    evaluation = max(config.batch_size, 256)
    validation = None
    if len(data.x_val):
        validation = make_eval_dataset(data.x_val, data.y_val, num_classes=data.num_classes,
                                       batch_size=evaluation)
    # The insight callback validates each epoch itself (see its module) and comes first.
    insight = InsightCallback(
        recorder, validation=None if validation is None else (validation, data.y_val),
        probe=data.x_val if len(data.x_val) else data.x_train,
        record_every=record_interval(config.epochs, steps))
    # Early stopping watches each phase on its own (Keras resets it when a fit begins): a
    # head that stops improving ends phase 1 early, and fine-tuning follows at once.
    early = _early_stopping(config)
    distributions = DistributionCallback(store, run_id, probe=(
        data.x_train[:PROBE_SIZE],
        keras.utils.to_categorical(data.y_train[:PROBE_SIZE], data.num_classes)))
    done = 0  # epochs trained so far
    for phase in phases:
        if stop_event.is_set():  # a stop between two phases
            recorder.stopped = True
        if recorder.stopped or recorder.diverged:
            break
        if done < phase.initial_epoch:
            phase = dataclasses.replace(phase, initial_epoch=done)
        if len(phases) > 1:  # written with the phase's first rows, and counted with them
            recorder.add_rows([(phase.initial_epoch + 1, 0, PHASE_METRIC, phase.number)])
        # Trainable flags change between phases, and Keras collects the trainable weights
        # when it compiles: each phase compiles, with a fresh optimizer at the phase's rate.
        phase.apply(model)
        settings = phase_config(config, phase)
        compile_for_training(model, settings, phase_learning_rate(config, phase, steps))
        callbacks = [insight, recorder, distributions, tensorboard_callback(store.run_dir(run_id), epochs=config.epochs,
                                                             steps_per_epoch=steps),
                     *schedule_callbacks(settings)]
        if early is not None:
            callbacks.append(early)
        try:
            history = model.fit(train, initial_epoch=phase.initial_epoch, epochs=phase.epochs,
                                shuffle=False, verbose=0,
                                callbacks=callbacks)  # the data set shuffles itself, seeded
        except Exception:
            # Keras ends no callback when fit raises: write the rows the recorder still
            # buffers, so the curves show the run up to the step that failed.
            with contextlib.suppress(Exception):
                recorder.on_train_end()
            raise
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
    _tell_stage(store, run_id, recorder.stage_progress("evaluating"))
    if validation is not None and early is not None and early.restore_best_weights:
        # The weights kept may be the best epoch's rather than the last's: measure them.
        val_loss, val_accuracy, probabilities = evaluate_with_probabilities(model, validation, data.y_val)
        final.update(val_loss=val_loss, val_accuracy=val_accuracy)
        _store_array(store, run_id, VAL_FINAL_PROBS, probabilities.astype("float16"))
    # Otherwise the last epoch's validation figures (in `final`) are the kept weights'.
    test = make_eval_dataset(data.x_test, data.y_test, num_classes=data.num_classes,
                             batch_size=evaluation)
    test_loss, test_accuracy, probabilities = evaluate_with_probabilities(model, test, data.y_test)
    final.update(test_loss=test_loss, test_accuracy=test_accuracy)
    _store_array(store, run_id, TEST_LABELS, data.y_test)
    _store_array(store, run_id, TEST_PROBS, probabilities.astype("float16"))
    _tell_stage(store, run_id, recorder.stage_progress("saving"))
    _save_model(store, run_id, model)
    # The store keeps the saved file's digest: a reader (the Inspect page) loads the file
    # only if it is still the one this run wrote, never one put in its folder by hand.
    _tell_stage(store, run_id, {**recorder.stage_progress("saving"),
                                MODEL_DIGEST_KEY: file_sha256(store.run_dir(run_id) / "model.keras")})
    return "completed", final, None


def _store_array(store, run_id: str, name: str, array) -> None:
    """Keep an array of the run's (its test predictions) as an .npy artifact."""
    from cnnlab.training.figures import encode_array

    store.write_artifact(run_id, name, encode_array(array))


def _tell_stage(store, run_id: str, progress: dict) -> None:
    """Record the run's stage; a store too busy to take it only delays the words (the next
    write says more), it must not fail a run."""
    with contextlib.suppress(sqlite3.OperationalError):
        store.update_progress(run_id, progress)


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
    """Save the trained model atomically: a half-written file is never left under its name.

    Keras writes a temporary file in the run's folder, which is flushed to the disk before
    it is renamed over "model.keras" (as `RunStore.write_artifact` does), so a crash or a
    power cut leaves the old name or the whole new file. On any failure (a full disk most
    likely) the partial file is removed at once: it is never loaded, and its space is
    needed to record the failure. The name (mkstemp's "tmp" prefix, ".keras" suffix) is
    the one `cnnlab.store.artifacts` removes after a crash.
    """
    folder = store.run_dir(run_id)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".keras")
    os.close(handle)
    try:
        model.save(temporary)
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, folder / "model.keras")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    fsync_folder(folder)
