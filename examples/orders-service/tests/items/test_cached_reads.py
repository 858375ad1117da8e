"""Cached item reads answered before routing: the route's answers, for less."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from httpx import AsyncClient, Response
from prometheus_client import REGISTRY

from orders_service.api.deps import get_state
from orders_service.config import Settings
from orders_service.items.dependencies import (
    get_item_service,
)
from orders_service.items.router import (
    router as items_router,
)
from orders_service.items.service import ItemService
from orders_service.rate_limit import api_rate_limit
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
    for same in ("content-type", "content-length", "ratelimit-limit", "ratelimit-reset"):
        assert answered.headers[same] == routed.headers[same], same
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
        await delete_all_rows(app.state.resources)


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


def calls(dependant: Dependant) -> set[object]:
    return {dependant.call} | {call for sub in dependant.dependencies for call in calls(sub)}


def test_answered_reads_skip_no_dependency_of_the_route() -> None:
    """The middleware applies the rate limit and reads the state itself: a dependency added
    to the route (authentication, say) must be added to items/cached_reads.py too.
    """
    route = next(
        r for r in items_router.routes if isinstance(r, APIRoute) and r.name == "read_item"
    )

    assert calls(route.dependant) - {route.endpoint} == {
        api_rate_limit,
        get_item_service,
        get_state,
    }
