"""A realistic mix for the items API: mostly reads of hot, cached items; some lists and writes."""

from __future__ import annotations

import os
import random
import uuid
from http import HTTPStatus
from typing import ClassVar

from locust import FastHttpUser, between, task

ITEMS = "/api/v1/items"
# Requests are grouped in the report by route, not by the id each one asks for.
ITEM_ROUTE = ITEMS + "/{item_id}"


class ItemsUser(FastHttpUser):
    wait_time = between(0.01, 0.1)
    # The access token loadtests/run.py got from the local OpenID provider, on every request.
    default_headers: ClassVar[dict[str, str] | None] = {
        "Authorization": f"Bearer {os.environ['LOAD_ACCESS_TOKEN']}"
    }

    def on_start(self) -> None:
        self.item_ids: list[str] = []
        for _ in range(5):
            self.create_item()

    @task(16)
    def read_hot_item(self) -> None:
        """Most traffic: a few popular items, served from the cache after the first read."""
        item_id = random.choice(self.item_ids[:3])  # noqa: S311 - load shape, not security
        self.client.get(f"{ITEMS}/{item_id}", name=ITEM_ROUTE)

    @task(2)
    def read_missing_item(self) -> None:
        """Lookups of ids that do not exist: answered from the negative cache."""
        with self.client.get(
            f"{ITEMS}/{uuid.uuid4()}", name=f"{ITEM_ROUTE} (missing)", catch_response=True
        ) as response:
            if response.status_code == HTTPStatus.NOT_FOUND:
                response.success()

    @task(2)
    def list_items(self) -> None:
        self.client.get(ITEMS, params={"limit": 20})

    @task(1)
    def create_item(self) -> None:
        response = self.client.post(ITEMS, json={"name": f"load {uuid.uuid4()}"}, name=ITEMS)
        if response.status_code == HTTPStatus.CREATED:
            self.item_ids.append(response.json()["id"])

    @task(1)
    def update_item(self) -> None:
        item_id = random.choice(self.item_ids)  # noqa: S311 - load shape, not security
        self.client.patch(
            f"{ITEMS}/{item_id}",
            json={"description": f"updated {uuid.uuid4()}"},
            name=ITEM_ROUTE,
        )
