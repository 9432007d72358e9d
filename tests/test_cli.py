"""python -m cnnlab: train headless and list runs, through the same store as the UI."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.cli import load_config
from cnnlab.config import parse_overrides
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
    # TensorFlow's start-up chatter is filtered (cnnlab.training.device); the cuInit error
    # only where no NVIDIA driver is installed, where it cannot concern the user.
    for harmless in ("oneDNN custom operations", "absl::InitializeLog", "cuda drivers"):
        assert harmless not in result.stderr, result.stderr
    if not os.path.exists("/proc/driver/nvidia/version"):
        assert "cuInit" not in result.stderr, result.stderr
    listing = _cli("runs", home=home, timeout=60)
    assert listing.returncode == 0
    line = next(line for line in listing.stdout.splitlines() if line.startswith(record.run_id))
    final = record.final_metrics
    gap = 100 * (final["accuracy"] - final["val_accuracy"])
    assert line.split()[1:6] == ["completed", "1/1", f"{final['accuracy']:.1%}",
                                 f"{final['val_accuracy']:.1%}", f"{gap:+.1f}"], line

    # show: the run's per-layer figures, the medians of its stored rows, and its alerts.
    shown = _cli("show", record.run_id[:-2], home=home, timeout=60)
    assert shown.returncode == 0, shown.stderr
    store = RunStore(home)
    names = sorted({row.name for row in store.metrics(record.run_id) if row.name.startswith("grad_norm/")})
    assert names
    for name in names:
        values = [row.value for row in store.metrics(record.run_id, names=[name])][-10:]
        layer_line = next(line for line in shown.stdout.splitlines()
                          if line.split()[:1] == [name.removeprefix("grad_norm/")])
        assert layer_line.split()[1] == f"{statistics.median(values):.2e}", layer_line
    assert "health alerts" in shown.stdout
    assert "epochs (0: the untrained model)" in shown.stdout
    store.close()


def test_show_names_a_run_it_cannot_find(tmp_path):
    home = tmp_path / "runs"
    store = RunStore(home)
    store.create_run({"epochs": 1})
    store.close()
    result = _cli("show", "1999", home=home, timeout=60)
    assert result.returncode == 2
    assert "Unknown run" in result.stderr and "'1999'" in result.stderr and "no run" in result.stderr


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
