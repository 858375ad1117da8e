"""Every error leaves the API as RFC 9457 problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient

PROBLEM = "application/problem+json"


async def test_unknown_route(client: AsyncClient) -> None:
    response = await client.get("/no-such-route")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Not Found"


async def test_wrong_method_keeps_the_allow_header(client: AsyncClient) -> None:
    response = await client.put("/livez")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == PROBLEM


async def test_wrong_method_lists_every_method_of_the_path(client: AsyncClient) -> None:
    response = await client.put("/api/v1/items")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_malformed_json_is_a_bad_request(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/items", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM


async def test_unexpected_error_hides_its_cause(app: FastAPI, client: AsyncClient) -> None:
    @app.get("/boom")
    async def boom() -> None:
        msg = "database password is hunter2"
        raise RuntimeError(msg)

    response = await client.get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "instance": "/boom",
    }
