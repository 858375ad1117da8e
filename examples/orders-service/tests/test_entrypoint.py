"""`python -m orders_service` serves with production server settings."""

from __future__ import annotations

from typing import Any

import pytest

from orders_service import __main__ as entrypoint
from orders_service.config import get_settings


def test_runs_uvicorn_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("ORDERS_SERVICE_PORT", "8181")
    monkeypatch.setenv("ORDERS_SERVICE_WORKERS", "3")
    get_settings.cache_clear()

    entrypoint.main()
    get_settings.cache_clear()

    [(app, options)] = calls
    assert app == "orders_service.main:app"
    assert options["port"] == 8181
    assert options["workers"] == 3
    assert options["proxy_headers"] is True
    assert options["timeout_graceful_shutdown"] > 0


def test_invalid_settings_stop_start_up_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SERVICE_PORT", "not-a-port")
    get_settings.cache_clear()

    with pytest.raises(SystemExit) as stopped:
        entrypoint.main()
    get_settings.cache_clear()

    assert "orders_service cannot start" in str(stopped.value.code)
    assert "port" in str(stopped.value.code)
