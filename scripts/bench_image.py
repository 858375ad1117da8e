"""Measure the default render's image: size over its base, build time cold and warm,
and seconds from `docker run` to the first healthy /livez.

A measurement to read, not a test. Needs root, buildah, Debian's dockerd and debootstrap
(the same engine the image tests use): `uv run python scripts/bench_image.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.containers import (
    build_image,
    command,
    docker,
    ensure_dockerd,
    image_size,
    standin_base,
)
from tests.rendering import render, run
from tests.servers import free_port

REFERENCE = "localhost/orders-service:bench"


def seconds_to_healthy(reference: str) -> float:
    port = free_port()
    started = time.perf_counter()
    container = command(
        [
            *(docker(), "run", "--detach", "--read-only", "--network", "host"),
            *("--tmpfs", "/tmp"),  # noqa: S108 - the container's own tmpfs
            *("--env", f"ORDERS_SERVICE_PORT={port}", reference),
        ]
    ).strip()
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1):
                    return time.perf_counter() - started
            except OSError:
                if time.perf_counter() - started > 30:
                    raise
                time.sleep(0.02)
    finally:
        command([docker(), "rm", "--force", container], check=False)


def timed_build(project: Path, base: str, *, layers: bool) -> float:
    started = time.perf_counter()
    build_image(project, REFERENCE, base, layers=layers)
    return time.perf_counter() - started


def main() -> int:
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    os.environ.setdefault("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")
    ensure_dockerd()
    base = standin_base("3.12")
    with tempfile.TemporaryDirectory() as scratch:
        project = render({"project_name": "Orders Service"}, Path(scratch) / "orders-service")
        run(["uv", "lock"], project)
        cold = timed_build(project, base, layers=False)
        timed_build(project, base, layers=True)  # fills the layer cache
        (project / "src/orders_service/items/service.py").touch()
        warm = timed_build(project, base, layers=True)
    added = image_size(REFERENCE) - image_size(base)
    healthy = [seconds_to_healthy(REFERENCE) for _ in range(3)]
    print(f"image adds over its base: {added / 1e6:.1f} MB")
    print(f"build, no layer cache:    {cold:.1f} s (uv and pip download caches warm)")
    print(f"build, code change only:  {warm:.1f} s")
    print(f"docker run to /livez 200: {min(healthy):.2f} s best, {max(healthy):.2f} s worst of 3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
