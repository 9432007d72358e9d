"""Dead air before the first point: the Train click to the first curve point, in a browser.

Starts the real app (`streamlit run app.py`, headless, on a free loopback port, with its
own defaults: a worker process started with the server), opens the Train page in headless
Chromium and presses **Train** with the default experiment, as a lecturer would. The clock
starts at the click and stops when the page's training-curves chart holds a point of the
new run (Plotly's `_fullData`, read every ~30 ms). The first run is the *cold* figure (the
server just started); each run is stopped once its point is in, and the next presses Train
again on the *warm* server (TensorFlow imported, a worker idle, the data set cached).

Where the time goes, from the store's own clocks (the server and its workers write them):
  submit_s        click -> the run is in the store (the page's rerun, admission checks)
  start_s         -> a worker has taken it (status running: a worker started, TensorFlow)
  first_row_s     -> its first metric row is stored (data, model, the first point)
  page_s          -> the point is drawn in the page (the page's poll, its rerun, Plotly)
Also `train_button_s`: the page opened to its Train button enabled (cold server), and
`page_idle_s`: to the page's script having finished (the app's script state "notRunning");
`warm_train_button_s` and `warm_page_idle_s`: the same for a new tab on the warm server.

Keys of the last line: `click_to_first_point_s` (the warm median, the figure the issue
targets), `cold_click_to_first_point_s`, `warm_s` (each warm run), `train_button_s`,
`page_idle_s`, `warm_train_button_s`, `warm_page_idle_s`, `breakdown_cold` and
`breakdown_warm` (the median of each part above),
`load_avg_1m`, `target_s`, `met`.
Target (issue 12): warm `click_to_first_point_s` <= 3 s on a quiet 2-core machine.

Usage: python benchmarks/first_point.py [--repeats 3] [--quick]
(--quick: one warm run.) Needs Playwright and a system Chromium, as the browser tests do.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # tests.browser reports a missing Chromium with pytest.skip

from cnnlab.store import RunStore
from tests.browser import browser_page, chromium_path, served_app

TARGET_S = 3.0
PROBE_INTERVAL_S = 0.03
TIMEOUT_S = 300.0
# What the page shows, read at every probe: the run in the address, its chart's points,
# whether the Train button can be pressed and whether the script is still running.
PROBE = """() => {
  const run = new URL(location.href).searchParams.get('run');
  const plot = run && document.querySelector(`[class*="st-key-train_curves_${run}"] .js-plotly-plot`);
  const points = plot && plot._fullData ? plot._fullData.reduce((a, t) => a + (t._length || 0), 0) : 0;
  const train = [...document.querySelectorAll('button')].find(b => b.innerText.trim().endsWith('Train'));
  return {run, points, train: !!train && !train.disabled,
          running: (document.querySelector('[data-testid="stApp"]') || {getAttribute: () => null})
             .getAttribute('data-test-script-state') !== 'notRunning'};
}"""


def probe_until(page, done, what: str) -> tuple[dict, float]:
    """Probe the page until `done(state)`; (the state, time.time() when it held)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        state = page.evaluate(PROBE)
        if done(state):
            return state, time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not seen after {TIMEOUT_S:.0f} s (page: {state})")
        time.sleep(PROBE_INTERVAL_S)


def one_run(page, store: RunStore, previous: str | None) -> dict:
    """Press Train, wait for the new run's first point, stop the run; the timings."""
    button = page.get_by_role("button", name="Train", exact=True)
    if not button.is_visible():  # the form folds away while a run is shown: open it
        page.get_by_text("Experiment settings").click()
        button.wait_for(state="visible")
    clicked = time.time()
    button.click()
    state, drawn = probe_until(page, lambda s: s["run"] not in (None, previous) and s["points"] > 0,
                               "the new run's first point")
    run_id = state["run"]
    record = store.get_run(run_id)
    first = store.metrics(run_id)[:1]
    created, started = record.created_at, record.started_at
    first_row = first[0].time if first else drawn
    stop = page.get_by_role("button", name="Stop")
    if stop.count():
        stop.first.click()
    deadline = time.monotonic() + TIMEOUT_S
    while store.get_run(run_id).is_active:
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not stop within {TIMEOUT_S:.0f} s")
        time.sleep(0.1)
    probe_until(page, lambda s: not s["running"], "the page after Stop")
    return {
        "run_id": run_id, "total_s": drawn - clicked,
        "submit_s": created - clicked,
        "start_s": (started or first_row) - created,
        "first_row_s": first_row - (started or created),
        "page_s": drawn - first_row,
    }


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="one warm run")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    try:
        chromium_path()
    except pytest.skip.Exception as reason:
        sys.exit(f"first-point benchmark needs a browser: {reason}")
    # The app as a user starts it: the test suite's "no worker ahead" must not leak in.
    os.environ.pop("CNNLAB_PRESTART_WORKERS", None)

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "runs"
        home.mkdir()
        store = RunStore(home)
        with served_app(home, timeout=180) as url, browser_page(1280, 900) as page:
            opened = time.time()
            page.goto(f"{url}/Train")
            _, button = probe_until(page, lambda s: s["train"], "the Train button")
            _, idle = probe_until(page, lambda s: s["train"] and not s["running"], "an idle page")
            cold = one_run(page, store, None)
            warm, previous = [], cold["run_id"]
            for _ in range(repeats):
                warm.append(one_run(page, store, previous))
                previous = warm[-1]["run_id"]
            # A new tab (a new session) on the warm server, with no run of its own.
            tab = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
            opened_warm = time.time()
            tab.goto(f"{url}/Train")
            _, warm_button = probe_until(tab, lambda s: s["train"], "the Train button (warm)")
            _, warm_idle = probe_until(tab, lambda s: s["train"] and not s["running"],
                                       "an idle page (warm)")
            tab.close()
        store.close()
    load_after = os.getloadavg()[0]

    parts = ("submit_s", "start_s", "first_row_s", "page_s")
    print(f"{os.cpu_count()} CPUs, load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"page opened -> Train button enabled {button - opened:.2f} s, -> idle {idle - opened:.2f} s"
          f" (cold server); {warm_button - opened_warm:.2f} s, {warm_idle - opened_warm:.2f} s (warm)")
    print(f"{'run':<6} {'total':>7} " + " ".join(f"{p[:-2]:>10}" for p in parts))
    for label, run in [("cold", cold)] + [(f"warm{i + 1}", r) for i, r in enumerate(warm)]:
        print(f"{label:<6} {run['total_s']:7.2f} " + " ".join(f"{run[p]:10.2f}" for p in parts))
    figure = _median(warm, "total_s")
    print(f"click -> first point, warm median {figure:.2f} s (target <= {TARGET_S:g} s), "
          f"cold {cold['total_s']:.2f} s")
    print(json.dumps({
        "click_to_first_point_s": figure,
        "cold_click_to_first_point_s": round(cold["total_s"], 3),
        "warm_s": [round(run["total_s"], 3) for run in warm],
        "train_button_s": round(button - opened, 3),
        "page_idle_s": round(idle - opened, 3),
        "warm_train_button_s": round(warm_button - opened_warm, 3),
        "warm_page_idle_s": round(warm_idle - opened_warm, 3),
        "breakdown_cold": {p: round(cold[p], 3) for p in parts},
        "breakdown_warm": {p: _median(warm, p) for p in parts},
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "target_s": TARGET_S, "met": figure <= TARGET_S,
    }))


if __name__ == "__main__":
    main()
