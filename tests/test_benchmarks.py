"""Every benchmark runs to its last line, as a user runs it: `python benchmarks/NAME.py --quick`.

Why: nothing else runs the benchmarks between the sessions that write the README's figures,
so a renamed function or a new architecture could break one unseen (issue 20: two did).
Each script runs in a subprocess with its smallest setting (`--quick`: one try, a tiny
model, seconds), its homes (CNNLAB_HOME, KERAS_HOME, TMPDIR) in the test's temporary
folder and its working directory there too, and must exit 0 with one JSON object as its
last line holding every key the table below names (the keys its docstring documents);
the first lines are its table. Checked besides: nothing new lands in the checkout, and no
process it started (worker processes, a server, a browser) outlives it.

`BENCHMARKS` is the table. A script in benchmarks/ that is missing from it fails
`test_every_benchmark_is_registered`: a new benchmark must be given its keys here.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_DIR = ROOT / "benchmarks"
# Every process a benchmark starts inherits this variable (with a value of the test's own),
# which is how the processes it leaves behind are found, even those in a session of their
# own (Playwright starts Chromium in one).
MARKER = "CNNLAB_BENCHMARK_TEST"
# Orphaned workers poll for their server twice a second; a loaded machine needs longer.
LEFTOVER_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Benchmark:
    """What one benchmark's `--quick` run must print.

    keys: paths into the last line's JSON object, "/" between levels (keys may hold dots).
    expect: path -> the exact value the quick setting gives (its size, or a must-be-zero).
    timeout_s: a generous limit for a machine that other jobs load (a few times the
        quiet figure); the run is killed, with every process it started, past it.
    browser: needs Chromium (skipped without one, as the browser tests are).
    """

    keys: tuple[str, ...]
    expect: dict = field(default_factory=dict)
    timeout_s: float = 240.0
    browser: bool = False


def _each(prefixes, leaves) -> tuple[str, ...]:
    return tuple(f"{prefix}/{leaf}" for prefix in prefixes for leaf in leaves)


BENCHMARKS = {
    "alert_thresholds": Benchmark(
        keys=("seeds", "runs"),
        expect={"seeds": [0]},
    ),
    "batch_norm": Benchmark(
        keys=("seeds", "figures/digits: no batch norm/validation",
              "figures/digits: batch norm, momentum 0.5/validation"),
        expect={"seeds": [0]},
    ),
    "architectures": Benchmark(
        keys=(*_each(("families/lenet5", "families/inception_aux"),
                     ("params", "macs", "images_per_s", "gflops_fraction")),
              "ceiling_gflops", "ceilings/64->64 3x3 on 64x64"),
        # The two-output network once crashed the script (issue 20).
        expect={"families/inception_aux/params": 815_036, "families/lenet5/params": 61_836},
    ),
    "augmentation": Benchmark(
        keys=("ratio", "ratio_in_model", "ratio_paired_median", "preview_ms",
              "augment_ms_per_batch", "images_per_s/none", "images_per_s/tf.data",
              "images_per_s/in-model", "device", "cpu_count", "load_average", "train_size",
              "epochs", "repeats"),
        expect={"train_size": 64, "epochs": 2, "repeats": 1},
    ),
    "cli_overhead": Benchmark(
        keys=("startup_s", "to_first_row_s", "to_first_batch_s", "training_s", "finish_s",
              "exit_s", "overhead_s", "overhead_ratio", "stderr_lines", "repeats_s",
              "load_avg_1m"),
    ),
    "first_point": Benchmark(
        keys=("click_to_first_point_s", "cold_click_to_first_point_s", "warm_s",
              "train_button_s", "page_idle_s", "warm_train_button_s", "warm_page_idle_s",
              "breakdown_cold", "breakdown_warm", "load_avg_1m", "target_s", "met"),
        browser=True,
    ),
    "stop_queued": Benchmark(
        keys=("stop_all_s", "stop_all_each_s", "statuses", "trained_rows", "load_avg_1m"),
        expect={"trained_rows": 0},
    ),
    "classroom": Benchmark(
        keys=("students", "p50_s", "p95_s", "max_s", "samples", "undelivered", "students_served",
              "server_cpu_per_student", "server_cpu_watched", "server_cpu_unwatched", "client_cpu", "window_s",
              "rows_stored", "load_avg_1m", "cpu_count", "target_s", "met"),
        expect={"students": 3, "students_served": 3},
        timeout_s=420.0,
    ),
    "compare_render": Benchmark(
        keys=("compare_render_s", "times_s", "cpu_s", "cleanup_s", "script_s", "gc_freeze",
              "runs", "epochs", "metric_rows", "charts", "fill_s", "target_s", "ok",
              "load_average"),
        expect={"runs": 2, "epochs": 2},
    ),
    "concurrency": Benchmark(
        keys=("speedup_4", "speedup_2", "fairness", "aggregate_images_per_s/1",
              "aggregate_images_per_s/2", "aggregate_images_per_s/4", "isolation",
              "compare_render_s"),
        expect={"isolation": "thread"},
    ),
    "kill_trials": Benchmark(
        keys=("trials", "killed", "integrity_ok", "runs_total", "completed", "interrupted",
              "other_status", "models_loaded", "accuracy_mismatch", "interrupted_models_refused",
              "unreadable_artifacts", "temp_files_left_before_recovery",
              "temp_files_left_after_recovery", "workers_killed_with_server",
              "workers_left_after_10s", "span_s", "kill_moments_s", "states_at_kill"),
        expect={"trials": 1, "killed": 1, "integrity_ok": 1, "other_status": 0,
                "temp_files_left_after_recovery": 0, "workers_left_after_10s": 0},
    ),
    "inspection": Benchmark(
        keys=("inspect_small_ms", "inspect_224_ms", "inspect_training_ratio",
              "training_images_per_s_alone", "training_images_per_s_inspected",
              "inspect_pace_s", "gradcam_inside", "gradcam_inside_last_block",
              "gradcam_uniform", "gradcam_test_accuracy", "distributions_epoch_ms"),
    ),
    "latency": Benchmark(
        keys=("browser_latency_s", "p90_s", "min_s", "max_s", "mean_s", "samples_s",
              "warmup_s", "probe_s", "first_view_s", "load_avg_1m", "target_s", "met"),
        browser=True,
    ),
    "lessons": Benchmark(
        keys=(*_each(("lessons/learning_rate",), ("holds", "effect", "sd", "seconds", "metric",
                                                  "values")), "held", "total", "seeds"),
        expect={"total": 1, "seeds": [0], "lessons/learning_rate/metric": "final_loss"},
    ),
    "lr_finder": Benchmark(
        keys=("seeds", "suggestions", "rules", "descents", "finder_seconds", "validation/suggested/mean",
              "validation/1e-05/mean", "validation/3/mean", "holds"),
        expect={"seeds": [0]},
    ),
    "memory": Benchmark(
        keys=_each(("process",), ("isolation", "runs", "at", "total_mb_after_1",
                                  "total_mb_after_2", "ratio", "max_ratio", "server_mb_after_1",
                                  "server_mb_after_2", "workers_retired")),
        expect={"process/runs": 2, "process/at": 1},
    ),
    "overhead": Benchmark(
        keys=("ratio", "ratio_full", "first_metric_s", "first_metric_warm_s",
              "bare_images_per_s", "lab_images_per_s"),
    ),
    "soak": Benchmark(
        keys=("seconds", "runs", "sessions", "isolation", "runs_started", "statuses",
              "rows_written", "rows_stored", "lost_rows", "extra_rows", "reader_gaps",
              "locked_errors", "reader_errors", "writer_errors", "thread_exceptions",
              "failed_runs", "polls", "poll_p50_ms", "poll_p95_ms", "poll_max_ms", "wal_mb",
              "errors"),
        expect={"isolation": "process", "runs": 1, "sessions": 1, "lost_rows": 0,
                "extra_rows": 0, "thread_exceptions": 0, "failed_runs": 0},
    ),
}


def _scripts() -> set[str]:
    # A leading underscore marks a library the benchmarks share, not a benchmark.
    return {path.stem for path in BENCHMARKS_DIR.glob("*.py") if not path.stem.startswith("_")}


def test_every_benchmark_is_registered():
    unregistered = sorted(_scripts() - set(BENCHMARKS))
    assert not unregistered, (
        f"{', '.join(f'benchmarks/{name}.py' for name in unregistered)} not in BENCHMARKS of "
        f"{Path(__file__).name}: register each with the keys of its last JSON line (and give "
        "it --quick), so that the suite runs it")
    gone = sorted(set(BENCHMARKS) - _scripts())
    assert not gone, f"BENCHMARKS names scripts that are not in benchmarks/: {gone}"


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_docstring_gives_what_keys_and_target(name):
    """The module docstring says what it measures (its first line), its keys and a target."""
    doc = ast.get_docstring(ast.parse((BENCHMARKS_DIR / f"{name}.py").read_text())) or ""
    assert doc.splitlines() and doc.splitlines()[0].strip(), f"{name}: no summary line"
    assert "Keys of the last line" in doc, f"{name}: the docstring lists no JSON keys"
    assert "target" in doc.lower(), f"{name}: the docstring names no target"
    undocumented = sorted({key.split("/")[0] for key in BENCHMARKS[name].keys
                           if key.split("/")[0] not in doc})
    assert not undocumented, f"{name}: keys missing from the docstring: {undocumented}"


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.browser] if BENCHMARKS[name].browser else [])
    for name in sorted(BENCHMARKS)
])
def test_quick_run_prints_its_table_and_every_key(name, tmp_path):
    spec = BENCHMARKS[name]
    if spec.browser:
        from tests.browser import chromium_path

        chromium_path()  # skips (or fails, where CNNLAB_REQUIRE_BROWSER) without Chromium
    token = uuid.uuid4().hex
    folders = {"CNNLAB_HOME": tmp_path / "runs", "KERAS_HOME": tmp_path / "keras",
               # Short: Chromium's socket path in it must fit in 108 bytes.
               "TMPDIR": Path(tempfile.mkdtemp(prefix="cnnlab-bench-"))}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    env = {**os.environ, **{key: str(value) for key, value in folders.items()},
           MARKER: token, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    try:
        _check_quick_run(name, spec, tmp_path, env, token)
    finally:
        shutil.rmtree(folders["TMPDIR"], ignore_errors=True)


def _check_quick_run(name: str, spec: Benchmark, folder: Path, env: dict, token: str) -> None:
    checkout = _checkout_files()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(BENCHMARKS_DIR / f"{name}.py"), "--quick"], cwd=folder,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=spec.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        _end_leftovers(token, timeout_s=0)
        pytest.fail(f"{name} --quick ran past {spec.timeout_s:.0f} s; stdout tail:\n"
                    f"{stdout[-2000:]}\nstderr tail:\n{stderr[-3000:]}")
    elapsed = time.monotonic() - started
    leftovers = _end_leftovers(token, timeout_s=LEFTOVER_TIMEOUT_S)

    assert process.returncode == 0, (
        f"{name} --quick exited {process.returncode} after {elapsed:.0f} s; stderr tail:\n"
        f"{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) >= 2, f"{name} printed no table before its JSON line: {stdout!r}"
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        pytest.fail(f"{name}'s last line is not JSON ({error}): {lines[-1]!r}")
    assert isinstance(figures, dict), f"{name}'s last line is not a JSON object: {lines[-1]!r}"
    missing = [key for key in spec.keys if not _has(figures, key)]
    assert not missing, f"{name}'s JSON lacks {missing}: {lines[-1]}"
    unlike = {key: _get(figures, key) for key, value in spec.expect.items()
              if _get(figures, key) != value}
    assert not unlike, f"{name}: expected {spec.expect}, got {unlike}"
    not_finite = [key for key in spec.keys
                  if isinstance(_get(figures, key), float) and not math.isfinite(_get(figures, key))]
    assert not not_finite, f"{name}: not finite: {not_finite}"
    assert not leftovers, f"{name} left processes running after it ended: {leftovers}"
    new = sorted(_checkout_files() - checkout)
    assert not new, f"{name} wrote into the checkout: {new[:10]}"


def _has(figures: dict, path: str) -> bool:
    node = figures
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _get(figures: dict, path: str):
    node = figures
    for part in path.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _marked(token: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment holds the test's marker."""
    wanted = f"{MARKER}={token}".encode()
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
        except OSError:  # ended meanwhile, or another user's
            continue
    return found


def _end_leftovers(token: str, *, timeout_s: float) -> dict[int, str]:
    """Wait up to `timeout_s` for the marked processes to end; kill those left; return them."""
    deadline = time.monotonic() + timeout_s
    while (left := _marked(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def _checkout_files() -> set[str]:
    """Untracked and ignored files in the checkout, bytecode and test artifacts aside
    (none where the project is no git checkout: nothing to compare then)."""
    try:
        listing = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line[3:] for line in listing.splitlines()
            if "__pycache__" not in line and not line[3:].startswith(("test-artifacts/", ".pytest_cache/"))}


def test_no_benchmark_shadows_a_standard_library_module():
    """A script's folder comes first on its path: benchmarks/inspect.py once made every
    other benchmark import it as the standard library's `inspect` (numpy's import failed)."""
    shadowing = sorted(path.stem for path in BENCHMARKS_DIR.glob("*.py")
                       if path.stem in sys.stdlib_module_names)
    assert shadowing == []
