"""The rate limit's request log in Redis, shared by every replica."""

from __future__ import annotations

import logging
import math
from typing import Self

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..cache.redis import redis_client
from ..config import Settings
from ..core.outages import is_outage
from ..core.resilience import CircuitBreaker

logger = logging.getLogger(__name__)

# Forget, check and log in one atomic step, as MemoryRequestLog.hit does. KEYS: the key's
# log, a list of request times, newest first. ARGV: now, the window in seconds, the limit,
# the window in milliseconds (the log's lifetime after its newest request). Times go back
# as strings: Redis would truncate Lua numbers to integers.
HIT_SCRIPT = """
local horizon = tonumber(ARGV[1]) - tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local oldest = redis.call('LINDEX', KEYS[1], -1)
while oldest and tonumber(oldest) <= horizon do
  redis.call('RPOP', KEYS[1])
  oldest = redis.call('LINDEX', KEYS[1], -1)
end
local logged = redis.call('LLEN', KEYS[1])
local admitted = logged < limit
if admitted then
  logged = redis.call('LPUSH', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {admitted and 1 or 0, logged, redis.call('LINDEX', KEYS[1], math.min(logged, limit) - 1)}
"""


class RedisRequestLog:
    """The log in Redis. Fails open: while Redis does not answer, requests are admitted."""

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
        self.breaker = breaker or CircuitBreaker("rate-limit log in Redis")

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        # A short timeout: every limited request waits for this answer.
        return cls(redis_client(settings, timeout_seconds=0.5))

    async def hit(
        self, key: str, now: float, limit: int, window_seconds: float
    ) -> tuple[bool, int, float]:
        if not self.breaker.allow():
            return True, 0, now
        try:
            admitted, logged, oldest = await self._script(
                keys=[self._prefix + key],
                args=[repr(now), window_seconds, limit, max(1, math.ceil(window_seconds * 1000))],
            )
        except RedisError as error:
            self.breaker.record_failure()
            logger.warning(
                "Rate-limit log unavailable (%s); admitting the request",
                type(error).__name__,
                exc_info=not is_outage(error),
            )
            return True, 0, now
        self.breaker.record_success()
        return bool(admitted), int(logged), float(oldest)

    async def close(self) -> None:
        await self._client.aclose()
