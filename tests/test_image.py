"""The generated Dockerfile: linted, built with a real engine, run as production runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.containers import (
    build_image,
    command,
    docker,
    engine_or_skip,
    image_size,
    standin_base,
)
from tests.oidc_standin import StandInProvider, stand_in_provider
from tests.rendering import render, run
from tests.servers import free_port
from tests.test_generation import SLUG, SUPPORTED, Case

HADOLINT = Path(sysconfig.get_path("scripts")) / "hadolint"
# The budget for what the default image adds over its base (the official slim base is ~125 MB).
ADDED_BYTES_BUDGET = 80_000_000
STOP_BUDGET_SECONDS = 10.0
# How long a container may take to answer /livez: a quarter of the chart's start-up budget
# (60 periods of 2 s), and room for this suite's workers, which outnumber the cores (2 to 4 s
# usually, 10 s seen while three workers built and tested beside it). The time is recorded.
STARTUP_SECONDS = 30


@dataclass(frozen=True)
class BuiltImage:
    case_id: str
    reference: str
    base: str
    env_prefix: str
    # Set for a service that verifies access tokens: the provider it is run against.
    provider: StandInProvider | None = None

    def settings(self) -> dict[str, str]:
        """The settings production gives the service, besides its port."""
        if self.provider is None:
            return {}
        prefix = self.env_prefix
        return {f"{prefix}OIDC_ISSUER": self.provider.issuer, f"{prefix}OIDC_AUDIENCE": SLUG}

    def authorization(self, *scopes: str) -> str:
        """The Authorization header a caller sends, if the service wants one."""
        if self.provider is None:
            return ""
        return f"Authorization: Bearer {self.provider.token(SLUG, *scopes)}\r\n"


@dataclass(frozen=True)
class Container:
    id: str
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url(path), headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def logs(self) -> str:
        result = subprocess.run(
            [docker(), "logs", self.id], capture_output=True, text=True, check=False
        )
        return result.stdout + result.stderr


IMAGE_CASES = [
    Case("defaults"),
    Case("postgresql-redis-no-auth", {"database": "postgresql", "cache": "redis", "auth": "none"}),
]


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda case: case.id)
def test_dockerfile_passes_hadolint(case: Case, tmp_path: Path) -> None:
    project = render(case.data, tmp_path / SLUG, tasks=False)
    run([str(HADOLINT), "--failure-threshold", "info", "Dockerfile"], project)


@pytest.fixture(scope="module")
def provider() -> Iterator[StandInProvider]:
    with stand_in_provider() as running_provider:
        yield running_provider


@pytest.fixture(scope="module", params=IMAGE_CASES, ids=lambda case: case.id)
def image(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    provider: StandInProvider,
) -> BuiltImage:
    engine_or_skip()
    case: Case = request.param
    project = render(case.data, tmp_path_factory.mktemp(case.id) / SLUG)
    # Built straight after `copier copy`: the uv.lock the copy wrote is all the build needs.
    assert (project / "uv.lock").is_file(), "copier copy left no uv.lock for the build"
    base = standin_base(case.answer("python_version"))
    reference = f"localhost/{SLUG}:{case.id}"
    build_image(project, reference, base)
    # Kept after the run: the next build reuses its layers.
    prefix = f"{case.answer('package_name').upper()}_"
    verifies_tokens = case.answer("auth") == "oidc"
    return BuiltImage(case.id, reference, base, prefix, provider if verifies_tokens else None)


@contextmanager
def running(image: BuiltImage, settings: dict[str, str] | None = None) -> Iterator[Container]:
    """The image run as production runs it: read-only root, /tmp on tmpfs, default user,
    with the settings production gives it (or `settings`)."""
    port = free_port()
    environment = {**(image.settings() if settings is None else settings)}
    environment[f"{image.env_prefix}PORT"] = str(port)
    container_id = command(
        [
            docker(),
            "run",
            "--detach",
            "--read-only",
            "--tmpfs",
            "/tmp",  # noqa: S108 - the container's own tmpfs
            "--network",
            "host",
            *(f"--env={name}={value}" for name, value in environment.items()),
            image.reference,
        ]
    ).strip()
    try:
        yield Container(container_id, port)
    finally:
        command([docker(), "rm", "--force", container_id], check=False)


def wait_until(check: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until check() holds, polling every 50 ms; fails after `within` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"{what} did not happen within {within} s")
        time.sleep(0.05)
    return time.monotonic() - started


def answers(container: Container, path: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return container.get(path)[0] == 200
        except OSError:
            return False

    return check


def inspect(reference: str, template: str) -> Any:
    return json.loads(
        command([docker(), "inspect", "--format", f"{{{{json {template}}}}}", reference])
    )


@pytest.mark.xdist_group("containers")
def test_serves_probes_and_docs(
    image: BuiltImage, record_property: Callable[[str, object], None]
) -> None:
    with running(image) as container:
        startup = wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        record_property(
            f"measure: {image.case_id} image, seconds to first /livez 200", round(startup, 2)
        )

        assert container.get("/readyz")[0] == 200
        status, body = container.get("/openapi.json")
        assert status == 200
        assert json.loads(body)["openapi"].startswith("3.")
        assert container.get("/docs")[0] == 200


@pytest.mark.xdist_group("containers")
def test_the_api_needs_a_token_when_the_service_checks_them(image: BuiltImage) -> None:
    with running(image) as container:
        wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        anonymous = container.get("/api/v1/items")
        ready = json.loads(container.get("/readyz")[1])
        if image.provider is None:
            # auth=none: a gateway or mesh in front authenticates every call.
            assert anonymous[0] == 200
            assert "identity_provider" not in ready["checks"]
            return
        token = image.provider.token(SLUG, "items:read")
        authorized = container.get("/api/v1/items", {"Authorization": f"Bearer {token}"})

    assert anonymous[0] == 401
    assert authorized[0] == 200
    assert ready["checks"]["identity_provider"] == "ok"


@pytest.mark.xdist_group("containers")
def test_refuses_to_start_without_a_token_issuer(image: BuiltImage) -> None:
    if image.provider is None:
        with running(image, settings={}) as container:
            # auth=none: production needs no provider, and starts without one.
            wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        return
    with running(image, settings={}) as container:
        wait_until(
            lambda: inspect(container.id, ".State.Status") == "exited", 10, "the service exiting"
        )
        logs = container.logs().strip().splitlines()
        exit_code = inspect(container.id, ".State.ExitCode")

    assert exit_code != 0
    prefix = image.env_prefix
    assert logs[-1].endswith(
        f"{prefix}OIDC_ISSUER and {prefix}OIDC_AUDIENCE must be set in production: the service "
        "answers no API request without an access token it can verify"
    ), logs


@pytest.mark.xdist_group("containers")
def test_runs_as_an_unprivileged_user(image: BuiltImage) -> None:
    assert inspect(image.reference, ".Config.User") == "10001:10001"
    with running(image) as container:
        wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        uid = command([docker(), "exec", container.id, "id", "-u"]).strip()

    assert uid != "0"


@pytest.mark.xdist_group("containers")
def test_healthcheck_probes_livez(image: BuiltImage) -> None:
    healthcheck = inspect(image.reference, ".Config.Healthcheck")
    assert healthcheck["Test"][0] == "CMD"
    assert "/livez" in " ".join(healthcheck["Test"])
    with running(image) as container:
        wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        command([docker(), "exec", container.id, *healthcheck["Test"][1:]])


@pytest.mark.xdist_group("containers")
def test_stop_lets_an_in_flight_request_finish(image: BuiltImage) -> None:
    with running(image) as container:
        wait_until(answers(container, "/livez"), STARTUP_SECONDS, "/livez answering 200")
        body = json.dumps({"name": "in flight during shutdown"}).encode()
        head = (
            "POST /api/v1/items HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{image.authorization('items:write')}"
            "Connection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", container.port), timeout=15) as client:
            client.sendall(head + body[:10])  # the server now waits for the rest of the body
            stop_started = time.monotonic()
            stopper = threading.Thread(
                target=command, args=([docker(), "stop", "--time", "30", container.id],)
            )
            stopper.start()
            wait_until(lambda: "Shutting down" in container.logs(), 5, "the server seeing SIGTERM")
            client.sendall(body[10:])
            response = b""
            while chunk := client.recv(65536):
                response += chunk
            stopper.join()
            stop_seconds = time.monotonic() - stop_started
        exit_code = inspect(container.id, ".State.ExitCode")

    assert response.startswith(b"HTTP/1.1 201"), response[:200]
    assert stop_seconds < STOP_BUDGET_SECONDS
    assert exit_code == 0, "a graceful stop is a clean exit"


@pytest.mark.xdist_group("containers")
def test_dependencies_are_precompiled(image: BuiltImage) -> None:
    script = (
        "import importlib.util, pathlib, sys\n"
        "for name in ('fastapi', 'pydantic', 'sqlalchemy', 'starlette', 'uvicorn'):\n"
        "    package = pathlib.Path(importlib.util.find_spec(name).origin).parent\n"
        "    compiled = list(package.glob('__pycache__/*.pyc'))\n"
        "    sys.exit(f'{name} has no .pyc') if not compiled else None\n"
    )
    command(
        [
            docker(),
            "run",
            "--rm",
            "--read-only",
            "--entrypoint",
            "python",
            image.reference,
            "-c",
            script,
        ]
    )


@pytest.mark.xdist_group("containers")
def test_labels_describe_the_build(image: BuiltImage) -> None:
    labels = inspect(image.reference, ".Config.Labels")

    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.revision"] == "0123456789abcdef"
    assert labels["org.opencontainers.image.title"] == SLUG


@pytest.mark.xdist_group("containers")
def test_image_adds_little_to_its_base(
    image: BuiltImage, record_property: Callable[[str, object], None]
) -> None:
    added = image_size(image.reference) - image_size(image.base)
    record_property(
        f"measure: {image.case_id} image, MB added over its base", round(added / 1e6, 1)
    )

    if image.case_id == "defaults":
        assert added <= ADDED_BYTES_BUDGET, f"the image adds {added / 1e6:.1f} MB over its base"
