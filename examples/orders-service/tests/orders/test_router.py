"""The orders API over HTTP: status codes, bodies and problem+json errors."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.apps import client_of
from tests.orders.factories import order_payload

URL = "/api/v1/orders"
PROBLEM = "application/problem+json"


class TestCreate:
    async def test_returns_the_new_order(self, client: AsyncClient) -> None:
        response = await client.post(URL, json=order_payload(name="First"))

        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "First"
        assert body["created_at"].endswith(("Z", "+00:00"))
        assert response.headers["location"] == f"{URL}/{body['id']}"

    async def test_location_is_under_the_root_path(self, app: FastAPI) -> None:
        async with client_of(app, root_path="/service") as client:
            created = await client.post(f"/service{URL}", json=order_payload())
            location = created.headers["location"]

            assert location == f"/service{URL}/{created.json()['id']}"
            assert (await client.get(location)).json() == created.json()

    async def test_duplicate_name_is_a_conflict(self, client: AsyncClient) -> None:
        await client.post(URL, json=order_payload(name="First"))

        response = await client.post(URL, json=order_payload(name="First"))

        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["detail"] == "An order named 'First' already exists."

    async def test_surrounding_whitespace_is_refused_not_stripped(
        self, client: AsyncClient
    ) -> None:
        response = await client.post(URL, json=order_payload(name=" First "))

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"] == [
            {
                "loc": ["body", "name"],
                "msg": "must not start or end with whitespace, or contain a line break",
                "type": "string_pattern_mismatch",
            }
        ]

    @pytest.mark.parametrize("name", ["\u0085", "First\u2028line", "\ufeffFirst", "\u00a0"])
    async def test_names_are_refused_as_the_schema_says(
        self, client: AsyncClient, name: str
    ) -> None:
        """Whitespace as the schema (ECMAScript) reads it, where Python and Rust differ."""
        response = await client.post(URL, json=order_payload(name=name))

        assert response.status_code == 422

    async def test_invalid_body_lists_each_error(self, client: AsyncClient) -> None:
        response = await client.post(URL, json={"name": "", "colour": "red"})

        assert response.status_code == 422
        locations = [error["loc"] for error in response.json()["errors"]]
        assert ["body", "name"] in locations
        assert ["body", "colour"] in locations

    async def test_a_body_that_is_not_json_is_a_bad_request(self, client: AsyncClient) -> None:
        response = await client.post(
            URL, content=b"{", headers={"content-type": "application/json"}
        )

        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM


class TestRead:
    async def test_returns_the_order(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload())).json()

        response = await client.get(f"{URL}/{created['id']}")

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        order_id = uuid4()

        response = await client.get(f"{URL}/{order_id}")

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"Order {order_id} does not exist.",
            "instance": f"{URL}/{order_id}",
        }

    async def test_malformed_id_is_unprocessable(self, client: AsyncClient) -> None:
        response = await client.get(f"{URL}/not-a-uuid")

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM


class TestList:
    async def test_pages_in_creation_order(self, client: AsyncClient) -> None:
        names = [f"Paged {n}" for n in range(5)]
        for name in names:
            await client.post(URL, json=order_payload(name=name))

        response = await client.get(URL, params={"limit": 2, "offset": 2})

        body = response.json()
        assert response.status_code == 200
        assert [entry["name"] for entry in body["items"]] == names[2:4]
        assert (body["total"], body["limit"], body["offset"]) == (5, 2, 2)

    async def test_an_empty_list_is_a_page_too(self, client: AsyncClient) -> None:
        response = await client.get(URL)

        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}

    async def test_limit_and_offset_are_bounded(self, client: AsyncClient) -> None:
        too_many = await client.get(URL, params={"limit": 101})
        too_deep = await client.get(URL, params={"offset": 10_001})

        assert (too_many.status_code, too_deep.status_code) == (422, 422)
        assert too_many.headers["content-type"] == PROBLEM


class TestUpdate:
    async def test_changes_only_given_fields(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload(description="old"))).json()

        response = await client.patch(f"{URL}/{created['id']}", json={"description": "new"})

        assert response.status_code == 200
        assert response.json()["name"] == created["name"]
        assert response.json()["description"] == "new"

    async def test_is_visible_to_the_next_read(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload())).json()
        await client.get(f"{URL}/{created['id']}")

        await client.patch(f"{URL}/{created['id']}", json={"name": "Renamed"})

        assert (await client.get(f"{URL}/{created['id']}")).json()["name"] == "Renamed"

    async def test_taking_another_orders_name_is_a_conflict(self, client: AsyncClient) -> None:
        await client.post(URL, json=order_payload(name="First"))
        second = (await client.post(URL, json=order_payload(name="Second"))).json()

        response = await client.patch(f"{URL}/{second['id']}", json={"name": "First"})

        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM

    async def test_keeping_its_own_name_is_no_conflict(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload(name="Same"))).json()

        response = await client.patch(f"{URL}/{created['id']}", json={"name": "Same"})

        assert response.status_code == 200

    async def test_name_cannot_be_null(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload())).json()

        response = await client.patch(f"{URL}/{created['id']}", json={"name": None})

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        response = await client.patch(f"{URL}/{uuid4()}", json={"description": "x"})

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


class TestDelete:
    async def test_removes_the_order(self, client: AsyncClient) -> None:
        created = (await client.post(URL, json=order_payload())).json()
        await client.get(f"{URL}/{created['id']}")

        response = await client.delete(f"{URL}/{created['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert "content-type" not in response.headers
        assert "content-length" not in response.headers
        assert (await client.get(f"{URL}/{created['id']}")).status_code == 404

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        response = await client.delete(f"{URL}/{uuid4()}")

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
