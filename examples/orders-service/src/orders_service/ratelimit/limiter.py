"""Rate limiting: a sliding-window limit per caller, as a FastAPI dependency.

Each client's requests inside the window are logged by time. A request is admitted while
fewer than the limit are, and a refused client is told exactly when the oldest of them
leaves the window (`Retry-After`): never later than one window from now. The price of the
exactness is memory: up to the limit's number of times per client, bounded in all.
The log lives in this process, or in Redis, shared by every replica, when the cache is there.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from ..core.problems import problem_responses
from ..observability.metrics import record_rate_limited
from ..observability.middleware import Headers, add_response_headers
from .redis import RedisRequestLog

# Past this many logged requests (some 30 MB), the per-process log forgets the least
# recently seen clients.
MAX_LOGGED = 1_000_000

RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds until a request from this client would be admitted",
    "RateLimit-Limit": "Requests admitted per window",
    "RateLimit-Remaining": "Requests this client may still make now",
    "RateLimit-Reset": "Seconds until the oldest request counted leaves the window",
}

# Where a request's decisions wait for its response (see RateLimitHeaders): limit -> decision.
DECISIONS = "rate_limit_decisions"
# Where RateLimitHeaders puts the app's limiter for the request's RateLimit dependencies.
LIMITER = "rate_limiter"

# Who sent a request, when the app can tell (an authenticated caller's stable id), or None.
Identify = Callable[[Request], Awaitable[str | None]]


class RequestLog(Protocol):
    """The times of each key's requests inside the window, wherever the limiter keeps them."""

    async def hit(
        self, key: str, now: float, limit: int, window_seconds: float
    ) -> tuple[bool, int, float]:
        """Log a request at `now` unless `limit` requests of `key` are inside the window.

        Returns whether it was logged, how many requests are inside the window, and the
        time of the oldest one counted against the limit (of the `limit` newest): when it
        leaves the window, one more request is admitted.
        """
        ...

    async def close(self) -> None: ...


class MemoryRequestLog:
    """The log in this process, of at most `max_logged` requests in all."""

    def __init__(self, max_logged: int = MAX_LOGGED) -> None:
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()
        self._logged = 0
        self._max_logged = max_logged

    async def hit(
        self, key: str, now: float, limit: int, window_seconds: float
    ) -> tuple[bool, int, float]:
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = deque()
        else:
            self._logs.move_to_end(key)
        while log and log[0] <= now - window_seconds:
            log.popleft()
            self._logged -= 1
        admitted = len(log) < limit
        if admitted:
            log.append(now)
            self._logged += 1
            self._forget_least_recently_seen()
        return admitted, len(log), log[-min(len(log), limit)]

    def _forget_least_recently_seen(self) -> None:
        while self._logged > self._max_logged and len(self._logs) > 1:
            _, log = self._logs.popitem(last=False)
            self._logged -= len(log)

    async def close(self) -> None:
        self._logs.clear()
        self._logged = 0


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


def whole_seconds(seconds: float) -> int:
    """Seconds rounded up, at least 1: what Retry-After and RateLimit-Reset carry."""
    return max(1, math.ceil(seconds - 1e-9))  # 60.00000000001 is float noise, not 61 s


