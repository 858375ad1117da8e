"""Probes: liveness never looks at dependencies, readiness does."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from httpx import AsyncClient

from orders_service.state import AppState
from tests.apps import client_of, make_settings, running_app


async def test_livez(client: AsyncClient) -> None:
    response = await client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_dependencies_answer(client: AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "identity_provider": "ok"},
    }


class DownCache:
    async def ping(self) -> bool:
        return False


async def test_readyz_reports_a_down_cache_but_stays_ready(
    client: AsyncClient, state: AppState
) -> None:
    state.cache.cache = DownCache()  # type: ignore[assignment]

    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["cache"] == "unavailable"


async def test_readyz_when_the_database_is_down(tmp_path: Path) -> None:
    # A directory is not a database file: every connection attempt fails.
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}", migrate_on_startup=False
    )
    threads_before = set(threading.enumerate())
    async with running_app(settings) as app, client_of(app) as client:
        response = await client.get("/readyz")
        liveness = await client.get("/livez")
    await until_threads_end(
        {
            thread
            for thread in set(threading.enumerate()) - threads_before
            if "_connection_worker_thread" in thread.name
        }
    )

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
    assert liveness.status_code == 200


async def until_threads_end(threads: set[threading.Thread]) -> None:
    """Keep the loop alive until aiosqlite's worker threads for failed connections stop.

    They report back to the loop that started them; a loop closed under them turns the
    report into an unhandled thread exception in a later test.
    """
    for _ in range(200):
        if not any(thread.is_alive() for thread in threads):
            return
        await asyncio.sleep(0.01)
