"""The one bounded cache: entries and bytes bounded, least recently used out first, what an
evicted entry holds released."""

from gateway.caches import BoundedLRU


def test_bounded_by_entries_and_weight_least_recently_used_first():
    closed = []
    cache: BoundedLRU[str, bytes] = BoundedLRU(
        3, max_weight=10, weight=lambda _, v: len(v), on_evict=lambda k, _: closed.append(k)
    )
    for key in "abc":
        cache.put(key, b"xx")
    assert cache.get("a") == b"xx"  # a is now the most recent
    cache.put("d", b"xx")  # four entries: b, the least recently used, leaves
    assert closed == ["b"]
    cache.put("e", b"xxxxxx")  # four entries again: c leaves; 10 bytes, within the bound
    assert closed == ["b", "c"]
    assert (len(cache), cache.weight) == (3, 10)
    cache.put("a", b"xxxx")  # replaced, 12 bytes: d, the least recently used, leaves
    assert closed == ["b", "c", "d"]
    assert (len(cache), cache.weight) == (2, 10)
    cache.put("big", b"x" * 11)  # heavier than the bound by itself: not kept
    assert "big" not in cache
    assert cache.pop("e") == b"xxxxxx"
    assert cache.pop("e") is None
    assert cache.drain() == [("a", b"xxxx")]
    assert (len(cache), cache.weight) == (0, 0)


def test_a_cache_of_no_entries_keeps_nothing():
    cache: BoundedLRU[str, int] = BoundedLRU(0)
    cache.put("a", 1)
    assert cache.get("a") is None
