"""Sizes and counts as the lab writes them: one unit, decimal megabytes, in every message.

Why a module of its own, at the bottom of the engine: the upload limits, the model summary,
the memory check and the pages all state sizes, and a student must read the same number for
the same bytes wherever it appears. Sizes are decimal (1 MB = 1,000,000 bytes), as file
browsers show them and as the lectures count memory (12 MB per instance, 1.2 GB a batch).
"""

from __future__ import annotations

MB = 10**6  # the unit of every size the lab states


def format_bytes(count: float) -> str:
    """A byte count as people read it: '512 bytes', '3.4 MB', '210 MB' (decimal units)."""
    if abs(count) < 1000:
        return f"{count:,.0f} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        count /= 1000
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.3g} {unit}" if abs(count) < 100 else f"{count:,.0f} {unit}"
    raise AssertionError("unreachable")


def format_count(count: float) -> str:
    """A large count in short form: 1,234,567 -> '1.23 M'."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= threshold:
            return f"{count / threshold:.3g} {suffix}"
    return f"{count:,.0f}"
