"""One routing table for the app: the routes of included routers, matched where they are.

FastAPI serves an included router in place: every request it handles is matched against
the router's routes twice, at each level of inclusion, and the router's state is looked up
on the way (about 90 function calls a level; a domain's route, two levels down under
/api/v1, pays a third more than the whole of a plain route). Yet inclusion has already
resolved each route: its whole path, its dependencies at every level, its handler.
`resolve_routes` puts those resolved routes in front of the routers they came from, so one
match of the path finds a route; the routers stay behind them for OpenAPI, `url_for` and
whatever cannot be resolved. A route is not resolved, nor any after it in its router (so
routing order never changes), when its router could treat it otherwise: a mount, a
websocket, a form body (routers may set form limits) or a route class that matches or
handles requests its own way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import HTTPException, params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

# Where code that answers a request names the route template it answered for: a resolved
# route's whole path, where FastAPI's matched route knows its own part only.
ROUTE_TEMPLATE = "route_template"


class ResolvedRoute(BaseRoute):
    """An included router's route as inclusion resolved it, matched and handled directly."""

    def __init__(self, context: RouteContext) -> None:
        self.route = context.original_route
        self.path = str(context.path)
        self.path_format = str(context.path_format)
        self.name = context.name
        self.methods: set[str] = set(context.methods or ())
        self._context = context
        self._matches = context.matches
        self.app = context.app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = self._matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self.route
            child_scope[ROUTE_TEMPLATE] = self.path_format
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            # As FastAPI's own routes refuse a method they do not serve, inside an app.
            raise HTTPException(405, headers={"Allow": ", ".join(self.methods)})
        await self.app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        url: URLPath = self._context.url_path_for(name, **path_params)
        return url


def resolve_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """`routes`, each included router preceded by the routes it resolves."""
    resolved: list[BaseRoute] = []
    for route in routes:
        resolved += _resolved(route)
        resolved.append(route)
    return resolved


def _resolved(route: BaseRoute) -> Iterator[ResolvedRoute]:
    """The routes an included router resolves, in order, up to the first it cannot."""
    for context in iter_route_contexts([route]):
        if context.original_route is route:
            return  # not an included router: a route of the app itself, already flat
        if not _resolvable(context):
            return
        yield ResolvedRoute(context)


def _resolvable(context: RouteContext) -> bool:
    route = context.original_route
    if not isinstance(route, APIRoute):
        return False
    if type(route).matches is not APIRoute.matches or type(route).handle is not APIRoute.handle:
        return False
    body = getattr(context, "body_field", None)
    return not isinstance(getattr(body, "field_info", None), params.Form)
