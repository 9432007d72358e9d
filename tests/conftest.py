"""Shared fixtures: an isolated run store per test, tiny fast experiments."""

from __future__ import annotations

import os

import pytest

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
