"""kill -9 of the server at random moments: the store and the runs must survive every one.

One trial starts a child Python process that acts as the lab's server: one JobManager
(max_concurrent=2) with four small digits runs submitted at once, so at any moment some runs
are queued, some build or train, some save their model and artifacts, some are done. After
a delay the child gets SIGKILL, and the parent does what a restarted server does, checking:

- `PRAGMA integrity_check` of the database is "ok" (opened with plain sqlite3, first);
- a new RunStore and JobManager (whose recovery runs in __init__) leave every run
  `completed` or `interrupted`, none queued, running or failed;
- every completed run's model loads (`load_run_model`) and, evaluated on the run's test
  set, gives the test accuracy the run stored (so the file is the one its metrics describe);
- no interrupted run's model loads (`load_run_model` refuses it with a ValueError);
- every artifact left in a run's folder is whole (.npy arrays decode, .keras files are
  valid zips), and no writer's temporary file is left once recovery has run.

Kill moments: "random" draws the delay after the child reports its runs submitted,
uniformly over the span the four runs take (measured first by a calibration child that is
not killed). The others wait for a state, watching the store as a page would:
"queued" (at once: runs queued, data loading, models building), "training" (the first
epoch's metrics are in), "saving" (a model's temporary file appears), "first_completed".

Keys of the last line (one JSON object; counts summed over the trials): `trials`, `killed`,
`integrity_ok`, `runs_total`, `completed`, `interrupted`, `other_status`, `models_loaded`,
`accuracy_mismatch`, `interrupted_models_refused`, `unreadable_artifacts`,
`temp_files_left_before_recovery`, `temp_files_left_after_recovery`,
`workers_killed_with_server`, `workers_left_after_10s`, `span_s` (the calibration's; null
for a moment other than "random"), `kill_moments_s`, `states_at_kill`. Targets (issue
"Hardening for a shared classroom server"), every trial: integrity ok, `other_status`,
`accuracy_mismatch`, `unreadable_artifacts`, `temp_files_left_after_recovery` and
`workers_left_after_10s` 0, every interrupted run's model refused.

Usage: python benchmarks/kill_trials.py [--trials 20] [--seed 0] [--moment random] [--runs 4]
       python benchmarks/kill_trials.py --quick   (seconds: one trial, killed with its
           workers at once after submit, no calibration; checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlab.store import DB_NAME  # noqa: E402
from cnnlab.store.artifacts import temporary_files  # noqa: E402
from cnnlab.store.owners import child_pids, pid_alive  # noqa: E402

MOMENTS = ("random", "queued", "training", "saving", "first_completed")
# The child's time limit to start (a TensorFlow import on a loaded machine) and to finish.
START_TIMEOUT_S = 180.0
# Orphaned workers exit within PARENT_POLL_S (0.5 s); this allows for a loaded machine.
WORKER_EXIT_TIMEOUT_S = 10.0
# Random kills fall in this share of the calibrated span: later, on a machine a little
# faster than at calibration, the runs may all have ended and there is nothing to kill.
SPAN_SHARE = 0.9
RUN_TIMEOUT_S = 300.0
# --quick: one kill, at once after submit (no calibration child, no training to wait for).
QUICK = {"trials": 1, "moment": "queued"}

# The server: imports TensorFlow, submits the runs, reports their ids, waits for them all.
_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tensorflow  # noqa: F401  (the import is done before the clock starts)
from cnnlab.config import ExperimentConfig
from cnnlab.store import RunStore
from cnnlab.training import JobManager

manager = JobManager(RunStore(), max_concurrent=2, isolation=sys.argv[3], prestart=2)
ids = [manager.submit(ExperimentConfig(**config)) for config in json.loads(sys.argv[2])]
print("submitted " + json.dumps(ids), flush=True)
for run_id in ids:
    manager.wait(run_id)
print("done", flush=True)
"""


def run_configs(seed: int, runs: int = 4) -> list[dict]:
    """The small runs one trial submits: 2, 3, 4, 2, ... epochs of 256 digits at 16 px."""
    return [{"dataset": "digits", "image_size": 16, "train_size": 256, "epochs": 2 + index % 3,
             "batch_size": 32, "seed": seed * 100 + index} for index in range(runs)]


