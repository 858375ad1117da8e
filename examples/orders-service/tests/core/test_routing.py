"""Resolved routes answer every request as FastAPI's included routers would, dependencies
at every level included, and stand in for no route their router could treat otherwise."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import fastapi.dependencies.utils
import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

from orders_service.core.routing import (
    ROUTE_TEMPLATE,
    ResolvedRoute,
    resolve_routes,
)
from tests.apps import client_of

calls: list[str] = []
templates: list[str | None] = []


def recorded(level: str) -> Callable[[], Coroutine[Any, Any, None]]:
    async def record() -> None:
        calls.append(level)

    return record


async def require_key(request: Request) -> None:
    if request.headers.get("x-key") != "open":
        raise HTTPException(401, "a key is required")


class Thing(BaseModel):
    name: str


def make_app(*, resolved: bool) -> FastAPI:
    """Routes two routers deep under /api/v1, a dependency at every level."""
    things = APIRouter(prefix="/things", dependencies=[Depends(recorded("things router"))])

    @things.get("/{thing_id:int}", dependencies=[Depends(recorded("route"))])
    async def read_thing(thing_id: int, request: Request) -> dict[str, Any]:
        templates.append(request.scope.get(ROUTE_TEMPLATE))
        return {"id": thing_id, "url": str(request.url_for("read_thing", thing_id=thing_id))}

    @things.put("/{thing_id:int}", status_code=202)
    async def replace_thing(thing_id: int, thing: Thing) -> Thing:
        return thing

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(recorded("api router"))])
    api.include_router(things, dependencies=[Depends(require_key)])
    app = FastAPI(dependencies=[Depends(recorded("app"))])

    @app.get("/own")
    async def own() -> dict[str, str]:
        return {"route": "the app's own"}

    app.include_router(api)
    if resolved:
        app.router.routes[:] = resolve_routes(app.router.routes)
    return app


REQUESTS = [
    ("GET", "/api/v1/things/7", {"x-key": "open"}, None),
    ("GET", "/api/v1/things/7", {}, None),  # refused by the inclusion's dependency
    ("GET", "/api/v1/things/seven", {"x-key": "open"}, None),  # the convertor refuses it
    ("GET", "/api/v1/things/7/", {"x-key": "open"}, None),  # redirected without the slash
    ("DELETE", "/api/v1/things/7", {"x-key": "open"}, None),  # 405, with Allow
    ("PUT", "/api/v1/things/7", {"x-key": "open"}, {"name": "kept"}),
    ("PUT", "/api/v1/things/7", {"x-key": "open"}, {"title": "no name"}),  # 422
    ("GET", "/own", {}, None),
    ("GET", "/nowhere", {}, None),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), REQUESTS)
async def test_resolved_routes_answer_as_included_routers_do(
    method: str, path: str, headers: dict[str, str], body: dict[str, str] | None
) -> None:
    answers = []
    for resolved in (False, True):
        calls.clear()
        async with client_of(make_app(resolved=resolved)) as client:
            response = await client.request(method, path, headers=headers, json=body)
        answers.append((response.status_code, dict(response.headers), response.text, list(calls)))

    assert answers[1] == answers[0]


async def test_a_resolved_route_runs_every_level_s_dependencies_and_names_its_template() -> None:
    calls.clear()
    templates.clear()
    async with client_of(make_app(resolved=True)) as client:
        response = await client.get("/api/v1/things/7", headers={"x-key": "open"})

    assert response.json() == {"id": 7, "url": "http://testserver/api/v1/things/7"}
    assert calls == ["app", "api router", "things router", "route"]
    assert templates == ["/api/v1/things/{thing_id}"]


def test_included_routes_are_resolved_in_front_of_their_routers() -> None:
    app = make_app(resolved=True)

    kinds = [
        (type(route).__name__, getattr(route, "path", None), getattr(route, "methods", None))
        for route in app.router.routes
        if not isinstance(route, APIRoute) or route.path == "/own"
    ]

    assert kinds[-4:] == [
        ("APIRoute", "/own", {"GET"}),
        ("ResolvedRoute", "/api/v1/things/{thing_id:int}", {"GET"}),
        ("ResolvedRoute", "/api/v1/things/{thing_id:int}", {"PUT"}),
        ("_IncludedRouter", None, None),
    ]


def resolved_paths(routes: list[BaseRoute]) -> list[str]:
    return [route.path for route in resolve_routes(routes) if isinstance(route, ResolvedRoute)]


class OwnMatching(APIRoute):
    """A route class that handles requests its own way."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Response("handled my way")(scope, receive, send)


async def endpoint() -> None:
    """An endpoint for routes that are declared, never called."""


def test_resolving_stops_where_the_router_could_route_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Declared, never called: the service does not depend on python-multipart.
    monkeypatch.setattr(fastapi.dependencies.utils, "ensure_multipart_is_installed", lambda: None)
    mounted = APIRouter()
    mounted.add_api_route("/before", endpoint)
    mounted.mount("/static", Mount("/", routes=[]))
    mounted.add_api_route("/after", endpoint)
    handled = APIRouter(route_class=OwnMatching)
    handled.add_api_route("/own-way", endpoint)
    forms = APIRouter()

    @forms.post("/form")
    async def upload(name: Annotated[str, Form()]) -> None: ...

    forms.add_api_route("/after-the-form", endpoint)
    app = FastAPI()
    for router in (mounted, handled, forms):
        app.include_router(router, prefix="/r")

    assert resolved_paths(app.router.routes) == ["/r/before"]


async def test_every_route_of_the_service_is_resolved(app: FastAPI, client: AsyncClient) -> None:
    await client.get("/livez")  # the app resolves its routes when it serves the first request

    own = {id(route) for route in app.router.routes}
    included = [
        context.path
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and id(context.original_route) not in own
    ]
    resolved = [route.path for route in app.router.routes if isinstance(route, ResolvedRoute)]
    assert included
    assert resolved == included
