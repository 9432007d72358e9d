"""Where `python -m cnnlab train` spends its time beyond the training itself.

Runs the command line as a user does (a fresh process, the default experiment unless told
otherwise, its own CNNLAB_HOME) and splits its wall time with the store's own clocks:

  startup_s       process start -> the run is stored (Python, TensorFlow's import, the
                  admission checks: feasibility, transfer, the memory estimate)
  to_first_row_s  -> the run's first metric row (data, model, the untrained point)
  to_first_batch_s -> its first training batch stored (the train step's tracing)
  training_s      first batch -> last batch (the training the command is for)
  finish_s        last batch -> the run recorded as ended (final evaluation, saving)
  exit_s          -> the process has exited (the progress poll, teardown)
  overhead_s      everything but training_s; `overhead_ratio` = overhead_s / training_s.

Target (issue 12): the overhead no more than the TensorFlow import and the first step's
tracing need, which are the process's own cost; every other part well under a second on
a quiet 2-core machine. The machine's load is printed with the figures.

Usage: python benchmarks/cli_overhead.py [--repeats 3] [--quick] [--set FIELD=VALUE ...]
(--quick: one repeat of a 2-epoch run on 512 images.) The last line printed is one JSON
object. Keys of the last line: the median of each part above over the repeats
(`startup_s`, `to_first_row_s`, `to_first_batch_s`, `training_s`, `finish_s`, `exit_s`),
`overhead_s`, `overhead_ratio`, `stderr_lines` (what TensorFlow printed that the filter
kept), `repeats_s` (each repeat's parts), `load_avg_1m`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:. ]+\d+ ")
PARTS = ("startup_s", "to_first_row_s", "to_first_batch_s", "training_s", "finish_s", "exit_s")


def one_run(overrides: list[str]) -> dict:
    """One `python -m cnnlab train` in a fresh home; its parts, in seconds."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CNNLAB_HOME=home, PYTHONPATH=str(REPO))
        args = [arg for item in overrides for arg in ("--set", item)]
        started = time.time()
        result = subprocess.run([sys.executable, "-m", "cnnlab", "train", *args], env=env,
                                cwd=REPO, capture_output=True, text=True)
        exited = time.time()
        if result.returncode != 0:
            raise RuntimeError(f"the command failed ({result.returncode}): {result.stderr[-2000:]}")
        with sqlite3.connect(Path(home) / "cnnlab.sqlite3") as conn:
            created, finished = conn.execute("SELECT created_at, finished_at FROM runs").fetchone()
            first_row = conn.execute("SELECT MIN(time) FROM metrics").fetchone()[0]
            first_batch, last_batch = conn.execute(
                "SELECT MIN(time), MAX(time) FROM metrics WHERE name LIKE 'batch/%'").fetchone()
        conn.close()
        # What the command printed on stderr besides its own lines (the run's id, the
        # progress line it redraws with "\r", which text mode reads as line ends: the bar
        # and the stage's words ending in "..."): TensorFlow's start-up chatter, say; each
        # line once, without glog's time stamp.
        noise = [GLOG_PREFIX.sub("", line).strip() for line in result.stderr.splitlines()
                 if line.strip() and not line.startswith(("run ", "["))
                 and not line.rstrip().endswith("...")]
    return {"startup_s": created - started, "to_first_row_s": first_row - created,
            "to_first_batch_s": first_batch - first_row, "training_s": last_batch - first_batch,
            "finish_s": finished - last_batch, "exit_s": exited - finished,
            "total_s": exited - started, "stderr_lines": noise}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one short run")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE", help="passed on to `python -m cnnlab train`")
    args = parser.parse_args()
    overrides = args.overrides + (["epochs=2", "train_size=512"] if args.quick else [])
    repeats = 1 if args.quick else args.repeats
    load_before = os.getloadavg()[0]
    runs = [one_run(overrides) for _ in range(repeats)]
    load_after = os.getloadavg()[0]

    print(f"python -m cnnlab train {' '.join('--set ' + o for o in overrides)}: {repeats} "
          f"run(s), {os.cpu_count()} CPUs, load average {load_before:.1f} -> {load_after:.1f}")
    print(" ".join(f"{part[:-2]:>15}" for part in (*PARTS, "total_s")))
    for run in runs:
        print(" ".join(f"{run[part]:15.2f}" for part in (*PARTS, "total_s")))
    figures = {part: round(statistics.median(run[part] for run in runs), 3)
               for part in (*PARTS, "total_s")}
    overhead = figures["total_s"] - figures["training_s"]
    stderr_lines = sorted({line for run in runs for line in run["stderr_lines"]})
    print(f"overhead (all but training): {overhead:.2f} s, "
          f"{overhead / figures['training_s']:.2f} x the training; other stderr lines: "
          f"{stderr_lines or 'none'}")
    print(json.dumps({**figures, "overhead_s": round(overhead, 3),
                      "overhead_ratio": round(overhead / figures["training_s"], 3),
                      "stderr_lines": stderr_lines,
                      "repeats_s": [{p: round(run[p], 3) for p in (*PARTS, "total_s")} for run in runs],
                      "load_avg_1m": [round(load_before, 2), round(load_after, 2)]}))


if __name__ == "__main__":
    main()
