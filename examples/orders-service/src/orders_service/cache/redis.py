"""Redis behind the Cache protocol."""

from __future__ import annotations

from typing import Self

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ..config import Settings


def redis_client(settings: Settings, timeout_seconds: float) -> Redis:
    """A client of the cache's Redis: bounded socket waits, idle connections checked."""
    password = settings.cache_password.get_secret_value() if settings.cache_password else None
    return Redis.from_url(
        settings.cache_url,
        password=password,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        # A command on a connection the server closed (it restarted) is sent once more on a
        # new one; a slow server is not asked twice.
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[RedisConnectionError],
    )


class RedisCache:
    """A shared cache in Redis; keys expire on Redis' own clock."""

    def __init__(self, client: Redis) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(redis_client(settings, timeout_seconds=1.0))

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(key)
        # The client is built without decode_responses, so values arrive as bytes.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self._client.set(key, value, px=max(1, int(ttl_seconds * 1000)))

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        return bool(await self._client.set(key, value, px=max(1, int(ttl_seconds * 1000)), nx=True))

    async def delete(self, key: str) -> None:
        await self._client.delete(key)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self._client.aclose()
