"""Probes: liveness never looks at dependencies, readiness does."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from httpx import AsyncClient

from orders_service.core.resilience import BreakerState
from orders_service.state import AppState, app_state
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


async def readiness_with_the_database_down(
    tmp_path: Path, *, grace_seconds: float, cache_down: bool
) -> tuple[int, dict[str, str], int]:
    """/readyz's status and checks, and /livez's status, with every database call failing."""
    # A directory is not a database file: every connection attempt fails.
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}",
        migrate_on_startup=False,
        readiness_grace_seconds=grace_seconds,
    )
    threads_before = set(threading.enumerate())
    async with running_app(settings) as app, client_of(app) as client:
        if cache_down:
            app_state(app).cache.cache = DownCache()  # type: ignore[assignment]
        response = await client.get("/readyz")
        liveness = await client.get("/livez")
    await until_threads_end(
        {
            thread
            for thread in set(threading.enumerate()) - threads_before
            if "_connection_worker_thread" in thread.name
        }
    )
    return response.status_code, response.json()["checks"], liveness.status_code


async def test_a_database_outage_is_reported_while_the_cache_still_serves(tmp_path: Path) -> None:
    status, checks, liveness = await readiness_with_the_database_down(
        tmp_path, grace_seconds=0, cache_down=False
    )

    assert (status, checks["database"], checks["cache"]) == (200, "unavailable", "ok")
    assert liveness == 200


async def test_a_database_outage_within_the_grace_period_keeps_the_pod_ready(
    tmp_path: Path,
) -> None:
    status, checks, _ = await readiness_with_the_database_down(
        tmp_path, grace_seconds=60, cache_down=True
    )

    assert (status, checks["database"], checks["cache"]) == (200, "unavailable", "unavailable")


async def test_nothing_to_serve_past_the_grace_period_takes_the_pod_out(tmp_path: Path) -> None:
    status, checks, liveness = await readiness_with_the_database_down(
        tmp_path, grace_seconds=0, cache_down=True
    )

    assert (status, checks["database"], checks["cache"]) == (503, "unavailable", "unavailable")
    assert liveness == 200, "liveness never depends on a dependency"


class FrozenCache:
    """A cache that never answers, as Redis under `DEBUG SLEEP`."""

    async def ping(self) -> bool:
        await asyncio.Event().wait()
        return True


async def test_a_frozen_dependency_fails_its_check_instead_of_holding_the_probe(
    client: AsyncClient, state: AppState
) -> None:
    state.cache.cache = FrozenCache()  # type: ignore[assignment]

    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "unavailable"


async def test_an_open_breaker_reports_the_cache_down_without_asking_it(
    client: AsyncClient, state: AppState
) -> None:
    state.cache.cache = FrozenCache()  # type: ignore[assignment]
    while state.cache.breaker.state is not BreakerState.OPEN:
        state.cache.breaker.record_failure()

    response = await client.get("/readyz")

    assert response.json()["checks"]["cache"] == "unavailable"


async def until_threads_end(threads: set[threading.Thread]) -> None:
    """Keep the loop alive until aiosqlite's worker threads for failed connections stop.

    They report back to the loop that started them; a loop closed under them turns the
    report into an unhandled thread exception in a later test.
    """
    for _ in range(200):
        if not any(thread.is_alive() for thread in threads):
            return
        await asyncio.sleep(0.01)
