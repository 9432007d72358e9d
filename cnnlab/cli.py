"""python -m cnnlab: serve the lab, train an experiment headless, list and show stored runs,
import image folders.

The CLI goes through the same job manager and store as the UI, so a run started here shows
up on the pages like any other, and a data set imported here is offered by the Train form.

Why `train` ends with `os._exit` (in `__main__`): once its run is recorded, a process that
has loaded TensorFlow spent seconds tearing it down on exit, with nothing left to do.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cnnlab.config import ExperimentConfig, parse_overrides
from cnnlab.store import RunStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="start the lab in the browser (what `make run` does)",
        description="Start the lab's web server with the lab's settings, from any directory, "
        "without a prompt; print its address, and open a browser when run at a terminal with "
        "a screen. Runs are kept in $CNNLAB_HOME, or ./runs of the directory it is started in.")
    serve.add_argument("--address", help="the address to listen on, e.g. 127.0.0.1 for this "
                       "machine only (default: every address of this machine)")
    serve.add_argument("--port", type=int, default=8501, help="the TCP port (default 8501)")
    serve.add_argument("--no-browser", dest="browser", action="store_false", default=None,
                       help="never open a browser")
    train = commands.add_parser("train", help="train an experiment (the default one with no arguments)")
    train.add_argument("--config", type=Path, help="experiment config JSON file")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a field, e.g. --set epochs=3 --set tricks.dropout_rate=0.5")
    train.add_argument("--name", help="a name for the run")
    runs = commands.add_parser("runs", help="list the stored runs")
    runs.add_argument("--limit", type=int, default=50)
    show = commands.add_parser(
        "show", help="one run: its figures per epoch and per layer, and its health alerts")
    show.add_argument("run", help="the run's id (as `runs` lists it); a unique prefix will do")
    images = commands.add_parser(
        "import-images", help="import a folder (or .zip) of class folders as a data set",
        description="Print what the folder or zip holds, then store it as the data set "
        "'folder:NAME' (in $CNNLAB_HOME/datasets, or ./runs/datasets).")
    images.add_argument("source", type=Path, help="a folder of class folders, or a .zip of them")
    images.add_argument("--name", help="data set name (default: from the source's name)")
    images.add_argument("--size", type=int, default=64, help="image side length in pixels (default 64)")
    images.add_argument("--test-fraction", type=float, default=0.2,
                        help="share held out as the test split (default 0.2)")
    images.add_argument("--seed", type=int, default=0, help="seeds the test split (default 0)")
    images.add_argument("--grey", dest="channels", action="store_const", const=1,
                        help="store grayscale (default: grey only if every image is)")
    images.add_argument("--replace", action="store_true", help="replace a data set of that name")
    images.add_argument("--dry-run", action="store_true", help="print the summary, store nothing")
    datasets = commands.add_parser("datasets", help="list the imported data sets")
    datasets.add_argument("--delete", metavar="NAME", help="delete the imported data set NAME")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from cnnlab.serve import serve

            return serve(args.address, args.port, args.browser)
        if args.command == "train":
            return _train(args)
        if args.command == "import-images":
            return _import_images(args)
        if args.command == "datasets":
            return _datasets(args)
        if args.command == "show":
            return _show(args)
        return _runs(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def load_config(path: Path | None, overrides: list[str]) -> ExperimentConfig:
    config = ExperimentConfig()
    if path is not None:
        try:
            text = path.read_text()
        except OSError as error:
            raise ValueError(
                f"Could not read the config file. Expected a readable JSON file. "
                f"Received: '{path}' ({error.strerror}). Check the path."
            ) from None
        config = ExperimentConfig.from_json(text)
    return config.with_overrides(parse_overrides(overrides))


def _train(args) -> int:
    from cnnlab.training import JobManager
    from cnnlab.training.device import configure_tensorflow

    config = load_config(args.config, args.overrides)
    config.check_feasible()  # before TensorFlow loads: a typo is reported at once
    # First, so TensorFlow's harmless start-up lines are filtered (cnnlab.training.device).
    configure_tensorflow()
    manager = JobManager(max_concurrent=1)
    run_id = manager.submit(config, name=args.name)
    print(f"run {run_id}: {config.summary()} (store: {manager.store.home})", file=sys.stderr)
    try:
        record = _follow(manager.store, run_id)
    except KeyboardInterrupt:
        manager.stop(run_id)
        record = manager.wait(run_id)
    print(file=sys.stderr)
    summary = ", ".join(f"{k} {v:.4g}" for k, v in sorted(record.final_metrics.items()))
    print(f"run {run_id} {record.status}" + (f": {summary}" if summary else ""))
    if record.error:
        print(record.error, file=sys.stderr)
    return 0 if record.status == "completed" else 1


# How often the progress line is redrawn: often enough that the end of a run is seen
# at once, rarely enough to cost nothing (one indexed read of the run's row).
FOLLOW_INTERVAL_S = 0.2


def _follow(store: RunStore, run_id: str):
    """Print a one-line progress bar until the run ends."""
    shown = ""
    while True:
        record = store.get_run(run_id)
        if not record.is_active:
            return record
        line = progress_line(record)
        # Padded, so a shorter line wipes out the rest of a longer one.
        print("\r" + line.ljust(len(shown)), end="", file=sys.stderr, flush=True)
        shown = line
        time.sleep(FOLLOW_INTERVAL_S)


def progress_line(record) -> str:
    """The bar while the run trains; otherwise the words of its stage (loading the data,
    tracing the first step, evaluating, saving), never a bar stuck at "0 s left"."""
    from cnnlab.training.status import describe, stage_of

    progress = record.progress
    if stage_of(record) != "training" or "epoch" not in progress:
        return describe(record) + "..."
    width = 30
    filled = int(width * progress.get("fraction", 0.0))
    eta = progress.get("eta_s")
    left = f"{eta:5.0f} s left" if eta is not None else ""
    return (f"[{'#' * filled}{'.' * (width - filled)}] epoch {progress['epoch']}/{progress['epochs']} "
            f"step {progress['step']}/{progress['steps_per_epoch']} {left}")


def _runs(args) -> int:
    from cnnlab.analysis.report import runs_table

    store = RunStore()
    records = store.list_runs(limit=args.limit)
    if not records:
        print(f"No runs stored in {store.home}.")
        return 0
    print("\n".join(runs_table(records)))
    return 0


def _show(args) -> int:
    from cnnlab.analysis.report import show_run

    store = RunStore()
    record = store.get_run(args.run) if _plain_id(args.run) else None
    if record is None:
        matches = [r for r in store.list_runs() if r.run_id.startswith(args.run)]
        if len(matches) != 1:
            found = "no run" if not matches else f"{len(matches)} runs ({', '.join(r.run_id for r in matches[:5])})"
            raise ValueError(
                f"Unknown run. Expected the id of a run stored in {store.home}, or a prefix "
                f"of exactly one. Received: {args.run!r}, which matches {found}. List the "
                "runs with `python -m cnnlab runs`.")
        record = matches[0]
    print("\n".join(show_run(store, record)))
    return 0


def _plain_id(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "-_" for c in text)


def _import_images(args) -> int:
    from cnnlab.data.image_folders import NotEnoughClasses, import_scan, scan_images
    from cnnlab.data.image_store import check_name, suggest_name

    name = check_name(args.name or suggest_name(args.source.name))
    try:
        scan = scan_images(args.source)
    except NotEnoughClasses as error:
        _print_skipped(error.scan)
        raise
    print(f"{scan.label}: {scan.text()}")
    for class_name, count in zip(scan.class_names, scan.class_counts, strict=True):
        print(f"  {class_name:<24} {count:>7,}")
    for note in scan.notes:
        print(f"  note: {note}")
    _print_skipped(scan)
    pool, test = scan.planned_split(args.test_fraction)
    if args.dry_run:
        print(f"dry run: nothing stored (would keep {pool:,} for training and validation, {test:,} for testing).")
        return 0
    manifest = import_scan(scan, name, image_size=args.size, test_fraction=args.test_fraction,
                           seed=args.seed, channels=args.channels, replace=args.replace)
    print(f"stored '{manifest.key}': {manifest.description()}")
    print(f"train on it: python -m cnnlab train --set dataset={manifest.key}")
    return 0


def _print_skipped(scan, limit: int = 20) -> None:
    for item in scan.skipped[:limit]:
        print(f"  skipped {item.path}: {item.reason}")
    if len(scan.skipped) > limit:
        print(f"  ... and {len(scan.skipped) - limit:,} more skipped")


def _datasets(args) -> int:
    from cnnlab.data.image_store import datasets_dir, delete_stored, list_stored

    if args.delete:
        delete_stored(args.delete)
        print(f"deleted '{args.delete}'")
        return 0
    stored = list_stored()
    if not stored:
        print(f"No imported data sets in {datasets_dir()}.")
        return 0
    for manifest in stored:
        print(f"{manifest.key:<30} {manifest.description()}")
    return 0
