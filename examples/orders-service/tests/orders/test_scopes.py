"""Every orders route needs an access token with its scope."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi import FastAPI

from tests.apps import client_of
from tests.oidc import running_provider

URL = "/api/v1/orders"
ONE = f"{URL}/{uuid4()}"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", URL, "orders:read"),
        ("GET", ONE, "orders:read"),
        ("POST", URL, "orders:write"),
        ("PATCH", ONE, "orders:write"),
        ("DELETE", ONE, "orders:write"),
    ],
)
async def test_each_route_needs_its_scope(app: FastAPI, method: str, path: str, scope: str) -> None:
    other = "orders:write" if scope.endswith(":read") else "orders:read"
    token = running_provider().token(other)
    async with client_of(app, authorized=False) as client:
        anonymous = await client.request(method, path)
        lacking = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})

    assert anonymous.status_code == 401
    assert lacking.status_code == 403
    assert (
        lacking.headers["www-authenticate"] == f'Bearer error="insufficient_scope", scope="{scope}"'
    )