def trial(home: str | Path, seed: int, *, moment: str = "random", span_s: float | None = None,
          runs: int = 4, isolation: str = "process", with_workers: bool = True,
          worker_exit_timeout_s: float = WORKER_EXIT_TIMEOUT_S) -> dict:
    """One server killed with SIGKILL at `moment`, then recovered and checked; its figures.

    Args:
        home: an empty folder for the trial's CNNLAB_HOME.
        seed: seeds the runs and the kill delay.
        moment: when to kill, one of MOMENTS (default "random").
        span_s: for "random": the delay is uniform over [0, SPAN_SHARE x span_s] seconds
            after submit; None runs the child to its end without a kill (a calibration).
        runs: runs submitted at once (default 4).
        isolation: where the server trains its runs (default "process", as the app does:
            its worker processes must end soon after it; see cnnlab.training.workers).
        with_workers: kill the server's worker processes at the same moment (a machine
            or container going down; default), or only the server (they must then end by
            themselves).
        worker_exit_timeout_s: how long the workers are given to end (default
            WORKER_EXIT_TIMEOUT_S, the benchmark's figure; the tests allow a loaded machine
            more, as they check that the workers end, not how fast).
    """
    if moment not in MOMENTS:
        raise ValueError(f"Unknown `moment`. Expected one of {list(MOMENTS)}. "
                         f"Received: {moment!r}.")
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    env = dict(os.environ, CNNLAB_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    with open(home / "server.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(REPO), json.dumps(run_configs(seed, runs)),
             isolation],
            env=env, stdout=subprocess.PIPE, stderr=log, cwd=home)
    try:
        line = _read_line(child, START_TIMEOUT_S)
        if not line.startswith("submitted "):
            raise RuntimeError(f"The server did not start: {line!r}; see {home / 'server.log'}.")
        submitted = time.monotonic()
        run_ids = json.loads(line.split(" ", 1)[1])
        if moment == "random":
            delay = None if span_s is None else rng.uniform(0.0, SPAN_SHARE * span_s)
            reached = _wait_for(child, lambda: False, delay)
        else:
            jitter = rng.uniform(0.0, 0.05)  # the state is reached; kill a moment later
            reached = _wait_for(child, _condition(home, run_ids, moment), RUN_TIMEOUT_S,
                                jitter_s=jitter)
        killed = reached and child.poll() is None
        workers = child_pids(child.pid)
        if killed:
            for pid in workers if with_workers else ():
                os.kill(pid, signal.SIGKILL)  # first, so the server sees no worker die
            os.kill(child.pid, signal.SIGKILL)
        at_s = time.monotonic() - submitted
        # The store as the kill left it: workers left running (with_workers False) may still
        # end their runs in the half second before they notice, as they are allowed to.
        statuses_at_kill = _statuses(home) if killed else None
        # A restarted server comes up seconds later; by then the orphaned workers, which
        # poll for their server twice a second, must be gone.
        workers_left = _wait_gone(workers, worker_exit_timeout_s)
        if child.wait(RUN_TIMEOUT_S) != (-signal.SIGKILL if killed else 0):
            raise RuntimeError(f"The server ended with {child.returncode}; see "
                               f"{home / 'server.log'}.")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    result = {"seed": seed, "moment": moment, "killed": killed, "at_s": round(at_s, 3),
              "isolation": isolation, "with_workers": with_workers, "workers": len(workers),
              "workers_left": workers_left}
    result.update(check_after_restart(home, run_ids))
    if statuses_at_kill is not None:
        result["at_kill"] = statuses_at_kill
    return result


