"""Shared fixtures: an isolated run store per test, tiny fast experiments."""

from __future__ import annotations

import os

import pytest

from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

# Quiet TensorFlow's start-up chatter in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The app starts a worker process (which imports TensorFlow) with its job manager; most page
# tests never train, so none is started ahead. tests/test_workers.py covers prestart.
os.environ.setdefault("CNNLAB_PRESTART_WORKERS", "0")


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    """A fresh CNNLAB_HOME for the test: nothing leaks between tests or into ./runs."""
    home = tmp_path / "runs"
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    return home


@pytest.fixture
def store(lab_home):
    from cnnlab.store import RunStore

    store = RunStore(lab_home)
    yield store
    store.close()


@pytest.fixture
def tiny_config():
    """An experiment that trains in a second or two: 16 px digits, 256 images."""
    from cnnlab.config import ExperimentConfig

    return ExperimentConfig(dataset="digits", image_size=16, train_size=256, epochs=2, batch_size=32)


@pytest.fixture
def manager(store):
    """A job manager on the test's store (runs in threads, two at once), shut down after."""
    from cnnlab.training import JobManager

    manager = JobManager(store, max_concurrent=2)
    yield manager
    manager.shutdown(timeout=60)


@pytest.fixture
def keras_registry():
    """Keep the registrations of exec'd code (its copies of the lab's layers and classes,
    registered under the lab's names) out of other tests."""
    from keras.src.saving import object_registration

    objects = dict(object_registration.GLOBAL_CUSTOM_OBJECTS)
    names = dict(object_registration.GLOBAL_CUSTOM_NAMES)
    yield
    object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
    object_registration.GLOBAL_CUSTOM_OBJECTS.update(objects)
    object_registration.GLOBAL_CUSTOM_NAMES.clear()
    object_registration.GLOBAL_CUSTOM_NAMES.update(names)
