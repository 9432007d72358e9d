"""TensorFlow's process-wide settings and the name of the device a run trains on.

Why once: TensorFlow fixes its thread pools and GPU memory policy when its runtime starts;
changing them later raises. The job manager calls `configure_tensorflow` before the first
run, and every later call is a no-op.

Why TensorFlow's start-up lines are filtered: its native code writes straight to the
process's stderr while it loads, before `TF_CPP_MIN_LOG_LEVEL` applies ("All log messages
before absl::InitializeLog() ...", "oneDNN custom operations are on", "Could not find cuda
drivers") and, on a machine without an NVIDIA driver, an error line "failed call to
cuInit: CUDA error" that every worker and every command-line run printed. None of it is
an error for a user of a CPU-only machine. `TF_CPP_MIN_LOG_LEVEL=3` would hide real errors
too, so instead stderr is captured while TensorFlow loads and finds its devices, and every
line is written back except those known to be harmless (`HARMLESS_LINES`); the cuInit line
only where no NVIDIA driver is installed (with a driver it means something is wrong).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_device_name: str | None = None

# Native start-up lines that tell a user nothing they must act on.
HARMLESS_LINES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine, GPU will not be used",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory", "TF-TRT Warning: Could not find TensorRT",
    "computation placer already registered",
)
# Harmless only where no NVIDIA driver is installed (see `_no_nvidia_driver`).
NO_DRIVER_LINES = ("failed call to cuInit",)


def configure_tensorflow() -> str:
    """Set thread pools and GPU memory growth once; return the training device's name.

    Memory growth lets concurrent runs share one GPU instead of the first run taking all
    of its memory. On a CPU-only machine the intra-op pool uses every core, and two
    inter-op threads let two concurrent runs interleave their ops. TensorFlow's harmless
    start-up lines are dropped (see the module's docstring).
    """
    global _device_name
    with _lock:
        if _device_name is not None:
            return _device_name
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet_native_startup():
            import keras  # noqa: F401 - loaded here, under the filter, as every run needs it
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
        try:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            tf.config.threading.set_intra_op_parallelism_threads(os.cpu_count() or 1)
            tf.config.threading.set_inter_op_parallelism_threads(2)
        except RuntimeError:
            # The runtime was already started by someone else (a test, a notebook): keep
            # its settings rather than fail, they only affect speed.
            pass
        _device_name = _gpu_name(tf, gpus[0]) if gpus else "CPU"
        return _device_name


def tensorflow_ready() -> bool:
    """Whether `configure_tensorflow` has finished in this process (it never blocks)."""
    return _device_name is not None


def is_harmless(line: str, *, driver_missing: bool) -> bool:
    """Whether a native start-up line of TensorFlow can be dropped (see the module)."""
    if any(text in line for text in HARMLESS_LINES):
        return True
    return driver_missing and any(text in line for text in NO_DRIVER_LINES)


@contextlib.contextmanager
def quiet_native_startup() -> Iterator[None]:
    """Send the process's stderr (file descriptor 2) through a filter for the block: every
    line is written on to the real stderr except the harmless ones.

    Why the descriptor: TensorFlow's native code writes there directly, past sys.stderr.
    A thread forwards the lines as they come, so a chatty library never blocks on a full
    pipe, and a child process started meanwhile (which inherits the pipe) keeps its
    stderr, filtered, until it ends. Where descriptors cannot be swapped (no fd 2, as
    under some service managers), the block runs unfiltered.
    """
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    read_end, write_end = os.pipe()
    forwarder = threading.Thread(target=_forward, args=(read_end, original, _no_nvidia_driver()),
                                 name="cnnlab-tf-startup-log", daemon=True)
    forwarder.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
        os.dup2(original, 2)  # the pipe ends once no process holds its write end
        forwarder.join(2)


def _forward(read_end: int, original: int, driver_missing: bool) -> None:
    """Copy lines from the pipe to the original stderr, dropping the harmless ones."""
    pending = b""

    def write(line: bytes) -> None:
        if line.strip() and not is_harmless(line.decode(errors="replace"),
                                            driver_missing=driver_missing):
            with contextlib.suppress(OSError):
                os.write(original, line + b"\n")

    try:
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                write(line)
        write(pending)
    finally:
        os.close(read_end)
        os.close(original)


def _no_nvidia_driver() -> bool:
    """True where no NVIDIA kernel driver is loaded (Linux); False where one is or where
    it cannot be told (then a cuInit failure is reported as it is)."""
    if not sys.platform.startswith("linux"):
        return False
    return not os.path.exists("/proc/driver/nvidia/version")


def _gpu_name(tf, gpu) -> str:
    details = tf.config.experimental.get_device_details(gpu)
    return f"GPU: {details.get('device_name', gpu.name)}"

