"""A process-wide, thread-safe cache of loaded data, bounded by the bytes it holds.

Why bounded by bytes rather than entries: one CIFAR-10 pool outweighs a hundred digits
subsets, and a shared classroom server must not grow until it is killed. Why a lock per
key: two runs started together on the same data set should load it once, while runs on
different data sets load in parallel.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_CACHE_MB = 2048
CACHE_ENV = "CNNLAB_DATA_CACHE_MB"


def max_cache_bytes() -> int:
    """The byte budget: `$CNNLAB_DATA_CACHE_MB` mebibytes (default 2 GiB); 0 turns caching off.

    Read on every insertion, so the budget can be changed without restarting the process.
    """
    text = os.environ.get(CACHE_ENV, "").strip()
    if not text:
        return DEFAULT_CACHE_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0:  # Also rejects NaN.
        raise ValueError(
            f"Invalid `{CACHE_ENV}` environment variable. Expected a number of mebibytes "
            f">= 0 (0 turns the data cache off). Received: {text!r}. Fix: set it to e.g. "
            f"{DEFAULT_CACHE_MB}, or unset it for the default."
        )
    return int(megabytes * 2**20)


class ByteLimitedCache:
    """A least-recently-used mapping whose values together stay within a byte budget.

    Args:
        max_bytes: returns the budget in bytes; defaults to `max_cache_bytes`.
    """

    def __init__(self, max_bytes: Callable[[], int] = max_cache_bytes):
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._total = 0

    def get_or_load(self, key: Hashable, load: Callable[[], T], size: Callable[[T], int]) -> T:
        """The cached value for `key`, or `load()`'s result, cached when it fits the budget.

        Args:
            key: what identifies the value.
            load: computes the value; runs outside the global lock, once per key at a time.
            size: the value's size in bytes.
        """
        budget = self._max_bytes()
        with self._lock:
            if key in self._items:
                return self._hit(key)
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            # Another thread may have loaded it while this one waited for the key's lock.
            with self._lock:
                if key in self._items:
                    return self._hit(key)
            try:
                value = load()
                with self._lock:
                    self._insert(key, value, int(size(value)), budget)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            return value

    def clear(self) -> None:
        """Forget every cached value (loads in progress still finish and insert theirs)."""
        with self._lock:
            self._items.clear()
            self._total = 0

    @property
    def total_bytes(self) -> int:
        """The bytes the cached values hold now."""
        return self._total

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _hit(self, key):
        self._items.move_to_end(key)
        return self._items[key][0]

    def _insert(self, key, value, nbytes: int, budget: int) -> None:
        # A value larger than the whole budget is handed out uncached rather than
        # evicting everything else for it.
        if nbytes > budget:
            return
        if key in self._items:
            self._total -= self._items.pop(key)[1]
        self._items[key] = (value, nbytes)
        self._total += nbytes
        while self._total > budget:
            _, (_, evicted) = self._items.popitem(last=False)
            self._total -= evicted


# The one cache shared by the whole process: pools and finished Datasets alike.
DATA_CACHE = ByteLimitedCache()
