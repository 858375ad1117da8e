"""The Bloom filter: no false negatives, and false positives near the rate it was sized for."""

from __future__ import annotations

import pytest

from orders_service.cache.bloom import (
    BloomFilter,
    MemoryBits,
    dimensions,
)


def memory_filter(capacity: int, error_rate: float) -> BloomFilter:
    size, hashes = dimensions(capacity, error_rate)
    return BloomFilter(MemoryBits(size), size, hashes)


def test_dimensions_follow_the_textbook_formulas() -> None:
    assert dimensions(1_000, 0.01) == (9_586, 7)
    assert dimensions(1_000_000, 0.001) == (14_377_588, 10)


@pytest.mark.parametrize(("capacity", "error_rate"), [(0, 0.01), (10, 0.0), (10, 1.0)])
def test_impossible_dimensions_are_refused(capacity: int, error_rate: float) -> None:
    with pytest.raises(ValueError, match="needs capacity >= 1 and 0 < error_rate < 1"):
        dimensions(capacity, error_rate)


async def test_every_added_key_is_found() -> None:
    bloom = memory_filter(1_000, 0.01)
    keys = [f"item-{n}" for n in range(1_000)]

    await bloom.add(keys)

    assert all([await bloom.might_contain(key) for key in keys])


async def test_false_positives_stay_near_the_error_rate_at_capacity() -> None:
    bloom = memory_filter(1_000, 0.01)
    await bloom.add(f"item-{n}" for n in range(1_000))

    others = [await bloom.might_contain(f"other-{n}") for n in range(20_000)]

    assert sum(others) / len(others) < 0.02


async def test_an_empty_filter_contains_nothing() -> None:
    bloom = memory_filter(10, 0.01)

    assert not await bloom.might_contain("anything")
    await bloom.close()
