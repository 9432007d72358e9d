"""Memory over sequential runs, reduced: the full form is benchmarks/memory.py (50 runs).

The server trains runs in worker processes that are retired once they have grown 5% past
their first run (TensorFlow keeps part of each traced graph for the life of a process), so
the lab's memory after the last run must stay within 10% of that after an early one.
"""

from __future__ import annotations

from benchmarks.memory import sequential_memory


def test_memory_stays_flat_over_sequential_runs_in_recycled_workers():
    figures = sequential_memory(6, isolation="process", at=2, log=lambda line: None)
    assert figures["ratio"] <= 1.10, figures
    assert figures["max_ratio"] <= 1.10, figures
    # Not vacuous: the workers did grow, and were recycled for it.
    assert figures["workers_retired"] >= 1, figures
