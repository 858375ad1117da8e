"""Every error leaves the API as RFC 9457 problem+json."""

from __future__ import annotations

from uuid import UUID

import pytest
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

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == (
        "The body is not valid JSON: Expecting property name enclosed in double quotes"
        " at character 1."
    )


@pytest.mark.parametrize(
    ("method", "path", "accept"),
    [
        ("POST", "/api/v1/items", "accept-post"),
        ("PATCH", f"/api/v1/items/{UUID(int=1)}", "accept-patch"),
    ],
)
async def test_a_body_not_sent_as_json_is_unsupported(
    client: AsyncClient, method: str, path: str, accept: str
) -> None:
    body = b'{"name": "Widget"}'

    plain = await client.request(method, path, content=body, headers={"content-type": "text/plain"})
    unlabelled = await client.request(method, path, content=body)

    assert (plain.status_code, unlabelled.status_code) == (415, 415)
    assert plain.headers["content-type"] == PROBLEM
    assert plain.headers[accept] == "application/json"
    assert plain.json()["detail"] == "The body must be application/json, not text/plain."
    assert unlabelled.json()["detail"] == "The body must be application/json."


def test_operations_taking_a_body_document_its_refusals(app: FastAPI) -> None:
    operations = [
        (method, path, operation)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]

    assert operations
    for method, path, operation in operations:
        assert {"400", "415", "422"} <= operation["responses"].keys(), (method, path)


async def test_json_with_a_structured_suffix_is_json(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/items",
        content=b'{"name": "Suffixed"}',
        headers={"content-type": "application/merge-patch+json"},
    )

    assert response.status_code == 201


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