def _statuses(home: Path) -> dict:
    """{status: number of runs} in the store now (read-only)."""
    conn = sqlite3.connect(f"file:{home / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
    finally:
        conn.close()


def check_after_restart(home: Path, run_ids: list[str]) -> dict:
    """Restart as the server would and check the store and every run; the figures."""
    with sqlite3.connect(home / DB_NAME) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        at_kill = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
    conn.close()
    before = sum(len(temporary_files(home / run_id)) for run_id in run_ids)

    from cnnlab.store import RunStore
    from cnnlab.training import JobManager
    from cnnlab.training.transfer import load_run_model

    store = RunStore(home)
    manager = JobManager(store)  # recovers the dead server's runs
    try:
        records = [store.get_run(run_id) for run_id in run_ids]
        statuses = [record.status for record in records]
        loaded, accuracy_mismatch, refused, unreadable = 0, 0, 0, 0
        for record in records:
            if record.status == "completed":
                model = load_run_model(store, record.run_id)
                accuracy = _test_accuracy(model, record.config)
                loaded += 1
                if abs(accuracy - record.final_metrics["test_accuracy"]) > 1e-6:
                    accuracy_mismatch += 1
            else:
                try:
                    load_run_model(store, record.run_id)
                except ValueError:
                    refused += 1
            unreadable += _unreadable_artifacts(store.run_dir(record.run_id))
        after = sum(len(temporary_files(home / run_id)) for run_id in run_ids)
    finally:
        manager.shutdown()
        store.close()
    return {
        "integrity_ok": integrity == [("ok",)],
        "integrity": [row[0] for row in integrity][:5],
        "at_kill": at_kill,
        "runs": len(run_ids),
        "completed": statuses.count("completed"),
        "interrupted": statuses.count("interrupted"),
        "other_status": len(statuses) - statuses.count("completed") - statuses.count("interrupted"),
        "other_statuses": sorted({s for s in statuses if s not in ("completed", "interrupted")}),
        "models_loaded": loaded,
        "accuracy_mismatch": accuracy_mismatch,
        "interrupted_models_refused": refused,
        "unreadable_artifacts": unreadable,
        "temp_files_before_recovery": before,
        "temp_files_after_recovery": after,
    }


def measure_span(root: Path, seed: int = 0, runs: int = 4) -> float:
    """Seconds from submit to the last run's end, for a server left alone (a calibration)."""
    home = Path(root) / "calibration"
    started = time.monotonic()
    result = trial(home, seed, span_s=None, runs=runs)
    if result["completed"] != result["runs"]:
        raise RuntimeError(f"The calibration's runs did not all complete: {result}.")
    return result["at_s"] or time.monotonic() - started


def trials(n: int, *, seed: int = 0, root: str | Path | None = None, moment: str = "random",
           runs: int = 4, progress=lambda line: print(line, flush=True)) -> dict:
    """`n` trials killed at `moment`, after one calibration for "random"; their figures.

    Args:
        n: trials to run.
        seed: seeds the calibration (`seed`) and the trials (`seed + 1` ...).
        root: folder for the trials' homes (default: a temporary folder, removed after).
        moment: when to kill, one of MOMENTS (default "random").
        runs: runs each server is given at once (default 4).
        progress: called with a line of text after each trial (default: print it).
    """
    if moment not in MOMENTS:
        raise ValueError(f"Unknown `moment`. Expected one of {list(MOMENTS)}. "
                         f"Received: {moment!r}.")
    with tempfile.TemporaryDirectory(prefix="cnnlab-kill-") as scratch:
        root = Path(root or scratch)
        span = None
        if moment == "random":  # the other moments wait for a state, not a delay
            span = measure_span(root, seed, runs=runs)
            progress(f"calibration: {runs} runs take {span:.1f} s after submit")
        results = []
        for index in range(n):
            # Every other trial kills only the server: its workers must end by themselves.
            result = trial(root / f"trial{index:02d}", seed + 1 + index, moment=moment,
                           span_s=span, runs=runs, with_workers=index % 2 == 0)
            results.append(result)
            progress(_line(index, result))
    return summarize(results, span_s=span)


def summarize(results: list[dict], *, span_s: float | None = None) -> dict:
    """The figures of a set of trials (counts summed over them)."""

    def total(key: str) -> int:
        return sum(result[key] for result in results)

    return {
        "trials": len(results),
        "killed": sum(result["killed"] for result in results),
        "integrity_ok": sum(result["integrity_ok"] for result in results),
        "runs_total": total("runs"),
        "completed": total("completed"),
        "interrupted": total("interrupted"),
        "other_status": total("other_status"),
        "models_loaded": total("models_loaded"),
        "accuracy_mismatch": total("accuracy_mismatch"),
        "interrupted_models_refused": total("interrupted_models_refused"),
        "unreadable_artifacts": total("unreadable_artifacts"),
        "temp_files_left_before_recovery": total("temp_files_before_recovery"),
        "temp_files_left_after_recovery": total("temp_files_after_recovery"),
        "workers_killed_with_server": total("workers"),
        "workers_left_after_10s": total("workers_left"),
        "span_s": None if span_s is None else round(span_s, 2),
        "kill_moments_s": [result["at_s"] for result in results],
        "states_at_kill": [result["at_kill"] for result in results],
    }


def _line(index: int, result: dict) -> str:
    return (f"trial {index + 1:2d} ({result['moment']}, seed {result['seed']}): "
            f"{'killed' if result['killed'] else 'ended'} at {result['at_s']:.2f} s, "
            f"at kill {result['at_kill']}, integrity {'ok' if result['integrity_ok'] else 'FAIL'}, "
            f"{result['completed']} completed, {result['interrupted']} interrupted, "
            f"{result['other_status']} other, {result['models_loaded']} models loaded, "
            f"temp files {result['temp_files_before_recovery']} -> "
            f"{result['temp_files_after_recovery']}")


def _read_line(child: subprocess.Popen, timeout_s: float) -> str:
    """The child's next line of output, or "" if it ends or stays silent for `timeout_s`."""
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return ""
    return child.stdout.readline().decode().strip()


def _wait_gone(pids: list[int], timeout_s: float) -> int:
    """Wait until none of `pids` is a live process; how many still are after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for pid in pids if pid_alive(pid, time.time())]
        if not alive or time.monotonic() > deadline:
            return len(alive)
        time.sleep(0.05)


def _wait_for(child: subprocess.Popen, condition, timeout_s: float | None, *,
              jitter_s: float = 0.0) -> bool:
    """Wait until `condition()` holds (True) or the child ends (False); `timeout_s` None:
    until it ends; a plain delay when the condition never holds (True when it passes)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while child.poll() is None:
        if condition():
            time.sleep(jitter_s)
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return True
        time.sleep(0.005)
    return False


def _condition(home: Path, run_ids: list[str], moment: str):
    """A cheap check, polled every few ms, that the server reached `moment`'s state."""
    if moment == "queued":
        return lambda: True
    if moment == "saving":
        folders = [home / run_id for run_id in run_ids]
        return lambda: any(name.startswith("tmp") and name.endswith(".keras")
                           for folder in folders for name in os.listdir(folder))
    sql = {"training": "SELECT 1 FROM metrics WHERE name = 'epoch_time_s' LIMIT 1",
           "first_completed": "SELECT 1 FROM runs WHERE status = 'completed' LIMIT 1"}[moment]

    def check() -> bool:
        # A connection per look (a fraction of a millisecond), so none is left open.
        conn = sqlite3.connect(f"file:{home / DB_NAME}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchone() is not None
        finally:
            conn.close()

    return check


def _test_accuracy(model, config: dict) -> float:
    """The loaded model's accuracy on the run's own test set, as the run evaluated it."""
    import keras

    from cnnlab.augment.pipeline import make_eval_dataset
    from cnnlab.data import load_dataset

    data = load_dataset(config["dataset"], image_size=config["image_size"],
                        train_size=config["train_size"],
                        validation_fraction=config["validation_fraction"], seed=config["seed"])
    test = make_eval_dataset(data.x_test, data.y_test, num_classes=data.num_classes,
                             batch_size=max(config["batch_size"], 256))
    model.compile(loss="categorical_crossentropy",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return float(model.evaluate(test, verbose=0)[1])


def _unreadable_artifacts(folder: Path) -> int:
    """How many finished-looking artifacts in `folder` are not whole (temporaries aside)."""
    from cnnlab.store.artifacts import is_temporary
    from cnnlab.training.figures import decode_array

    bad = 0
    for path in folder.iterdir():
        if not path.is_file() or is_temporary(path.name):
            continue
        try:
            if path.suffix == ".npy":
                decode_array(path.read_bytes())
            elif path.suffix == ".keras":
                with zipfile.ZipFile(path) as archive:
                    bad += archive.testzip() is not None
        except Exception:  # noqa: BLE001 - any failure to read is what this counts
            bad += 1
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--moment", choices=MOMENTS, default="random",
                        help="when to kill (random: uniform over a calibrated span)")
    parser.add_argument("--runs", type=int, default=4, help="runs each server is given at once")
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:  # the quick values, unless given on the command line
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    started = time.monotonic()
    figures = trials(args.trials, seed=args.seed, moment=args.moment, runs=args.runs)
    print(f"{figures['trials']} trials ({figures['killed']} killed, moment {args.moment}) in "
          f"{time.monotonic() - started:.0f} s on {os.cpu_count()} cores: integrity ok "
          f"{figures['integrity_ok']}/{figures['trials']}; {figures['runs_total']} runs: "
          f"{figures['completed']} completed, {figures['interrupted']} interrupted, "
          f"{figures['other_status']} other (target 0); {figures['models_loaded']} models "
          f"loaded; temp files {figures['temp_files_left_before_recovery']} before recovery, "
          f"{figures['temp_files_left_after_recovery']} after (target 0); "
          f"{figures['workers_killed_with_server']} workers, "
          f"{figures['workers_left_after_10s']} left after 10 s (target 0)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
