"""Request IDs: a caller's valid `X-Request-ID` is kept, anything else replaced, and echoed."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from orders_service.observability.request_id import (
    request_id_from,
    request_id_var,
)
from tests.logs import ACCESS_LOGGER, SERVICE_LOGGER, LogLines

HEX_ID = re.compile(r"[0-9a-f]{32}")


class TestRequestIdFrom:
    @pytest.mark.parametrize(
        "value",
        [
            "5b0e0f5c-8f5e-4d3a-9d55-7f3f4f2f0a6e",
            "01HZX3Y8Q2V5N7J4K6M8P0R2T4",
            "edge:proxy-1.request_42",
            "a" * 128,
        ],
    )
    def test_a_valid_id_is_kept(self, value: str) -> None:
        assert request_id_from([(b"x-request-id", value.encode())]) == value

    @pytest.mark.parametrize(
        "value",
        [b"", b"a" * 129, b"two words", b"line\nbreak", b'quote"', b"caf\xc3\xa9", b"<script>"],
    )
    def test_an_invalid_id_is_replaced(self, value: bytes) -> None:
        assert HEX_ID.fullmatch(request_id_from([(b"x-request-id", value)]))

    def test_a_missing_id_is_generated_afresh(self) -> None:
        first = request_id_from([(b"accept", b"*/*")])

        assert HEX_ID.fullmatch(first)
        assert request_id_from([]) != first


class TestThroughTheApp:
    async def test_the_callers_id_is_echoed(self, client: AsyncClient) -> None:
        response = await client.get("/livez", headers={"X-Request-ID": "caller-id-1"})

        assert response.headers["x-request-id"] == "caller-id-1"

    async def test_an_id_is_generated_when_none_is_sent(self, client: AsyncClient) -> None:
        first = await client.get("/livez")
        second = await client.get("/livez")

        assert HEX_ID.fullmatch(first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_an_unsafe_id_is_not_echoed(self, client: AsyncClient) -> None:
        response = await client.get("/livez", headers={"X-Request-ID": "x" * 500})

        assert HEX_ID.fullmatch(response.headers["x-request-id"])

    async def test_errors_carry_the_id_too(self, app: FastAPI, client: AsyncClient) -> None:
        @app.get("/boom")
        async def boom() -> None:
            msg = "unexpected"
            raise RuntimeError(msg)

        not_found = await client.get("/no-such-route", headers={"X-Request-ID": "id-404"})
        failed = await client.get("/boom", headers={"X-Request-ID": "id-500"})

        assert not_found.headers["x-request-id"] == "id-404"
        assert failed.status_code == 500
        assert failed.headers["x-request-id"] == "id-500"

    @pytest.mark.settings(access_log="all")
    async def test_every_line_logged_while_serving_carries_the_id(
        self, app: FastAPI, client: AsyncClient, log_lines: LogLines
    ) -> None:
        @app.get("/chatty")
        async def chatty() -> dict[str, str]:
            logging.getLogger(f"{SERVICE_LOGGER}.items").warning("inside the handler")
            return {}

        await client.get("/chatty", headers={"X-Request-ID": "chatty-1"})

        lines = [line for line in log_lines() if line.get("request_id") == "chatty-1"]
        assert [line["logger"] for line in lines] == [f"{SERVICE_LOGGER}.items", ACCESS_LOGGER]

    async def test_the_id_does_not_outlive_its_request(
        self, client: AsyncClient, log_lines: LogLines
    ) -> None:
        await client.get("/livez", headers={"X-Request-ID": "finished"})
        logging.getLogger(SERVICE_LOGGER).warning("between requests")

        assert request_id_var.get() is None
        assert "request_id" not in log_lines()[-1]
