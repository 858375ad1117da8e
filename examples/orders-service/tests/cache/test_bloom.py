"""The in-memory Bloom filter: no false negatives, and false positives near the rate it was
sized for."""

from __future__ import annotations

from orders_service.cache.bloom import MemoryFilter


async def test_every_added_key_is_found() -> None:
    bloom = MemoryFilter(1_000, 0.01)
    keys = [f"item-{n}" for n in range(1_000)]

    await bloom.add(keys)

    assert all([await bloom.might_contain(key) for key in keys])


async def test_false_positives_stay_near_the_error_rate_at_capacity() -> None:
    bloom = MemoryFilter(1_000, 0.01)
    await bloom.add(f"item-{n}" for n in range(1_000))

    others = [await bloom.might_contain(f"other-{n}") for n in range(20_000)]

    assert 0.005 < sum(others) / len(others) < 0.02


async def test_an_empty_filter_contains_nothing() -> None:
    bloom = MemoryFilter(10, 0.01)

    assert not await bloom.might_contain("anything")
    await bloom.close()
