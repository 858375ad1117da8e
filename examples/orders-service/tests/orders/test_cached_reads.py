"""Cached order reads answered before routing (cache/fast_reads.py): the route's answer,
with every dependency of the route applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, status
from httpx import AsyncClient, Response

from orders_service.config import Settings
from orders_service.orders.router import router as orders_router
from orders_service.orders.schemas import OrderCreate
from orders_service.orders.service import OrderService, cache_key
from orders_service.state import app_state
from tests.apps import client_of, delete_all_rows, running_app
from tests.orders.factories import order_payload

URL = "/api/v1/orders"
TOKEN = "s3cret"


@pytest.fixture
def routed_reads(monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids of the reads that reached the route."""
    reads: list[UUID] = []
    get_json = OrderService.get_json

    async def counted(self: OrderService, order_id: UUID) -> bytes:
        reads.append(order_id)
        return await get_json(self, order_id)

    monkeypatch.setattr(OrderService, "get_json", counted)
    return reads


async def test_a_cached_order_gets_the_routes_answer_without_the_route(
    client: AsyncClient, routed_reads: list[UUID]
) -> None:
    created = (await client.post(URL, json=order_payload())).json()
    url = f"{URL}/{created['id']}"

    routed = await client.get(url)  # a miss: the route loads it and caches it
    answered = await client.get(url)

    assert routed_reads == [UUID(created["id"])]
    assert answered.status_code == routed.status_code == 200
    assert answered.content == routed.content
    assert answered.json() == created
    for same in ("content-type", "content-length", "ratelimit-limit"):
        assert answered.headers[same] == routed.headers[same], same


async def test_other_spellings_of_an_id_are_left_to_the_route(
    client: AsyncClient, routed_reads: list[UUID]
) -> None:
    created = (await client.post(URL, json=order_payload())).json()
    order_id = UUID(created["id"])
    await client.get(f"{URL}/{order_id}")

    upper = await client.get(f"{URL}/{str(order_id).upper()}")

    assert upper.json() == created
    assert routed_reads == [order_id, order_id]


async def require_token(x_api_key: Annotated[str | None, Header()] = None) -> None:
    """What a team adds to protect its API (an API key here): no key, no answer."""
    if x_api_key != TOKEN:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "An API key is required.")


AUTH = Depends(require_token)


def at_app() -> dict[str, Any]:
    return {"dependencies": [AUTH]}


def at_api_router() -> dict[str, Any]:
    api = APIRouter(prefix="/api/v1", dependencies=[AUTH])
    api.include_router(orders_router)
    return {"api": api}


def at_the_domains_router() -> dict[str, Any]:
    protected = APIRouter(dependencies=[AUTH])
    protected.include_router(orders_router)
    api = APIRouter(prefix="/api/v1")
    api.include_router(protected)
    return {"api": api}


async def read_a_cached_order_without_a_token(app: FastAPI, client: AsyncClient) -> Response:
    """Cache an order by reading it with the token, then read it without one."""
    state = app_state(app)
    service = OrderService(state.session_factory, state.cache)
    created = await service.create(OrderCreate(**order_payload(name="Kept")))
    url = f"{URL}/{created.id}"
    with_token = [await client.get(url, headers={"x-api-key": TOKEN}) for _ in range(2)]
    assert [r.status_code for r in with_token] == [200, 200]
    assert await state.cache.peek(cache_key(created.id)) is not None, "not cached: proves nothing"
    without = await client.get(url)
    await delete_all_rows(state)
    return without


@pytest.mark.parametrize("protected", [at_app, at_api_router, at_the_domains_router])
async def test_a_dependency_added_above_the_route_refuses_a_cached_read_without_it(
    settings: Settings, protected: Callable[[], dict[str, Any]], routed_reads: list[UUID]
) -> None:
    async with running_app(settings, **protected()) as app, client_of(app) as client:
        without = await read_a_cached_order_without_a_token(app, client)

    assert len(routed_reads) == 1, "the second read with the token was answered from the cache"
    assert without.status_code == 401
    assert without.headers["content-type"] == "application/problem+json"
    assert "Kept" not in without.text
