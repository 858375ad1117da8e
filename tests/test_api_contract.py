"""Schemathesis, with every check, against a running default render's own OpenAPI document."""

from __future__ import annotations

import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import free_port
from tests.rendering import commit_all, render, run, subprocess_env
from tests.test_generation import SLUG

SCHEMATHESIS = Path(sysconfig.get_path("scripts")) / "schemathesis"
MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A default render, installed and serving on a free loopback port."""
    base = tmp_path_factory.mktemp("contract")
    project = render({"project_name": "Orders Service"}, base / SLUG)
    commit_all(project, "Render from the template")
    run(["make", "install"], project)
    port = free_port()
    env = subprocess_env(
        {
            "ORDERS_SERVICE_PORT": str(port),
            "ORDERS_SERVICE_DATABASE_URL": f"sqlite+aiosqlite:///{base / 'contract.db'}",
            "ORDERS_SERVICE_LOG_LEVEL": "WARNING",
        }
    )
    with (base / "service.log").open("w") as log:
        server = subprocess.Popen(
            ["uv", "run", "--no-sync", "python", "-m", "orders_service"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/livez", server, base / "service.log")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=15)


def wait_for(url: str, server: subprocess.Popen[bytes], log: Path, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the service exited {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {within} s:\n{log.read_text()}")


def test_every_schemathesis_check_passes(service_url: str, tmp_path: Path) -> None:
    output = run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{service_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
        ],
        tmp_path,  # schemathesis keeps its example database in the working directory
        timeout=300,
    )

    assert "No issues found" in output, output[-3000:]
