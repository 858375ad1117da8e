"""Cached item reads answered before routing (cache/fast_reads.py): the route's answers,
its dependencies applied, for less."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from uuid import UUID

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, status
from httpx import AsyncClient, Response
from prometheus_client import REGISTRY
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orders_service.config import Settings
from orders_service.items.router import (
    read_item,
)
from orders_service.items.router import (
    router as items_router,
)
from orders_service.items.schemas import (
    ItemCreate,
    ItemRead,
)
from orders_service.items.service import (
    ItemService,
    cache_key,
)
from orders_service.main import create_app
from orders_service.ratelimit.limiter import LimitedRoute
from orders_service.state import app_state
from tests.apps import client_of, delete_all_rows, running_app
from tests.factories import item_payload
from tests.logs import ACCESS_LOGGER, LogLines

ITEMS = "/api/v1/items"
ROUTE = "/api/v1/items/{item_id}"


@pytest.fixture
def routed_reads(monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids of the reads that reached the route."""
    reads: list[UUID] = []
    get_json = ItemService.get_json

    async def counted(self: ItemService, item_id: UUID) -> bytes:
        reads.append(item_id)
        return await get_json(self, item_id)

    monkeypatch.setattr(ItemService, "get_json", counted)
    return reads


async def create_item(client: AsyncClient, name: str = "Cached") -> dict[str, Any]:
    response = await client.post(ITEMS, json=item_payload(name=name))
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def header_names(response: Response) -> list[bytes]:
    return [name for name, _ in response.headers.raw]


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_cached_item_gets_the_routes_answer_without_the_route(
    client: AsyncClient, routed_reads: list[UUID]
) -> None:
    item = await create_item(client)
    url = f"{ITEMS}/{item['id']}"

    routed = await client.get(url)  # a miss: the route loads the item and caches it
    answered = await client.get(url)

    assert routed_reads == [UUID(item["id"])]
    assert answered.status_code == routed.status_code == 200
    assert answered.content == routed.content
    assert answered.json() == item
    assert header_names(answered) == header_names(routed)
    for same in ("content-type", "content-length", "ratelimit-limit"):
        assert answered.headers[same] == routed.headers[same], same
    reset = int(routed.headers["ratelimit-reset"])  # whole seconds: the clock may tick between
    assert int(answered.headers["ratelimit-reset"]) in (reset, reset - 1)
    remaining = int(routed.headers["ratelimit-remaining"])
    assert int(answered.headers["ratelimit-remaining"]) == remaining - 1
    assert answered.headers["x-request-id"] != routed.headers["x-request-id"]


async def test_other_spellings_of_an_id_are_left_to_the_route(
    client: AsyncClient, routed_reads: list[UUID]
) -> None:
    item = await create_item(client)
    item_id = UUID(item["id"])
    await client.get(f"{ITEMS}/{item_id}")

    upper = await client.get(f"{ITEMS}/{str(item_id).upper()}")
    unhyphenated = await client.get(f"{ITEMS}/{item_id.hex}")
    malformed = await client.get(f"{ITEMS}/{str(item_id)[:-1]}x")

    assert (upper.status_code, unhyphenated.status_code, malformed.status_code) == (200, 200, 422)
    assert upper.json() == unhyphenated.json() == item
    assert routed_reads == [item_id, item_id, item_id]


async def test_absent_items_and_other_methods_are_left_to_the_route(
    client: AsyncClient, routed_reads: list[UUID]
) -> None:
    absent = UUID(int=1)
    item = await create_item(client)
    url = f"{ITEMS}/{item['id']}"
    await client.get(url)

    not_found = [await client.get(f"{ITEMS}/{absent}") for _ in range(2)]
    renamed = await client.patch(url, json={"name": "Renamed"})
    reread = await client.get(url)

    assert [r.status_code for r in not_found] == [404, 404], "the second from the negative cache"
    assert not_found[1].headers["content-type"] == "application/problem+json"
    assert renamed.status_code == 200
    assert reread.json()["name"] == "Renamed"
    assert routed_reads == [UUID(item["id"]), absent, absent, UUID(item["id"])]


@pytest.mark.settings(access_log="all")
async def test_metrics_and_the_access_log_name_the_route(
    client: AsyncClient, log_lines: LogLines
) -> None:
    item = await create_item(client)
    url = f"{ITEMS}/{item['id']}"
    await client.get(url)
    labels = {"method": "GET", "route": ROUTE, "status_class": "2xx"}
    requests = sample("http_server_requests_total", labels)
    hits = sample("cache_requests_total", {"result": "hit"})
    misses = sample("cache_requests_total", {"result": "miss"})

    await client.get(url)

    assert sample("http_server_requests_total", labels) == requests + 1
    assert sample("cache_requests_total", {"result": "hit"}) == hits + 1
    assert sample("cache_requests_total", {"result": "miss"}) == misses
    access = [line for line in log_lines() if line["logger"] == ACCESS_LOGGER]
    assert access[-1]["route"] == ROUTE
    assert access[-1]["status"] == 200


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    """A client of an app that admits four requests per client per minute."""
    limited = settings.model_copy(update={"cache_url": "memory://", "rate_limit_requests": 4})
    async with running_app(limited) as app:
        async with client_of(app) as client:
            yield client
        await delete_all_rows(app_state(app))


