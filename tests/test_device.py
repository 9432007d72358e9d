"""TensorFlow's start-up chatter is filtered, anything else on stderr is kept (issue 12:
every worker printed "failed call to cuInit: CUDA error" on a CPU-only machine)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnnlab.training.device import is_harmless

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("line, driver_missing, harmless", [
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
     False, True),
    ("I0000 00:00:17.5 123 port.cc:153] oneDNN custom operations are on. You may see ...", False, True),
    ("I0000 00:00:17.5 123 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
     "GPU will not be used.", False, True),
    ("E0000 00:00:17.5 123 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
     "Failed call to cuInit: UNKNOWN ERROR (303)", True, True),
    # With a driver installed, a failing cuInit is a real problem: it is shown.
    ("E0000 00:00:17.5 123 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
     False, False),
    ("E0000 00:00:17.5 123 some_kernel.cc:9] Out of memory while allocating", True, False),
    ("Traceback (most recent call last):", True, False),
])
def test_which_lines_are_dropped(line, driver_missing, harmless):
    assert is_harmless(line, driver_missing=driver_missing) is harmless


CHILD = textwrap.dedent("""
    import os, subprocess, sys
    from cnnlab.training.device import quiet_native_startup
    with quiet_native_startup():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\\n")
        os.write(2, b"E0000 a.cc:1] a real error\\n")
        sys.stderr.write("a Python warning\\n")
        # A process started meanwhile inherits the filter, and its lines come through.
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'from a child\\\\n')"])
    os.write(2, b"after the filter\\n")
""")


def test_the_filter_keeps_every_other_line_in_order():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "E0000 a.cc:1] a real error", "a Python warning", "from a child", "after the filter"]
