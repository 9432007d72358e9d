"""A class watching one run: N students' live Train pages on one server, while the run trains.

Starts the real app (`streamlit run app.py`, headless, on a free loopback port, CNNLAB_HOME a
temporary folder) and trains the default experiment in a worker process of this one (a
JobManager on the same store, as a second server would). Each student is a real Streamlit
session on the run's Train page (`/Train?run=<id>`), driven by a light client that speaks
Streamlit's own websocket protocol (`/_stcore/stream`, the ForwardMsg/BackMsg protobufs that
ship with streamlit) as the browser does: it asks for the page, then reruns the run panel's
fragment at the interval the server gives (`auto_rerun`), exactly like the frontend's timer.
No browser runs, so what is measured is the server, not Chromium drawing thirty pages.

Latency: each time a student's training-curves chart (its Plotly spec, decoded) holds more
batch-loss points, every point new to that student is matched with its metric row in the
store, and the time from the row being stored (the row's `time`) to the message reaching
the student is one sample. Only rows stored after every student has its chart count.
Server CPU: the server process's user + system time (/proc) over the measured window,
minus the same server's CPU with no student watching (the run training meanwhile), per
student, as a fraction of one core.

Target (issue 17): 30 students on the 2-core machine, p95 <= 2 s while the run trains.
The students' clients, the training worker and the server share the machine's cores.

Keys of the last line (one JSON object): `students`, `p50_s`, `p95_s`, `max_s`, `samples`,
`undelivered` ((row, student) pairs stored in the window that never reached the student),
`client_cpu` (this process's CPU over the window, the students' clients, in cores),
`students_served` (students that received new points in the window), `server_cpu_per_student`
(fraction of a core), `server_cpu_watched`, `server_cpu_unwatched` (fractions of a core),
`window_s`, `rows_stored`, `load_avg_1m` (before, after), `cpu_count`, `target_s`, `met`.

Usage: python benchmarks/classroom.py [--students 30] [--window 60]
       python benchmarks/classroom.py --quick   (3 students, a short window: checks that it runs)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

TARGET_S = 2.0
QUICK = {"students": 3, "window": 6.0, "baseline": 1.0}
CHART_KEY = "train_curves_{run_id}"
POLL_SECONDS = 1.0  # ui.run_panel.POLL_SECONDS (not imported: it imports streamlit's UI)
CONNECT_SPACING_S = 0.2  # students arrive a little apart, as a class does
READY_TIMEOUT_S = 300.0
TAIL_S = 3.0  # rows stored this close to the window's end are not counted


class Student:
    """One Streamlit session on the run's Train page, over the websocket protocol."""

    def __init__(self, index: int, ws_url: str, run_id: str):
        self.index, self.ws_url, self.run_id = index, ws_url, run_id
        self.chart_suffix = "-" + CHART_KEY.format(run_id=run_id)
        self.points = 0  # batch-loss points in the newest chart received
        self.seen: list[tuple[float, int]] = []  # (arrival time, points) when points grew
        self.page_hash = ""
        self.interval: float | None = None  # the poller's pace, as the server set it last
        self.timers: dict[str, asyncio.Task] = {}
        self.messages = 0
        self.kinds: dict[str, int] = {}
        self.error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        import websockets
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async with websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                          open_timeout=120, ping_interval=None) as socket:
                self.socket = socket
                await self._send_rerun(BackMsg, fragment_id="")
                while not stop.is_set():
                    try:
                        data = await asyncio.wait_for(socket.recv(), timeout=0.5)
                    except asyncio.TimeoutError:
                        continue
                    arrived = time.time()
                    message = ForwardMsg()
                    message.ParseFromString(data)
                    self.messages += 1
                    self._handle(message, arrived, BackMsg)
        except Exception as error:  # noqa: BLE001 - reported in the table, counted as unserved
            self.error = f"{type(error).__name__}: {error}"
        finally:
            for timer in self.timers.values():
                timer.cancel()

    def _handle(self, message, arrived: float, BackMsg) -> None:
        kind = message.WhichOneof("type")
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "new_session":
            self.page_hash = message.new_session.page_script_hash
        elif kind == "auto_rerun":
            # The Train page has one poller: a new one (after a full rerun) replaces the old.
            fragment_id, interval = message.auto_rerun.fragment_id, message.auto_rerun.interval
            self._clear_timers()
            self.interval = interval
            self.timers[fragment_id] = asyncio.ensure_future(self._every(fragment_id, interval, BackMsg))
        elif kind == "stop_auto_rerun":
            for fragment_id in message.stop_auto_rerun.fragment_ids:
                if fragment_id in self.timers:
                    self.timers.pop(fragment_id).cancel()
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "plotly_chart" and element.plotly_chart.id.endswith(self.chart_suffix):
                points = batch_points(element.plotly_chart.spec)
                if points > self.points:
                    self.seen.append((arrived, points))
                    self.points = points

    def _clear_timers(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    async def _every(self, fragment_id: str, interval: float, BackMsg) -> None:
        """The frontend's auto-rerun timer: rerun the fragment every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)
            await self._send_rerun(BackMsg, fragment_id=fragment_id)

    async def _send_rerun(self, BackMsg, *, fragment_id: str) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = f"run={self.run_id}"
        state.page_name = "Train"
        state.page_script_hash = self.page_hash
        state.widget_states.SetInParent()
        if fragment_id:
            state.fragment_id, state.is_auto_rerun = fragment_id, True
        await self.socket.send(message.SerializeToString())


def batch_points(spec: str) -> int:
    """The number of points of the chart's "batch loss" trace (0 if it has none)."""
    for trace in json.loads(spec).get("data", []):
        if trace.get("name") == "batch loss":
            y = trace.get("y", [])
            if isinstance(y, dict) and "bdata" in y:  # Plotly's typed array
                return len(np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]))
            return len(y)
    return 0


