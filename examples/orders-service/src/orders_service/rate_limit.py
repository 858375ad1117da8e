"""Rate limiting: a sliding-window limit per client, as a FastAPI dependency.

Each client has two counts: its requests in the current fixed window and in the one
before. A request is admitted while `previous * (the share of the previous window still
inside the sliding window) + current` stays within the limit: a sliding window in two
numbers per client, without the double bursts fixed windows allow at their edges.
Counts live in this process, or in Redis, shared by every replica, when the cache is there.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import Request, Response
from starlette.exceptions import HTTPException

from .config import Settings
from .metrics import record_rate_limited
from .problems import problem_responses
from .redis_rate_limit import RedisWindowCounts

# Past this many clients, the per-process counts forget the least recently seen.
MAX_CLIENTS = 100_000
# Weights are floats: 3 x 0.6666666666666667 must not count as more than 2.
TOLERANCE = 1e-9

RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds until a request from this client would be admitted",
    "RateLimit-Limit": "Requests admitted per window",
    "RateLimit-Remaining": "Requests left in the current window",
    "RateLimit-Reset": "Seconds until the current window ends",
}


class WindowCounts(Protocol):
    """Request counts per key and fixed window, wherever the limiter keeps them."""

    async def hit(
        self, key: str, limit: int, window: int, weight: float, expire_seconds: float
    ) -> tuple[bool, int, int]:
        """Count a request in `window` unless `previous * weight + current` would pass `limit`.

        Returns whether it was counted, and the previous and current windows' counts.
        """
        ...

    async def close(self) -> None: ...


class MemoryWindowCounts:
    """Counts in this process, for at most `max_keys` clients."""

    def __init__(self, max_keys: int = MAX_CLIENTS) -> None:
        # key -> [window, the previous window's count, this window's count]
        self._counts: OrderedDict[str, list[int]] = OrderedDict()
        self._max_keys = max_keys

    async def hit(
        self, key: str, limit: int, window: int, weight: float, expire_seconds: float
    ) -> tuple[bool, int, int]:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [window, 0, 0]
            if len(self._counts) > self._max_keys:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(key)
            if counts[0] != window:
                counts[1] = counts[2] if counts[0] == window - 1 else 0
                counts[0], counts[2] = window, 0
        _, previous, current = counts
        if previous * weight + current + 1 > limit + TOLERANCE:
            return False, previous, current
        counts[2] = current + 1
        return True, previous, current + 1

    async def close(self) -> None:
        self._counts.clear()


@dataclass(slots=True)
class Decision:
    """The limiter's answer to one request, and what the response tells the client."""

    admitted: bool
    limit: int
    window_seconds: float
    remaining: int
    reset_seconds: int
    retry_after_seconds: int = 0

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.admitted:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def seconds_until_room(
    limit: int, window_seconds: float, elapsed: float, previous: int, current: int
) -> float:
    """How long a refused client waits until `previous * weight + current + 1 <= limit`."""
    if current + 1 <= limit:
        # Room in this window, once enough of the previous window's weight has faded.
        return window_seconds * (1 - (limit - 1 - current) / previous) - elapsed
    # This window is full: into the next one, until this window's weight fades enough.
    return window_seconds - elapsed + window_seconds * (1 - (limit - 1) / current)


def whole_seconds(seconds: float) -> int:
    """Seconds rounded up, at least 1: what Retry-After and RateLimit-Reset carry."""
    return max(1, math.ceil(seconds - 1e-9))


class RateLimiter:
    """Admits `requests` per sliding `window_seconds` for each key."""

    def __init__(
        self,
        counts: WindowCounts,
        requests: int,
        window_seconds: float,
        *,
        key_header: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counts = counts
        self.requests = requests
        self.window_seconds = window_seconds
        self.key_header = key_header
        # Wall-clock time: replicas sharing counts in Redis must agree on the windows.
        self._clock = clock

    async def hit(
        self, key: str, requests: int | None = None, window_seconds: float | None = None
    ) -> Decision:
        """Count a request against `key`, if the limit admits it."""
        limit = requests or self.requests
        length = window_seconds or self.window_seconds
        window, elapsed = divmod(self._clock(), length)
        weight = 1 - elapsed / length
        admitted, previous, current = await self.counts.hit(
            key, limit, int(window), weight, 2 * length
        )
        if admitted:
            remaining = max(0, math.floor(limit - previous * weight - current))
            return Decision(True, limit, length, remaining, whole_seconds(length - elapsed))
        wait = whole_seconds(seconds_until_room(limit, length, elapsed, previous, current))
        return Decision(False, limit, length, 0, wait, wait)

    def client_key(self, request: Request) -> str:
        """Who a request counts against: the key header's value, else the client's address."""
        if self.key_header is not None:
            value = request.headers.get(self.key_header)
            if value:
                # Hashed: the header may carry a credential, which must not sit in the counts.
                return "key:" + hashlib.blake2b(value.encode(), digest_size=16).hexdigest()
        return "ip:" + (request.client.host if request.client else "unknown")


class RateLimit:
    """A dependency that admits a client's requests up to a limit and answers 429 past it.

    Use it on a route or router (`dependencies=[Depends(RateLimit("search", requests=10))]`)
    or for every route (the app's `dependencies=`). Each scope counts apart; requests and
    window default to the settings'.
    """

    def __init__(
        self, scope: str, *, requests: int | None = None, window_seconds: float | None = None
    ) -> None:
        self.scope = scope
        self.requests = requests
        self.window_seconds = window_seconds

    async def decide(self, request: Request) -> Decision | None:
        """Count the request against its client's limit, if admitted; None when limits are off."""
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is None:
            return None
        key = f"{self.scope}:{limiter.client_key(request)}"
        return await limiter.hit(key, self.requests, self.window_seconds)

    async def __call__(self, request: Request, response: Response) -> None:
        decision = await self.decide(request)
        if decision is None:
            return
        if decision.admitted:
            for name, value in decision.headers().items():
                response.headers.append(name, value)  # no search for existing ones
            return
        record_rate_limited(self.scope)
        detail = (
            f"More than {decision.limit} requests in {decision.window_seconds:g} s from this "
            f"client: retry in {decision.retry_after_seconds} s."
        )
        raise HTTPException(HTTPStatus.TOO_MANY_REQUESTS, detail, headers=decision.headers())


# The limit on the public API: every /api/v1 router declares it.
api_rate_limit = RateLimit("api")


def rate_limit_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of a rate-limited route: 429, with its headers."""
    responses = problem_responses(HTTPStatus.TOO_MANY_REQUESTS)
    responses[HTTPStatus.TOO_MANY_REQUESTS]["headers"] = {
        name: {"description": description, "schema": {"type": "integer", "minimum": 0}}
        for name, description in RATE_LIMIT_HEADERS.items()
    }
    return responses


def create_window_counts(settings: Settings) -> WindowCounts:
    """In Redis when the cache is there, shared by every replica; else in this process."""
    if settings.cache_url.partition("://")[0] in {"redis", "rediss"}:
        return RedisWindowCounts.from_settings(settings)
    return MemoryWindowCounts()


@asynccontextmanager
async def open_rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter | None]:
    """The limiter the settings describe, or None when rate limiting is off."""
    if not settings.rate_limit_enabled:
        yield None
        return
    counts = create_window_counts(settings)
    try:
        yield RateLimiter(
            counts,
            settings.rate_limit_requests,
            settings.rate_limit_window_seconds,
            key_header=settings.rate_limit_key_header,
        )
    finally:
        await counts.close()
