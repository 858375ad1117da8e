"""A Bloom filter in a Redis string, shared by every replica (plain SETBIT and GETBIT: no
Redis module needed).

Every replica must set and read the same bits for a key, so the filter hashes on its own
rather than with rbloom (whose `hash()` differs per process, and whose bit offsets are not
exposed). For `capacity` keys at a false-positive rate `error_rate` it takes
m = -capacity * ln(error_rate) / ln(2)^2 bits and k = (m / capacity) * ln(2) bit positions
per key, derived from one BLAKE2b digest by double hashing (Kirsch and Mitzenmacher).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Self

from redis.asyncio import Redis

from ..config import Settings
from .redis import redis_client


def dimensions(capacity: int, error_rate: float) -> tuple[int, int]:
    """The bits and the bit positions per key for `capacity` keys at `error_rate`."""
    if capacity < 1 or not 0 < error_rate < 1:
        msg = f"a Bloom filter needs capacity >= 1 and 0 < error_rate < 1, not {capacity} and {error_rate}"
        raise ValueError(msg)
    size = math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2)
    return size, max(1, round(size / capacity * math.log(2)))


class RedisBits:
    """The bits of one Redis key; each call is one round trip."""

    def __init__(self, client: Redis, key: str) -> None:
        self._client = client
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings, key: str) -> Self:
        # A short timeout: a read of an uncached item waits for this answer.
        return cls(redis_client(settings, timeout_seconds=0.5), key)

    async def set(self, offsets: Sequence[int]) -> None:
        async with self._client.pipeline(transaction=False) as pipeline:
            for offset in offsets:
                pipeline.setbit(self._key, offset, 1)
            await pipeline.execute()

    async def all_set(self, offsets: Sequence[int]) -> bool:
        async with self._client.pipeline(transaction=False) as pipeline:
            for offset in offsets:
                pipeline.getbit(self._key, offset)
            return all(await pipeline.execute())

    async def close(self) -> None:
        await self._client.aclose()


class BloomFilter:
    """A filter of `size` bits and `hashes` bit positions per key, kept in `bits`."""

    def __init__(self, bits: RedisBits, size: int, hashes: int) -> None:
        self.bits = bits
        self.size = size
        self.hashes = hashes

    def offsets(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little")
        step = int.from_bytes(digest[8:], "little") | 1
        return [(first + i * step) % self.size for i in range(self.hashes)]

    async def add(self, keys: Iterable[str]) -> None:
        await self.bits.set([offset for key in keys for offset in self.offsets(key)])

    async def might_contain(self, key: str) -> bool:
        return await self.bits.all_set(self.offsets(key))

    async def close(self) -> None:
        await self.bits.close()
