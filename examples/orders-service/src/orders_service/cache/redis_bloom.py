"""Bloom filter bits in a Redis string, shared by every replica (plain SETBIT and GETBIT:
no Redis module needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from redis.asyncio import Redis

from ..config import Settings
from .redis import redis_client


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
