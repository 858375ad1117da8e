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

Dependency overrides of the route do not apply to the reads answered here.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..metrics import record_cache_hit
from ..middleware import ROUTE_TEMPLATE
from ..rate_limit import api_rate_limit
from ..state import AppState
from .service import cache_key


class CachedItemReads:
    """Pure ASGI middleware that serves cache hits of the `read_item` route."""

    def __init__(self, app: ASGIApp, service: FastAPI) -> None:
        self.app = app
        self._service = service
        self.route = service.url_path_for("read_item", item_id="{item_id}")
        self._prefix = self.route.removesuffix("{item_id}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._cached_response(scope) if scope["type"] == "http" else None
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