def server_pid() -> int:
    """The streamlit server this process started (a child whose command line runs streamlit)."""
    from cnnlab.store.owners import child_pids

    for pid in child_pids(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in command:
            return pid
    raise RuntimeError("The streamlit server process was not found among this process's children.")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(students: list[Student], stored: list[float], start: float,
              end: float) -> tuple[list[float], int]:
    """Arrival minus storage time of every point new to a student, for the rows stored in
    [start, end]; and how many of those (row, student) pairs never arrived.
    `stored[k]` is when the (k+1)-th batch-loss row was stored."""
    samples, undelivered = [], 0
    counted = [k for k, t in enumerate(stored) if start <= t <= end]
    for student in students:
        before, delivered = 0, set()
        for arrived, points in student.seen:
            for k in range(before, min(points, len(stored))):
                if start <= stored[k] <= end:
                    samples.append(arrived - stored[k])
                    delivered.add(k)
            before = points
        undelivered += sum(k not in delivered for k in counted)
    return samples, undelivered


async def watch(students: list[Student], window_s: float, ready: callable) -> tuple[float, float]:
    """Connect the students, wait for each to have its chart, then measure for `window_s`.
    Returns (start, end) of the measured window."""
    stop = asyncio.Event()
    tasks = []
    for student in students:
        tasks.append(asyncio.ensure_future(student.run(stop)))
        await asyncio.sleep(CONNECT_SPACING_S)
    deadline = time.time() + READY_TIMEOUT_S
    # Ready: a chart drawn, the page's first full run over (it waits for TensorFlow on a
    # cold server) and the poller at its steady pace (the first point's faster poll ends
    # with one full rerun of the page).
    while not all((student.points and student.interval == POLL_SECONDS and student.kinds.get("script_finished"))
                  or student.error for student in students):
        if time.time() > deadline:
            raise RuntimeError(f"{sum(not s.points for s in students)} students saw no chart "
                               f"in {READY_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # the first full reruns settle
    start = time.time()
    ready(start)
    await asyncio.sleep(window_s)
    end = time.time()
    stop.set()
    await asyncio.gather(*tasks)
    return start, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="simulated students (default 30)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured (default 60)")
    parser.add_argument("--baseline", type=float, default=10.0,
                        help="seconds of server CPU measured with no student watching (default 10)")
    parser.add_argument("--quick", action="store_true",
                        help=f"the smallest setting, to check that it runs: {QUICK}")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    if args.students < 1:
        parser.error("--students must be at least 1")
    if args.window <= TAIL_S:
        parser.error(f"--window must be longer than {TAIL_S:g} s")

    from cnnlab.config import ExperimentConfig
    from cnnlab.store import RunStore
    from cnnlab.training import JobManager
    from tests.browser import served_app

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "runs"
        home.mkdir()
        os.environ["CNNLAB_HOME"] = str(home)
        store = RunStore(home)
        # Long enough to train through start-up, the baseline and the window.
        manager = JobManager(store, max_concurrent=1, isolation="process")
        run_id = manager.submit(ExperimentConfig(epochs=200), name="classroom benchmark")
        try:
            with served_app(home) as url:
                pid = server_pid()
                wait_for(lambda: store.metrics(run_id, names=["batch/loss"]), 300, "the run's first batch")
                cpu_before, baseline_start = cpu_seconds(pid), time.perf_counter()
                time.sleep(args.baseline)
                unwatched = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - baseline_start)

                ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
                students = [Student(index, ws_url, run_id) for index in range(args.students)]
                marks = {}

                def ready(start: float) -> None:
                    marks["cpu"], marks["load"] = cpu_seconds(pid), os.getloadavg()[0]
                    marks["client_cpu"] = time.process_time()

                start, end = asyncio.run(watch(students, args.window, ready))
                watched = (cpu_seconds(pid) - marks["cpu"]) / (end - start)
                client_cpu = (time.process_time() - marks["client_cpu"]) / (end - start)
                load_after = os.getloadavg()[0]
                status = store.get_run(run_id).status
        finally:
            manager.stop(run_id)
            manager.shutdown(timeout=60)
        rows = store.metrics(run_id, names=["batch/loss"])
        store.close()

    stored = [row.time for row in rows]
    # Rows stored in the window's last seconds may not have reached everyone when it closes.
    samples, undelivered = latencies(students, stored, start, end - TAIL_S)
    in_window = sum(start <= t <= end - TAIL_S for t in stored)
    served = sum(any(arrived >= start for arrived, _ in student.seen) for student in students)
    errors = [s.error for s in students if s.error]
    if not samples:
        sys.exit(f"no samples: {in_window} rows stored in the window, {served} students served, "
                 f"run {status}, errors {errors[:3]}; students' messages "
                 f"{[(st.messages, st.points, dict(st.kinds)) for st in students[:3]]}")
    p50 = statistics.median(samples)
    p95 = float(np.percentile(samples, 95))
    per_student = (watched - unwatched) / args.students
    print(f"{args.students} students watching run {run_id} ({status}) for {end - start:.0f} s; "
          f"{in_window} batch rows stored meanwhile; {served} students got new points; "
          f"errors: {len(errors)}{' ' + errors[0] if errors else ''}")
    print(f"{'row stored -> student':<24} p50 {p50:.3f} s, p95 {p95:.3f} s, max {max(samples):.3f} s "
          f"over {len(samples)} samples, {undelivered} never arrived (target p95 <= {TARGET_S:g} s)")
    print(f"{'server CPU':<24} {watched:.2f} cores watched, {unwatched:.2f} unwatched: "
          f"{per_student:.3f} core per student; the clients {client_cpu:.2f} cores; load average {marks['load']:.1f} -> "
          f"{load_after:.1f} ({os.cpu_count()} CPUs)")
    print(json.dumps({
        "students": args.students, "p50_s": round(p50, 3), "p95_s": round(p95, 3),
        "max_s": round(max(samples), 3), "samples": len(samples), "undelivered": undelivered,
        "students_served": served,
        "server_cpu_per_student": round(per_student, 4), "server_cpu_watched": round(watched, 3),
        "server_cpu_unwatched": round(unwatched, 3), "client_cpu": round(client_cpu, 3), "window_s": round(end - start, 1),
        "rows_stored": in_window, "load_avg_1m": [round(marks["load"], 2), round(load_after, 2)],
        "cpu_count": os.cpu_count(), "target_s": TARGET_S,
        "met": p95 <= TARGET_S and served == args.students and not undelivered,
    }))


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"Timed out after {timeout:.0f} s waiting for {what}.")


if __name__ == "__main__":
    main()
