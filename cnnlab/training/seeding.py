"""One lock around everything that seeds or draws from the process-wide random generators.

Why: `keras.utils.set_random_seed` seeds Python's, NumPy's and the backend's generators for
the whole process, and building layers draws default seeds from Python's. Two runs built
at once in one process (threads) would interleave their draws, and a run's initial weights
would depend on what else was being built at that moment. Holding `seed_lock` while a run
seeds and builds keeps its weights a function of its seed alone; whatever else builds a
model in a process that trains (the memory estimate at admission, an export, a worker's
warm-up) takes the same lock, so it cannot shift a run's draws either.
"""

from __future__ import annotations

import threading

seed_lock = threading.Lock()