async def test_each_read_counts_once_against_the_rate_limit(
    limited_client: AsyncClient, routed_reads: list[UUID]
) -> None:
    item = await create_item(limited_client)
    url = f"{ITEMS}/{item['id']}"
    refusals = sample("rate_limit_rejected_requests_total", {"scope": "api"})

    reads = [await limited_client.get(url) for _ in range(4)]

    assert [r.status_code for r in reads] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in reads] == ["2", "1", "0", "0"]
    refused = reads[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert sample("rate_limit_rejected_requests_total", {"scope": "api"}) == refusals + 1
    assert routed_reads == [UUID(item["id"])], "refused by the route before it reads"


async def test_reads_under_a_root_path_are_answered_too(
    app: FastAPI, routed_reads: list[UUID]
) -> None:
    async with client_of(app, root_path="/orders") as client:
        item = await create_item(client)
        url = f"/orders{ITEMS}/{item['id']}"

        reads = [await client.get(url) for _ in range(2)]

    assert [r.json() for r in reads] == [item, item]
    assert len(routed_reads) == 1


async def require_token(x_api_key: Annotated[str | None, Header()] = None) -> None:
    """What a team adds to protect its API (an API key here): no key, no answer."""
    if x_api_key != TOKEN:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "An API key is required.")


class TokenMiddleware:
    """The same check as middleware inside the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if scope["type"] == "http" and headers.get("x-api-key") != TOKEN:
            await PlainTextResponse("token required", 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


TOKEN = "s3cret"
AUTH = Depends(require_token)


def at_app() -> dict[str, Any]:
    return {"dependencies": [AUTH]}


def at_api_router() -> dict[str, Any]:
    api = APIRouter(prefix="/api/v1", dependencies=[AUTH])
    api.include_router(items_router)
    return {"api": api}


def at_items_router() -> dict[str, Any]:
    items = APIRouter(dependencies=[AUTH])
    items.include_router(items_router)
    api = APIRouter(prefix="/api/v1")
    api.include_router(items)
    return {"api": api}


def at_the_route() -> dict[str, Any]:
    """read_item declared with one dependency more, as a team would add it to the decorator."""
    items = APIRouter(
        prefix=items_router.prefix,
        dependencies=items_router.dependencies,
        route_class=LimitedRoute,
    )
    items.add_api_route(
        "/{item_id}", read_item, name="read_item", response_model=ItemRead, dependencies=[AUTH]
    )
    api = APIRouter(prefix="/api/v1")
    api.include_router(items)
    return {"api": api}


async def read_a_cached_item_without_a_token(app: FastAPI, client: AsyncClient) -> Response:
    """Cache an item by reading it with the token, then read it without one."""
    state = app_state(app)
    item = await ItemService(state.session_factory, state.cache).create(
        ItemCreate(**item_payload(name="Kept"))
    )
    url = f"{ITEMS}/{item.id}"
    with_token = [await client.get(url, headers={"x-api-key": TOKEN}) for _ in range(2)]
    assert [r.status_code for r in with_token] == [200, 200]
    cached = await state.cache.peek(cache_key(item.id))
    assert cached is not None, "the read was not cached: a refusal would prove nothing"
    without = await client.get(url)
    await delete_all_rows(state)
    return without


@pytest.mark.parametrize("protected", [at_app, at_api_router, at_items_router, at_the_route])
async def test_a_dependency_at_any_level_refuses_a_cached_read_without_it(
    settings: Settings, protected: Callable[[], dict[str, Any]], routed_reads: list[UUID]
) -> None:
    async with running_app(settings, **protected()) as app, client_of(app) as client:
        without = await read_a_cached_item_without_a_token(app, client)

    assert len(routed_reads) == 1, "the second read with the token was answered from the cache"
    assert without.status_code == 401
    assert without.headers["content-type"] == "application/problem+json"
    assert "Kept" not in without.text


async def test_middleware_added_in_any_order_sees_cached_reads(settings: Settings) -> None:
    app = create_app(settings)
    # At the end of the list: where middleware added before the fast path would be.
    app.user_middleware.append(Middleware(TokenMiddleware))
    async with app.router.lifespan_context(app), client_of(app) as client:
        without = await read_a_cached_item_without_a_token(app, client)

    assert (without.status_code, without.text) == (401, "token required")
