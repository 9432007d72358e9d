"""A small cache of inspection views, keyed by (model, image, view, layer, class).

Why: the page reruns its whole script on every widget change, and moving the opacity
slider must not recompute Grad-CAM. A view is computed once per model key (a run id),
image (by the sha1 of its bytes) and layer, and the oldest entries make room for new ones.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np


def image_key(image) -> str:
    """A short digest of an image's shape, type and pixels; a string names itself (a
    whole validation set is named, not hashed on every rerun)."""
    if isinstance(image, str):
        return image
    image = np.ascontiguousarray(image)
    digest = hashlib.sha1(f"{image.shape}{image.dtype}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:16]


class ViewCache:
    """Least-recently-used results of inspection views; safe to share between sessions.

    Args:
        max_items: entries kept (default 128: a few images' views of a few runs).
    """

    def __init__(self, max_items: int = 128):
        self.max_items = max_items
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, model_key: str, image, view: str, compute, *, layer=None,
            class_index=None):
        """`compute()`'s result for this key, computed at most once while it stays cached."""
        key = (model_key, image_key(image), view, layer, class_index)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = compute()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
