"""A default render, installed and serving on loopback, observed from outside.

What the issue's "done when" names: `/metrics` shows request metrics, responses carry the
request ID, the log lines on stdout are JSON carrying it, and 429s appear past the limit.
And the Grafana dashboard the project ships reads only metrics the service exports.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.promql import exported_metrics, grafana_expr, selected_metrics
from tests.rendering import commit_all, render, run, subprocess_env
from tests.servers import free_port
from tests.test_generation import NAME, PACKAGE, SLUG

PREFIX = f"{PACKAGE.upper()}_"
LIMIT = 5
START_WITHIN_SECONDS = 30.0

# One worker renders, installs and starts the project once for every test here.
pytestmark = pytest.mark.xdist_group("running-service")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningService:
    """The service's URL, and the lines it has written to stdout so far."""

    url: str
    lines: list[str] = field(default_factory=list)
    # An access token from the local OpenID provider `make run` starts beside the service.
    token: str = ""

    def authorized(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback URL of our own
            self.url + path, data=data, method=method, headers=headers or {}
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                return Response(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers.items()), error.read())

    def logged(self, request_id: str) -> list[dict[str, Any]]:
        """The JSON lines logged with a request ID (the access line comes just after the answer)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = [entry for entry in self.json_lines() if entry.get("request_id") == request_id]
            if found:
                return found
            time.sleep(0.05)
        return []

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines)]


# Session-scoped: a worker that runs other modules' tests in between keeps them running.
@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render, installed as `make install` does."""
    rendered = render({"project_name": NAME}, tmp_path_factory.mktemp("running") / SLUG)
    commit_all(rendered, "Render from the template")
    run(["make", "install"], rendered)
    return rendered


@pytest.fixture(scope="session")
def service(project: Path) -> Iterator[RunningService]:
    """`python -m <package>` on a free loopback port, with a low rate limit, trusting the
    project's local OpenID provider (started on another free port)."""
    ready = project.parent / "issuer"
    provider = subprocess.Popen(
        [
            *("uv", "run", "--no-sync", "python", "tools/oidc_provider.py", "serve"),
            *("--port", "0", "--audience", SLUG, "--ready-file", str(ready)),
        ],
        cwd=project,
        env=subprocess_env({}),
        stderr=subprocess.DEVNULL,
    )
    try:
        issuer = wait_for_issuer(ready, provider)
        yield from serving(project, issuer)
    finally:
        provider.terminate()
        provider.wait(timeout=15)


def wait_for_issuer(ready: Path, provider: subprocess.Popen[bytes]) -> str:
    """The provider's issuer URL, once it listens."""
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while not ready.exists():
        if provider.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the local OpenID provider did not start (exit {provider.poll()})")
        time.sleep(0.05)
    return ready.read_text().strip()


def serving(project: Path, issuer: str) -> Iterator[RunningService]:
    """`python -m <package>` on a free loopback port, trusting `issuer`, until closed."""
    port = free_port()
    env = subprocess_env(
        {
            f"{PREFIX}PORT": str(port),
            f"{PREFIX}DATABASE_URL": f"sqlite+aiosqlite:///{project.parent / 'running.db'}",
            f"{PREFIX}RATE_LIMIT_REQUESTS": str(LIMIT),
            f"{PREFIX}OIDC_ISSUER": issuer,
            f"{PREFIX}OIDC_AUDIENCE": SLUG,
        }
    )
    command = ["uv", "run", "--no-sync", "python", "-m", PACKAGE]
    running = RunningService(f"http://127.0.0.1:{port}")
    with subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as server:
        reader = threading.Thread(target=keep_lines, args=(server, running.lines), daemon=True)
        reader.start()
        try:
            wait_until_serving(running, server)
            running.token = run(
                [
                    *("uv", "run", "--no-sync", "python", "tools/oidc_provider.py", "token"),
                    *("--issuer", issuer, "--openapi", "openapi.json"),
                ],
                project,
            ).splitlines()[-1]
            yield running
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
            reader.join(timeout=5)


def keep_lines(server: subprocess.Popen[str], lines: list[str]) -> None:
    """Collect what the server writes, as it writes it."""
    assert server.stdout is not None
    for line in server.stdout:
        lines.append(line)


def wait_until_serving(service: RunningService, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the service exited {server.returncode}:\n" + "".join(service.lines))
        try:
            if service.request("GET", "/livez").status == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"no answer within {START_WITHIN_SECONDS} s:\n" + "".join(service.lines))


def test_responses_carry_the_request_id(service: RunningService) -> None:
    given = service.request("GET", "/livez", headers={"X-Request-ID": "done-when-1"})
    generated = service.request("GET", "/livez")

    assert given.headers["x-request-id"] == "done-when-1"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


def test_logs_are_json_lines_carrying_the_request_id(service: RunningService) -> None:
    service.request("GET", "/no-such-route", headers={"X-Request-ID": "done-when-2"})

    (access,) = service.logged("done-when-2")
    assert access["logger"] == f"{PACKAGE}.access"
    assert (access["method"], access["route"], access["status"]) == ("GET", "unmatched", 404)
    assert access["client"] == "127.0.0.1"
    assert access["duration_ms"] >= 0
    entries = service.json_lines()  # every line parses: uvicorn's own lines too
    assert any(entry["logger"] == "uvicorn.error" for entry in entries)
    assert not any(entry["logger"] == "uvicorn.access" for entry in entries), "one line each"


def test_metrics_show_the_requests(service: RunningService) -> None:
    service.request("GET", "/livez")

    scrape = service.request("GET", "/metrics")

    assert scrape.status == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.body.decode()
    served = re.search(
        r'^http_server_requests_total\{method="GET",route="/livez",status_class="2xx"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert served, text
    assert float(served.group(1)) >= 1
    assert (
        'http_server_request_duration_seconds_bucket{le="0.005",method="GET",route="/livez"' in text
    )
    assert 'service_build_info{python_version="' in text


def test_past_the_limit_the_api_answers_429(service: RunningService) -> None:
    answers = [
        service.request("GET", "/api/v1/items", headers=service.authorized())
        for _ in range(LIMIT + 1)
    ]

    assert [answer.status for answer in answers] == [200] * LIMIT + [429]
    assert answers[0].headers["ratelimit-limit"] == str(LIMIT)
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["x-request-id"]
    metrics = service.request("GET", "/metrics").body.decode()
    assert 'rate_limit_rejected_requests_total{scope="api"} 1.0' in metrics
    assert 'route="/api/v1/items",status_class="4xx"' in metrics


def test_the_dashboard_reads_only_exported_metrics(project: Path) -> None:
    (path,) = project.glob("dashboards/*.json")
    dashboard = json.loads(path.read_text())
    exported = exported_metrics(project)
    queries = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert queries
    read = set().union(*(selected_metrics(grafana_expr(query)) for query in queries))
    assert (
        read <= exported
    ), f"the dashboard reads metrics the service never exports: {read - exported}"
    declared = {name.removesuffix("_sum").removesuffix("_count") for name in exported}
    unused = {name for name in declared if not any(name in query for query in queries)}
    assert not unused, f"metrics the dashboard does not show: {unused}"
    assert dashboard["title"] == NAME
