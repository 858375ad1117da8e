"""The package's `python -m` entry point serves with production server settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from orders_service import __main__ as entrypoint
from orders_service.config import ENV_PREFIX, get_settings
from tests.test_config import REFUSED_URLS

PACKAGE = "orders_service"


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

    message = str(stopped.value.code)
    assert message.startswith(f"{PACKAGE} cannot start: {ENV_PREFIX}PORT: ")
    assert "\n" not in message, "one line for the pod's log"


@pytest.mark.parametrize(("setting", "url", "message"), REFUSED_URLS)
def test_a_url_it_cannot_use_stops_it_with_one_line(
    setting: str, url: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv(f"{ENV_PREFIX}{setting.upper()}", url)
    monkeypatch.chdir(tmp_path)  # where no `.env` is
    get_settings.cache_clear()

    with pytest.raises(SystemExit) as stopped:
        entrypoint.main()
    get_settings.cache_clear()

    assert stopped.value.code == f"{PACKAGE} cannot start: {message}"


def test_the_process_prints_the_line_alone_and_exits_1(tmp_path: Path) -> None:
    """What the pod's log shows: the one line, no traceback, and a failed exit status."""
    [(setting, url, message)] = [case.values for case in REFUSED_URLS[:1]]
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}{str(setting).upper()}"] = str(url)

    # This interpreter and this package (nothing untrusted runs), where no `.env` is.
    stopped = subprocess.run(  # noqa: S603
        [sys.executable, "-m", PACKAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert stopped.returncode == 1
    assert stopped.stderr == f"{PACKAGE} cannot start: {message}\n"


def test_sigterm_stops_it_gracefully_with_exit_status_0(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}PORT"] = str(port)
    env[f"{ENV_PREFIX}DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}"
    server = subprocess.Popen(  # noqa: S603 - this interpreter and this package
        [sys.executable, "-m", PACKAGE], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, "the service exited before answering"
                assert time.monotonic() < deadline, "the service did not answer within 30 s"
                time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
        server.wait()