class RateLimiter:
    """Admits `requests` per sliding `window_seconds` for each key."""

    def __init__(
        self,
        log: RequestLog,
        requests: int,
        window_seconds: float,
        *,
        key_header: str | None = None,
        identify: Identify | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.requests = requests
        self.window_seconds = window_seconds
        self.key_header = key_header
        self.identify = identify
        # Wall-clock time: replicas sharing a log in Redis must agree on the times.
        self._clock = clock

    async def hit(
        self, key: str, requests: int | None = None, window_seconds: float | None = None
    ) -> Decision:
        """Count a request against `key`, if the limit admits it."""
        limit = requests or self.requests
        length = window_seconds or self.window_seconds
        now = self._clock()
        admitted, logged, oldest = await self.log.hit(key, now, limit, length)
        # When the oldest request counted leaves the window, one more is admitted.
        room_in = whole_seconds(oldest + length - now)
        if admitted:
            return Decision(True, limit, length, limit - logged, room_in)
        return Decision(False, limit, length, 0, room_in, room_in)

    async def client_key(self, request: Request) -> str:
        """Who a request counts against: the key header's value when one is configured and
        sent, else the caller `identify` names, else the client's address."""
        if self.key_header is not None:
            value = request.headers.get(self.key_header)
            if value:
                # Hashed: the header may carry a credential, which must not sit in the log.
                return "key:" + _digest(value)
        if self.identify is not None:
            caller = await self.identify(request)
            if caller is not None:
                # Hashed too: a caller's id may be personal data (an e-mail address).
                return "caller:" + _digest(caller)
        return "ip:" + (request.client.host if request.client else "unknown")


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


class RateLimit:
    """A dependency that admits a client's requests up to a limit and answers 429 past it.

    Use it on a route or router (`dependencies=[Depends(RateLimit("search", requests=10))]`)
    or for every route (the app's `dependencies=`), and give the router
    `route_class=LimitedRoute` so that requests whose body fails to parse count too. Each
    scope counts apart; requests and window default to the settings'. Every response to a
    limited request carries the limit's headers (RateLimitHeaders), errors included.
    """

    def __init__(
        self, scope: str, *, requests: int | None = None, window_seconds: float | None = None
    ) -> None:
        self.scope = scope
        self.requests = requests
        self.window_seconds = window_seconds

    async def decide(self, request: Request) -> Decision | None:
        """Count the request against its client's limit, if admitted; None when limits are off."""
        limiter: RateLimiter | None = request.scope.get(LIMITER)
        if limiter is None:
            return None
        key = f"{self.scope}:{await limiter.client_key(request)}"
        return await limiter.hit(key, self.requests, self.window_seconds)

    async def apply(self, request: Request) -> Decision | None:
        """The request's decision: made once however often it is asked for, and kept for
        the headers of the response."""
        decisions = decisions_of(request.scope)
        decision = decisions.get(self.scope)
        if decision is None:
            decision = await self.decide(request)
            if decision is None:
                return None
            decisions[self.scope] = decision
            if not decision.admitted:
                record_rate_limited(self.scope)
        return decision

    async def __call__(self, request: Request) -> None:
        decision = await self.apply(request)
        if decision is None or decision.admitted:
            return
        detail = (
            f"More than {decision.limit} requests in {decision.window_seconds:g} s from this "
            f"client: retry in {decision.retry_after_seconds} s."
        )
        raise HTTPException(HTTPStatus.TOO_MANY_REQUESTS, detail)


def decisions_of(scope: Scope) -> dict[str, Decision]:
    """The rate-limit decisions made for a request, by limit."""
    decisions: dict[str, Decision] = scope.setdefault(DECISIONS, {})
    return decisions


class LimitedRoute(APIRoute):
    """An APIRoute that applies its rate limits before it reads the request body.

    FastAPI parses the body before it solves dependencies: a body it cannot parse would be
    answered 400 uncounted, and without the limit's headers. The dependencies still run,
    and find the decision made; an overridden limit is left to them.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limits = [d.call for d in self.dependant.dependencies if isinstance(d.call, RateLimit)]
        if not limits:
            return handler

        async def limited(request: Request) -> Response:
            overridden = request.app.dependency_overrides
            for limit in limits:
                if limit not in overridden:
                    await limit(request)
            return await handler(request)

        return limited


class RateLimitHeaders:
    """Pure ASGI middleware: it hands each request the app's limiter (`limiter()`, None
    while limits are off), and the response to a limited request carries the limit's
    headers, whoever answers it (the route, an error handler, a cached read), added where
    the observability middleware sends the request ID (`add_response_headers`)."""

    def __init__(self, app: ASGIApp, limiter: Callable[[], RateLimiter | None]) -> None:
        self.app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[LIMITER] = self._limiter()
        decisions = decisions_of(scope)
        add_response_headers(scope, lambda: limit_headers(decisions))
        await self.app(scope, receive, send)


def limit_headers(decisions: dict[str, Decision]) -> Headers:
    """The headers of the limit closest to refusing, as ASGI sends them; none undecided."""
    if not decisions:
        return []
    strictest = min(decisions.values(), key=lambda d: (d.admitted, d.remaining))
    return [(name.lower().encode(), value.encode()) for name, value in strictest.headers().items()]


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


def create_request_log(settings: Settings) -> RequestLog:
    """In Redis when the cache is there, shared by every replica; else in this process."""
    if settings.cache_url.partition("://")[0] in {"redis", "rediss"}:
        return RedisRequestLog.from_settings(settings)
    return MemoryRequestLog()


@asynccontextmanager
async def open_rate_limiter(
    settings: Settings, identify: Identify | None = None
) -> AsyncIterator[RateLimiter | None]:
    """The limiter the settings describe, or None when rate limiting is off. `identify`
    names a request's caller, whose requests then count together from any address."""
    if not settings.rate_limit_enabled:
        yield None
        return
    log = create_request_log(settings)
    try:
        yield RateLimiter(
            log,
            settings.rate_limit_requests,
            settings.rate_limit_window_seconds,
            key_header=settings.rate_limit_key_header,
            identify=identify,
        )
    finally:
        await log.close()
