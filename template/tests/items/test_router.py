"""The items API over HTTP: status codes, bodies and problem+json errors."""

from __future__ import annotations

from uuid import uuid4

from fastapi import FastAPI
from httpx import AsyncClient

from tests.apps import client_of
from tests.factories import item_payload

ITEMS = "/api/v1/items"


class TestCreate:
    async def test_returns_the_new_item(self, client: AsyncClient) -> None:
        response = await client.post(ITEMS, json=item_payload(name="Widget"))

        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "Widget"
        assert body["created_at"].endswith(("Z", "+00:00"))
        assert response.headers["location"] == f"{ITEMS}/{body['id']}"

    async def test_location_is_under_the_root_path(self, app: FastAPI) -> None:
        async with client_of(app, root_path="/orders") as client:
            created = await client.post(f"/orders{ITEMS}", json=item_payload())
            location = created.headers["location"]

            assert location == f"/orders{ITEMS}/{created.json()['id']}"
            assert (await client.get(location)).json() == created.json()

    async def test_duplicate_name_is_a_conflict(self, client: AsyncClient) -> None:
        await client.post(ITEMS, json=item_payload(name="Widget"))

        response = await client.post(ITEMS, json=item_payload(name="Widget"))

        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "An item named 'Widget' already exists."

    async def test_surrounding_whitespace_is_refused_not_stripped(
        self, client: AsyncClient
    ) -> None:
        response = await client.post(ITEMS, json=item_payload(name=" Widget "))

        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "loc": ["body", "name"],
                "msg": "must not start or end with whitespace, or contain a line break",
                "type": "string_pattern_mismatch",
            }
        ]

    async def test_invalid_body_lists_each_error(self, client: AsyncClient) -> None:
        response = await client.post(ITEMS, json={"name": "", "colour": "red"})

        assert response.status_code == 422
        locations = [error["loc"] for error in response.json()["errors"]]
        assert ["body", "name"] in locations
        assert ["body", "colour"] in locations


class TestRead:
    async def test_returns_the_item(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()

        response = await client.get(f"{ITEMS}/{created['id']}")

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        item_id = uuid4()

        response = await client.get(f"{ITEMS}/{item_id}")

        assert response.status_code == 404
        assert response.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"Item {item_id} does not exist.",
            "instance": f"{ITEMS}/{item_id}",
        }

    async def test_malformed_id_is_unprocessable(self, client: AsyncClient) -> None:
        response = await client.get(f"{ITEMS}/not-a-uuid")

        assert response.status_code == 422


class TestList:
    async def test_pages_in_creation_order(self, client: AsyncClient) -> None:
        names = [f"Page item {n}" for n in range(5)]
        for name in names:
            await client.post(ITEMS, json=item_payload(name=name))

        response = await client.get(ITEMS, params={"limit": 2, "offset": 2})

        body = response.json()
        assert response.status_code == 200
        assert [item["name"] for item in body["items"]] == names[2:4]
        assert (body["total"], body["limit"], body["offset"]) == (5, 2, 2)

    async def test_limit_is_bounded(self, client: AsyncClient) -> None:
        response = await client.get(ITEMS, params={"limit": 101})

        assert response.status_code == 422


class TestUpdate:
    async def test_changes_only_given_fields(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload(description="old"))).json()

        response = await client.patch(f"{ITEMS}/{created['id']}", json={"description": "new"})

        assert response.status_code == 200
        assert response.json()["name"] == created["name"]
        assert response.json()["description"] == "new"

    async def test_is_visible_to_the_next_read(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()
        await client.get(f"{ITEMS}/{created['id']}")

        await client.patch(f"{ITEMS}/{created['id']}", json={"name": "Renamed"})

        assert (await client.get(f"{ITEMS}/{created['id']}")).json()["name"] == "Renamed"

    async def test_taking_another_items_name_is_a_conflict(self, client: AsyncClient) -> None:
        await client.post(ITEMS, json=item_payload(name="First"))
        second = (await client.post(ITEMS, json=item_payload(name="Second"))).json()

        response = await client.patch(f"{ITEMS}/{second['id']}", json={"name": "First"})

        assert response.status_code == 409

    async def test_a_name_with_a_line_break_is_refused_in_words(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()

        response = await client.patch(f"{ITEMS}/{created['id']}", json={"name": "Two\nlines"})

        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "loc": ["body", "name"],
                "msg": "must not start or end with whitespace, or contain a line break",
                "type": "string_pattern_mismatch",
            }
        ]

    async def test_name_cannot_be_null(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()

        response = await client.patch(f"{ITEMS}/{created['id']}", json={"name": None})

        assert response.status_code == 422

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        response = await client.patch(f"{ITEMS}/{uuid4()}", json={"description": "x"})

        assert response.status_code == 404


class TestDelete:
    async def test_removes_the_item(self, client: AsyncClient) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()
        await client.get(f"{ITEMS}/{created['id']}")

        response = await client.delete(f"{ITEMS}/{created['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert "content-type" not in response.headers
        assert "content-length" not in response.headers
        assert (await client.get(f"{ITEMS}/{created['id']}")).status_code == 404

    async def test_unknown_id_is_not_found(self, client: AsyncClient) -> None:
        response = await client.delete(f"{ITEMS}/{uuid4()}")

        assert response.status_code == 404
