"""Bloom filters: whether a key was certainly never added, in a fixed number of bits.

A filter never answers "absent" for a key that was added; past the capacity it was sized
for, its false positives grow beyond its rate. One protocol, two filters: rbloom's
(written in Rust) in this process, or one every replica shares in Redis
(`redis_bloom.py`, with a Redis cache).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from rbloom import Bloom


class Filter(Protocol):
    """A Bloom filter of string keys, wherever its bits are kept."""

    async def add(self, keys: Iterable[str]) -> None: ...

    async def might_contain(self, key: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryFilter:
    """A filter in this process, rbloom's. It hashes with `hash()`, which differs per
    process: harmless here, as each process loads its own filter at start-up.
    """

    def __init__(self, capacity: int, error_rate: float) -> None:
        self._bloom = Bloom(capacity, error_rate)

    async def add(self, keys: Iterable[str]) -> None:
        self._bloom.update(keys)

    async def might_contain(self, key: str) -> bool:
        return key in self._bloom

    async def close(self) -> None:
        """Nothing to release: the bits go with the object."""
