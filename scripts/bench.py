"""Throughput of the generated service's cached read path against a bare FastAPI route.

Renders the default service, starts it (all its middleware on, logging to /dev/null) and,
in the same run, a bare FastAPI app whose one route returns the same JSON. Both are
served by uvicorn with the same loop and HTTP parser on 127.0.0.1 and driven alternately
by the same load (wrk when installed, else a small asyncio load generator). Prints
requests/s, p50 and p99 latency, and the ratio service/bare.

A measurement to read, not a test: `uv run python scripts/bench.py [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rendering import REPO_ROOT, render, run, subprocess_env
from tests.servers import free_port

BARE_APP = """
from fastapi import FastAPI

app = FastAPI()
ITEM = {item}


@app.get("/api/v1/items/{{item_id}}")
async def read_item(item_id: str) -> dict[str, object]:
    return ITEM
"""


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[str]:
    server = subprocess.Popen(  # noqa: S603 - the rendered project's own commands
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/docs", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int) -> Result:
    output = subprocess.run(  # noqa: S603
        [
            *(shutil.which("wrk") or "wrk", "--threads", "1", "--connections", str(connections)),
            *("--duration", f"{seconds}s", "--latency", url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if refused := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        sys.exit(f"{url} answered {refused[1]} requests with an error: not a throughput figure")
    return Result(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        p50_ms=milliseconds(re.search(r"50%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        p99_ms=milliseconds(re.search(r"99%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
    )


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def python_load(url: str, seconds: int, connections: int) -> Result:
    """Keep-alive GETs over `connections` sockets for `seconds`, timing each response."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").partition("/")[2]
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    latencies: list[float] = []

    async def connection(deadline: float) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                sys.exit(f"{url} answered {head.splitlines()[0]!r}: not a throughput figure")
            length = int(re.search(rb"content-length: (\d+)", head, re.I)[1])  # type: ignore[index]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
        writer.close()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(connection(deadline) for _ in range(connections)))

    asyncio.run(main())
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / seconds, quantiles[49] * 1000, quantiles[98] * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    os.environ.setdefault("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")
    load = wrk if shutil.which("wrk") else python_load

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        project = render(
            {"project_name": "Orders Service"},
            base / "orders-service",
            src=Path(os.environ.get("BENCH_TEMPLATE", REPO_ROOT)),
        )
        run(["make", "install"], project)
        python = str(project / ".venv/bin/python")
        service_port, bare_port = free_port(), free_port()
        env = subprocess_env(
            {
                "ORDERS_SERVICE_PORT": str(service_port),
                "ORDERS_SERVICE_DATABASE_URL": f"sqlite+aiosqlite:///{base / 'bench.db'}",
                "ORDERS_SERVICE_ENVIRONMENT": "production",
                # The limiter stays on (all middleware on) but never refuses: 429s would be
                # timed instead of the read.
                "ORDERS_SERVICE_RATE_LIMIT_REQUESTS": "1000000000",
            }
        )
        with serving([python, "-m", "orders_service"], project, env, service_port) as service:
            created = urllib.request.Request(  # noqa: S310 - loopback
                f"{service}/api/v1/items",
                data=json.dumps({"name": "Benchmarked"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(created) as response:  # noqa: S310
                item = json.load(response)
            item_url = f"{service}/api/v1/items/{item['id']}"
            with urllib.request.urlopen(item_url) as response:  # noqa: S310 - fills the cache
                response.read()
            (base / "bare.py").write_text(BARE_APP.format(item=repr(item)))
            uvicorn = [python, "-m", "uvicorn", "bare:app", "--port", str(bare_port)]
            uvicorn += ["--no-access-log", "--log-level", "warning"]
            with serving(uvicorn, base, env, bare_port) as bare:
                bare_url = f"{bare}/api/v1/items/{item['id']}"
                load(bare_url, 2, options.connections)  # warm-up
                load(item_url, 2, options.connections)
                results: dict[str, list[Result]] = {
                    "bare FastAPI route": [],
                    "generated service": [],
                }
                for _ in range(options.rounds):
                    results["bare FastAPI route"].append(
                        load(bare_url, options.seconds, options.connections)
                    )
                    results["generated service"].append(
                        load(item_url, options.seconds, options.connections)
                    )

    best = {name: max(runs, key=lambda r: r.requests_per_second) for name, runs in results.items()}
    print(
        f"load: {load.__name__}, {options.connections} connections, {options.seconds} s x {options.rounds} rounds; best round shown"
    )
    for name, result in best.items():
        print(
            f"{name:20} {result.requests_per_second:9.0f} req/s   p50 {result.p50_ms:6.2f} ms   p99 {result.p99_ms:6.2f} ms"
        )
    ratio = (
        best["generated service"].requests_per_second
        / best["bare FastAPI route"].requests_per_second
    )
    print(f"ratio (service / bare): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
