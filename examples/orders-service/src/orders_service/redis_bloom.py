"""Bloom filter bits in a Redis string, shared by every replica (plain SETBIT and GETBIT:
no Redis module needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from redis.asyncio import Redis

from .config import Settings


class RedisBits:
    """The bits of one Redis key; each call is one round trip."""

    def __init__(self, client: Redis, key: str) -> None:
        self._client = client
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings, key: str) -> Self:
        password = settings.cache_password.get_secret_value() if settings.cache_password else None
        client = Redis.from_url(
            settings.cache_url,
            password=password,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            health_check_interval=30,
        )
        return cls(client, key)

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
