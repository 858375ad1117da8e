"""A default render with a domain added under traffic: schemathesis with every check against
its own OpenAPI document (the example domain's endpoints and those `make domain` wrote), and
its Locust load test."""

from __future__ import annotations

import json
import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rendering import commit_all, render, run, subprocess_env
from tests.servers import free_port
from tests.test_generation import SLUG

SCHEMATHESIS = Path(sysconfig.get_path("scripts")) / "schemathesis"
MAX_EXAMPLES = 40

# One worker renders and installs the project once for both tests.
pytestmark = pytest.mark.xdist_group("traffic")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default render, installed, with the orders domain added and documented."""
    rendered = render({"project_name": "Orders Service"}, tmp_path_factory.mktemp("traffic") / SLUG)
    commit_all(rendered, "Render from the template")
    run(["make", "install"], rendered)
    run(["make", "domain", "NAME=orders", "openapi"], rendered)
    return rendered


@pytest.fixture(scope="module")
def service_url(project: Path) -> Iterator[tuple[str, str]]:
    """The default render serving on a free loopback port, behind the local OpenID provider
    as `make run` starts them (the provider on another free port)."""
    base = project.parent
    port, provider_port = free_port(), free_port()
    env = subprocess_env(
        {
            "ORDERS_SERVICE_PORT": str(port),
            "ORDERS_SERVICE_DATABASE_URL": f"sqlite+aiosqlite:///{base / 'contract.db'}",
            "ORDERS_SERVICE_LOG_LEVEL": "WARNING",
            # Schemathesis sends well over the default 600 requests a minute (each operation
            # again without the token, for `ignored_auth`): its 429s would hide the rest.
            "ORDERS_SERVICE_RATE_LIMIT_REQUESTS": "1000000",
        }
    )
    with (base / "service.log").open("w") as log:
        server = subprocess.Popen(
            [
                *("uv", "run", "--no-sync", "python", "tools/oidc_provider.py", "run"),
                *("--port", str(provider_port), "--env-prefix", "ORDERS_SERVICE_"),
                *("--audience", SLUG, "--", "python", "-m", "orders_service"),
            ],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/livez", server, base / "service.log")
            token = run(
                [
                    *("uv", "run", "--no-sync", "python", "tools/oidc_provider.py", "token"),
                    *("--issuer", f"http://127.0.0.1:{provider_port}", "--openapi", "openapi.json"),
                ],
                project,
            ).splitlines()[
                -1
            ]  # the token alone on stdout, after anything uv says
            yield url, token
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


def test_every_schemathesis_check_passes(
    service_url: tuple[str, str], project: Path, tmp_path: Path
) -> None:
    """With a token for every scope: `ignored_auth` (in `all`) also sends each operation
    without it, and expects the documented 401."""
    url, token = service_url
    output = run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
        ],
        tmp_path,  # schemathesis keeps its example database in the working directory
        timeout=300,
    )

    assert "No issues found" in output, output[-3000:]
    document = json.loads((project / "openapi.json").read_text())
    assert "/api/v1/orders/{order_id}" in document["paths"], "the domain is not documented"
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"Tested: {operations}\n" in output, "an operation went untested"


def test_the_load_test_runs_without_failures(project: Path) -> None:
    output = run(["make", "loadtest", "LOAD_USERS=5", "LOAD_SECONDS=5"], project, timeout=300)

    assert "Aggregated" in output
    assert "/api/v1/items/{item_id}" in output
