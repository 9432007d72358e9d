"""The byte-bounded, thread-safe data cache, alone and behind load_dataset."""

import threading
import time

import numpy as np
import pytest

from cnnlab.data import load_dataset
from cnnlab.data.cache import CACHE_ENV, DATA_CACHE, ByteLimitedCache, max_cache_bytes


def _array(nbytes: int) -> np.ndarray:
    return np.zeros(nbytes, dtype=np.uint8)


def _put(cache, key, nbytes):
    return cache.get_or_load(key, lambda: _array(nbytes), size=lambda a: a.nbytes)


def test_hit_returns_the_same_object_without_loading():
    cache = ByteLimitedCache(lambda: 1000)
    first = _put(cache, "a", 10)
    second = cache.get_or_load("a", lambda: pytest.fail("loaded twice"), size=len)
    assert second is first


def test_least_recently_used_is_evicted_first():
    cache = ByteLimitedCache(lambda: 300)
    for key in "abc":
        _put(cache, key, 100)
    _put(cache, "a", 100)  # A hit: "a" becomes the most recent, "b" the least.
    _put(cache, "d", 100)
    assert "b" not in cache and all(key in cache for key in "acd")
    assert cache.total_bytes == 300 and len(cache) == 3


def test_total_bytes_stay_within_budget():
    cache = ByteLimitedCache(lambda: 250)
    for i, size in enumerate([100, 120, 90, 60, 200, 10]):
        _put(cache, i, size)
        assert cache.total_bytes <= 250
    assert 4 in cache and 5 in cache


def test_value_larger_than_budget_is_returned_but_not_cached():
    cache = ByteLimitedCache(lambda: 100)
    _put(cache, "small", 50)
    big = _put(cache, "big", 101)
    assert len(big) == 101
    assert "big" not in cache and "small" in cache


def test_concurrent_requests_for_one_key_load_once():
    cache = ByteLimitedCache(lambda: 10**6)
    calls = []
    start = threading.Barrier(8)

    def slow_load():
        calls.append(1)
        time.sleep(0.2)
        return _array(10)

    results = []

    def request():
        start.wait()
        results.append(cache.get_or_load("k", slow_load, size=lambda a: a.nbytes))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(result is results[0] for result in results)


def test_different_keys_load_in_parallel():
    cache = ByteLimitedCache(lambda: 10**6)
    inside = threading.Barrier(2, timeout=60)

    def load():
        inside.wait()  # Deadlocks (then times out) unless both loads run at once.
        return _array(1)

    threads = [threading.Thread(target=cache.get_or_load, args=(key, load, len)) for key in "xy"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "x" in cache and "y" in cache


def test_failed_load_caches_nothing_and_can_be_retried():
    cache = ByteLimitedCache(lambda: 1000)
    with pytest.raises(RuntimeError):
        cache.get_or_load("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")), size=len)
    assert "k" not in cache
    assert len(_put(cache, "k", 5)) == 5


@pytest.mark.parametrize(
    "value, expected",
    [(None, 2048 * 2**20), ("", 2048 * 2**20), ("1", 2**20), ("0", 0), ("0.5", 2**19)],
)
def test_budget_from_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(CACHE_ENV, value)
    assert max_cache_bytes() == expected


@pytest.mark.parametrize("value", ["lots", "-1", "nan"])
def test_invalid_budget_in_environment(monkeypatch, value):
    monkeypatch.setenv(CACHE_ENV, value)
    with pytest.raises(ValueError, match=f"Invalid `{CACHE_ENV}` environment variable"):
        max_cache_bytes()


def test_load_dataset_returns_the_cached_object():
    first = load_dataset("digits", train_size=64, seed=11)
    assert load_dataset("digits", train_size=64, seed=11) is first
    assert load_dataset("digits", train_size=64, seed=12) is not first


def test_load_dataset_respects_a_tiny_budget(monkeypatch):
    DATA_CACHE.clear()
    monkeypatch.setenv(CACHE_ENV, "0.5")  # 512 KiB: less than one 32-px digits Dataset.
    first = load_dataset("digits", train_size=64, seed=13)
    assert first.nbytes > 2**19
    assert load_dataset("digits", train_size=64, seed=13) is not first
    assert DATA_CACHE.total_bytes <= 2**19
    # The 8×8 pool (about 0.4 MB) fits the budget and stays cached.
    assert ("pool", "digits", 8) in DATA_CACHE
