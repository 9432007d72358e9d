"""What a run is doing right now, in words: its stage, its place in the queue, when it starts.

Why: a run that shows only "queued" or "0 %" for many seconds looks frozen (an ablation
grid sat at "0 running / 4 queued" for 45 s while worker processes loaded TensorFlow).
The job manager and the run's worker record the stage in the run's progress in the store
(`progress["stage"]`, one of `STAGES`); the manager also records a queued run's place in
its queue. Every reader (the Train page, the Compare page, the command line, in any
process) turns that into the same words with `describe`, and `start_estimates` guesses
when each queued run starts from the time left of the runs ahead of it.
"""

from __future__ import annotations

import heapq
import math
import statistics

# stage -> what a user reads while a run is in it.
STAGES = {
    "queued": "Queued: waiting for a free training slot",
    "starting_worker": "Starting a worker process (it loads TensorFlow once, a few seconds)",
    "loading_data": "Loading the data set",
    "building_model": "Building the model",
    "first_step": "Untrained model measured; tracing the first training step (once a run)",
    "training": "Training",
    "evaluating": "Training done; evaluating the model on the test set",
    "saving": "Saving the trained model",
    "finding_lr": "Finding the learning rate: raising it every batch from 1e-7 to 10",
}


# The same, in a few words, for narrow places (a progress bar among four on a row).
SHORT_STAGES = {
    "queued": "queued", "starting_worker": "starting a worker", "loading_data": "loading data",
    "building_model": "building the model", "first_step": "tracing the first step",
    "training": "training", "evaluating": "evaluating", "saving": "saving",
    "finding_lr": "finding the learning rate",
}


def queue_progress(position: int, queued: int, slots: int) -> dict:
    """The progress the job manager records for a run waiting in its queue.

    Args:
        position: the run's place in the queue, from 1 (next to start).
        queued: runs waiting in the queue.
        slots: runs that may train at once (`CNNLAB_MAX_CONCURRENT`).
    """
    return {"stage": "queued", "position": position, "queued": queued, "slots": slots}


def stage_of(record) -> str:
    """The run's stage: the one recorded, or one inferred from its status and progress."""
    progress = record.progress or {}
    if record.status == "queued":
        return progress.get("stage") if progress.get("stage") in ("queued", "starting_worker") \
            else "queued"
    if record.status != "running":
        return record.status
    # A waiting stage on a running run is a manager's word that came a moment late.
    if progress.get("stage") not in (None, "queued", "starting_worker"):
        return progress["stage"]
    return "training" if "epoch" in progress else "loading_data"


def describe(record, start_in_s: float | None = None, *, short: bool = False) -> str:
    """One line saying what the run is doing, as the pages and the command line show it.

    Args:
        record: the run's RunRecord.
        start_in_s: for a queued run, seconds until it is expected to start
            (`start_estimates`); None when unknown.
        short: a few words (default False: a sentence).
    """
    progress = record.progress or {}
    stage = stage_of(record)
    if stage == "queued":
        if short:
            place = f" {_ordinal(progress['position'])}" if progress.get("position") else ""
            when = f", starts in ~{_duration(start_in_s)}" if start_in_s is not None else ""
            return f"queued{place}{when}"
        return _queued_words(progress, start_in_s)
    if stage == "training" and "epoch" in progress:
        if short:
            return f"epoch {progress['epoch']}/{progress['epochs']}"
        eta = progress.get("eta_s")
        left = f" · {eta:.0f} s left" if eta is not None else ""
        return (f"Epoch {progress['epoch']}/{progress['epochs']} · step "
                f"{progress['step']}/{progress['steps_per_epoch']}{left}")
    if stage == "finding_lr" and "steps" in progress:
        batches = f"batch {progress.get('step', 0)}/{progress['steps']}"
        return f"finding the rate, {batches}" if short else f"{STAGES[stage]} · {batches}"
    words = SHORT_STAGES if short else STAGES
    return words.get(stage, stage.replace("_", " ") if short else stage.capitalize())


def _queued_words(progress: dict, start_in_s: float | None) -> str:
    position, queued, slots = (progress.get(key) for key in ("position", "queued", "slots"))
    if position is None:
        return STAGES["queued"]
    words = (f"Queued: {_ordinal(position)} of {queued} waiting; all {slots} training "
             f"slot{'s' if slots != 1 else ''} busy")
    if start_in_s is not None:
        return words + f"; starts in about {_duration(start_in_s)}"
    ahead = position - 1
    return words + ("; starts when a training run ends" if not ahead else
                    f"; starts after {ahead} run{'s' if ahead != 1 else ''} ahead of it")


def fraction_done(record) -> float | None:
    """How much of its planned training a run has done, from 0 to 1: 0 while it waits, the
    training's own fraction while it trains, 1 once completed; for a run that ended early
    (stopped, failed, ...) the fraction it reached, None if it never trained."""
    if record.status == "completed":
        return 1.0
    if record.status == "queued":
        return 0.0
    fraction = (record.progress or {}).get("fraction")
    if fraction is None:
        return 0.0 if record.status == "running" else None
    return min(float(fraction), 1.0)


def start_estimates(records) -> dict[str, float | None]:
    """Seconds until each queued run is expected to start (None where it cannot be told).

    A simulation of each manager's slots: a busy slot frees when its run's time left
    (`eta_s`) has passed; a run that has not started training yet, and each queued run
    once it starts, is expected to take as long as the runs training now take on average
    (their elapsed plus time left). Queued runs take free slots in their queue order.
    Runs of different managers (a server, a command-line process) do not share slots.

    Args:
        records: RunRecords; those not active are ignored.
    """
    estimates: dict[str, float | None] = {}
    by_owner: dict[str | None, list] = {}
    for record in records:
        if record.is_active:
            by_owner.setdefault(record.owner, []).append(record)
    for active in by_owner.values():
        estimates.update(_simulate(active))
    return estimates


def _simulate(active: list) -> dict[str, float | None]:
    waiting = [r for r in active if stage_of(r) == "queued"]
    if not waiting:
        return {}
    waiting.sort(key=lambda r: ((r.progress or {}).get("position") or math.inf, r.created_at))
    busy = [r for r in active if stage_of(r) != "queued"]
    slots = max([(r.progress or {}).get("slots") or 0 for r in waiting] + [len(busy)])
    durations = [p["elapsed_s"] + p["eta_s"] for p in (r.progress or {} for r in busy)
                 if p.get("eta_s") is not None and p.get("elapsed_s") is not None]
    typical = statistics.fmean(durations) if durations else math.inf
    free = [(r.progress or {}).get("eta_s") for r in busy]
    free = [typical if left is None else float(left) for left in free]
    free += [0.0] * max(0, slots - len(busy))
    heapq.heapify(free)
    estimates = {}
    for record in waiting:
        start = heapq.heappop(free) if free else math.inf
        estimates[record.run_id] = start if math.isfinite(start) else None
        heapq.heappush(free, start + typical)
    return estimates


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"
