"""Rate-limit counts in Redis, shared by every replica."""

from __future__ import annotations

import logging
from typing import Self

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .config import Settings
from .redis_cache import redis_client
from .resilience import CircuitBreaker

logger = logging.getLogger(__name__)

# Check and count in one atomic step. KEYS: this window's and the previous window's counter;
# ARGV: the previous window's weight, the limit, the counter's lifetime in milliseconds.
HIT_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[1]) + current + 1 > tonumber(ARGV[2]) + 1e-9 then
  return {0, previous, current}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, previous, current}
"""


class RedisWindowCounts:
    """Counts in Redis. Fails open: while Redis does not answer, requests are admitted."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "ratelimit:",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._script = client.register_script(HIT_SCRIPT)
        self._prefix = prefix
        self.breaker = breaker or CircuitBreaker("rate-limit counts in Redis")

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        # A short timeout: every limited request waits for this answer.
        return cls(redis_client(settings, timeout_seconds=0.5))

    async def hit(
        self, key: str, limit: int, window: int, weight: float, expire_seconds: float
    ) -> tuple[bool, int, int]:
        if not self.breaker.allow():
            return True, 0, 0
        # One hash tag for both counters, so a Redis Cluster keeps them in one slot.
        tagged = self._prefix + "{" + key + "}:"
        try:
            admitted, previous, current = await self._script(
                keys=[f"{tagged}{window}", f"{tagged}{window - 1}"],
                args=[weight, limit, max(1, int(expire_seconds * 1000))],
            )
        except RedisError:
            self.breaker.record_failure()
            logger.warning("Rate-limit counts unavailable; admitting the request", exc_info=True)
            return True, 0, 0
        self.breaker.record_success()
        return bool(admitted), int(previous), int(current)

    async def close(self) -> None:
        await self._client.aclose()
