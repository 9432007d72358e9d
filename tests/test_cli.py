"""python -m cnnlab: train headless and list runs, through the same store as the UI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.cli import load_config, parse_overrides
from cnnlab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, home: Path, timeout=180):
    env = {**os.environ, "CNNLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_train_then_list(tmp_path):
    home = tmp_path / "runs"
    result = _cli("train", "--set", "epochs=1", "--set", "train_size=128", "--set", "image_size=16",
                  "--set", "tricks.dropout_rate=0.5", "--name", "cli smoke", home=home)
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    [record] = RunStore(home).list_runs()
    assert record.status == "completed" and record.name == "cli smoke"
    assert record.config["tricks"]["dropout_rate"] == 0.5
    assert "epoch 1/1" in result.stderr  # the progress display
    listing = _cli("runs", home=home, timeout=60)
    assert listing.returncode == 0
    assert record.run_id in listing.stdout and "completed" in listing.stdout
    assert f"{record.final_metrics['val_accuracy']:.3f}" in listing.stdout


@pytest.mark.parametrize("args, message", [
    (["--set", "learning_rate=-1"], "Invalid `learning_rate`"),
    (["--set", "tricks.dropout_rate=1"], "Invalid `dropout_rate`"),
    (["--set", "dataset=imagenet"], "Unknown `dataset`"),
    (["--set", "batch_size=5000"], "larger than the training set"),
    (["--set", "epochs"], "Expected FIELD=VALUE"),
    (["--config", "missing.json"], "Could not read the config file"),
])
def test_bad_input_exits_2_with_the_message_and_writes_no_run(tmp_path, args, message):
    home = tmp_path / "runs"
    result = _cli("train", *args, home=home, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (home / "cnnlab.sqlite3").exists() or RunStore(home).list_runs() == []


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "experiment.json"
    path.write_text('{"dataset": "shapes", "epochs": 3}')
    config = load_config(path, ["epochs=1", "tricks.batch_norm=true", "optimizer=sgd"])
    assert (config.dataset, config.epochs, config.tricks.batch_norm, config.optimizer) == ("shapes", 1, True, "sgd")
    path.write_text("{broken")
    with pytest.raises(ValueError, match="Could not parse the experiment config"):
        load_config(path, [])


def test_override_values_are_read_as_json_where_they_parse():
    assert parse_overrides(["a=1", "b=0.5", "c=true", "d=null", "e=adam"]) == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": "adam"}
