"""A Bloom filter: whether a key was certainly never added, in a fixed number of bits.

For `capacity` keys at a false-positive rate `error_rate` it takes
m = -capacity * ln(error_rate) / ln(2)^2 bits and k = (m / capacity) * ln(2) bit positions
per key, derived from one BLAKE2b digest by double hashing (Kirsch and Mitzenmacher). It
never answers "absent" for a key that was added; past `capacity` keys its false positives
grow beyond `error_rate`. The bits live behind a small protocol: a bytearray in this
process, or a Redis string every replica shares (`redis_bloom.py`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Protocol


class Bits(Protocol):
    """A fixed-size array of bits, wherever it is kept."""

    async def set(self, offsets: Sequence[int]) -> None: ...

    async def all_set(self, offsets: Sequence[int]) -> bool: ...

    async def close(self) -> None: ...


class MemoryBits:
    """Bits in this process."""

    def __init__(self, size: int) -> None:
        self._bytes = bytearray((size + 7) // 8)

    async def set(self, offsets: Sequence[int]) -> None:
        for offset in offsets:
            self._bytes[offset >> 3] |= 1 << (offset & 7)

    async def all_set(self, offsets: Sequence[int]) -> bool:
        return all(self._bytes[offset >> 3] & (1 << (offset & 7)) for offset in offsets)

    async def close(self) -> None:
        """Nothing to release: the bytes go with the object."""


def dimensions(capacity: int, error_rate: float) -> tuple[int, int]:
    """The bits and the bit positions per key for `capacity` keys at `error_rate`."""
    if capacity < 1 or not 0 < error_rate < 1:
        msg = f"a Bloom filter needs capacity >= 1 and 0 < error_rate < 1, not {capacity} and {error_rate}"
        raise ValueError(msg)
    size = math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2)
    return size, max(1, round(size / capacity * math.log(2)))


class BloomFilter:
    def __init__(self, bits: Bits, size: int, hashes: int) -> None:
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
