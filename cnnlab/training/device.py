"""TensorFlow's process-wide settings and the name of the device a run trains on.

Why once: TensorFlow fixes its thread pools and GPU memory policy when its runtime starts;
changing them later raises. The job manager calls `configure_tensorflow` before the first
run, and every later call is a no-op.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_device_name: str | None = None


def configure_tensorflow() -> str:
    """Set thread pools and GPU memory growth once; return the training device's name.

    Memory growth lets concurrent runs share one GPU instead of the first run taking all
    of its memory. On a CPU-only machine the intra-op pool uses every core, and two
    inter-op threads let two concurrent runs interleave their ops.
    """
    global _device_name
    with _lock:
        if _device_name is not None:
            return _device_name
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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


def _gpu_name(tf, gpu) -> str:
    details = tf.config.experimental.get_device_details(gpu)
    return f"GPU: {details.get('device_name', gpu.name)}"
