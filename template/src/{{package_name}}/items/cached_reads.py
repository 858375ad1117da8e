"""Cached item reads, answered before FastAPI routes the request.

`GET /api/v1/items/{item_id}` is the service's hottest path, and when the item is cached,
FastAPI's routing and dependency injection cost more than the read itself. So this
middleware answers those reads from the cache, after the same rate limit and with the same
body and headers as the route (the limit's added by RateLimitHeaders to both). Everything
else goes on to the app: other requests, ids spelt otherwise than the cache keys them (the
route parses those), cache misses (the route loads, with its stampede protection), items
known to be absent (the route answers 404) and refused requests (the route answers 429
from the decision made here: none is counted twice). The route stays the documented one
and the only one that loads.

Nothing is answered here that the route would refuse. The middleware runs inside every
other middleware, whatever the order they were added in (`innermost`, honoured by the app
factory). When the app is built, it reads the route's dependencies at every level (app,
`/api/v1` router, items router, route, and theirs): it applies the rate limit, and the
state and service are what the route loads with; any other dependency (authentication,
say) turns it off, with a warning, and every read goes through the route. While dependency
overrides are set (in tests), reads go through the route too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from uuid import UUID

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from ..observability.metrics import record_cache_hit
from ..observability.middleware import ROUTE_TEMPLATE
from ..ratelimit.limiter import api_rate_limit
from ..state import AppState, get_state
from .dependencies import get_item_service
from .service import cache_key

logger = logging.getLogger(__name__)

ROUTE_NAME = "read_item"
# The rate limit is applied here; the others only provide what the route loads with.
HONOURED: frozenset[Callable[..., Any]] = frozenset({api_rate_limit, get_item_service, get_state})


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency a route solves before it runs, at any depth."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from dependency_calls(dependency)


def unhonoured(dependant: Dependant) -> list[str]:
    """Names of a route's dependencies that answering from the cache would skip."""
    skipped = set(dependency_calls(dependant)) - HONOURED
    return sorted(getattr(call, "__name__", repr(call)) for call in skipped)


class CachedItemReads:
    """Pure ASGI middleware that serves cache hits of the `read_item` route."""

    innermost: ClassVar[bool] = True

    def __init__(self, app: ASGIApp, service: FastAPI) -> None:
        self.app = app
        self._service = service
        # As served: with the dependencies of every router it is included in, and the app's.
        route = next(r for r in iter_route_contexts(service.routes) if r.name == ROUTE_NAME)
        self.route = str(route.path_format)
        self._prefix = self.route.removesuffix("{item_id}")
        skipped = unhonoured(route.dependant)
        self.enabled = not skipped
        if skipped:
            logger.warning(
                "cached reads of %s go through the route: it depends on %s, which answering "
                "before routing would skip",
                self.route,
                ", ".join(skipped),
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or self._service.dependency_overrides:
            await self.app(scope, receive, send)
            return
        response = await self._cached_response(scope)
        if response is None:
            await self.app(scope, receive, send)
            return
        scope[ROUTE_TEMPLATE] = self.route
        await response(scope, receive, send)

    async def _cached_response(self, scope: Scope) -> Response | None:
        prefix = scope.get("root_path", "") + self._prefix
        path: str = scope["path"]
        if scope["method"] != "GET" or not path.startswith(prefix):
            return None
        text = path[len(prefix) :]
        try:
            item_id = UUID(text)
        except ValueError:
            return None
        if str(item_id) != text:
            return None
        state: AppState = self._service.state.resources
        body = await state.cache.peek(cache_key(item_id))
        if body is None:
            return None
        decision = await api_rate_limit.apply(Request(scope))
        if decision is not None and not decision.admitted:
            return None
        record_cache_hit()
        return Response(body, media_type="application/json")
