"""The generated service's request paths against bare FastAPI routes, side by side in one run.

Renders the default service and serves it twice: as rendered, and with an authentication
dependency on its /api/v1 router (as a team protects its API), all middleware on and
logging to /dev/null. Beside them, two bare FastAPI apps answer the same JSON (the second
behind the same dependency). Every server is uvicorn with the same loop and HTTP parser on
127.0.0.1, pinned to CPU 0 when `taskset` is there, while the load (wrk when installed,
else an asyncio load generator in this process) runs on CPU 1. Each case alternates
service and bare, round after round:

- cached read: `GET /api/v1/items/{id}`, a cache hit, against a bare route;
- cached read, auth on /api/v1: the same with a bearer token, against a bare route behind
  the same dependency (checked first: refused without the token, answered with it);
- plain route: `/livez` against a bare `/livez`;
- cached read through routing (for information): the id in upper case, which the cached
  read route leaves to the route.

Prints requests/s, p50 and p99 latency and each server's CPU time per request (from /proc),
and the ratios service/bare with their targets: on a busy machine, the CPU ratio is the one
to trust. A measurement to read, not a test: `make bench-service` or
`uv run python scripts/bench.py [--seconds 5] [--rounds 2]`.
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
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rendering import REPO_ROOT, render, run, subprocess_env
from tests.servers import free_port

TOKEN = "bench-static-token"  # noqa: S105 - a loopback benchmark's credential
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}

# The dependency a team puts on its /api/v1 router, and the bare apps use the same.
REQUIRE_TOKEN = f'''
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status

TOKEN = "{TOKEN}"


async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
    """Refuse a request without `Authorization: Bearer <TOKEN>`."""
    if authorization != f"Bearer {{TOKEN}}":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Not authenticated", {{"WWW-Authenticate": "Bearer"}}
        )

'''

API_ROUTER = 'router = APIRouter(prefix="/api/v1")'
PROTECTED_API_ROUTER = 'router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])'

# Written after REQUIRE_TOKEN, once formatted (REQUIRE_TOKEN's braces are not fields).
BARE_APPS = """
from fastapi import APIRouter, FastAPI

ITEM = {item!r}
LIVE = {{"status": "ok"}}

app = FastAPI()


@app.get("/api/v1/items/{{item_id}}")
async def read_item(item_id: str) -> dict[str, object]:
    return ITEM


@app.get("/livez")
async def livez() -> dict[str, str]:
    return LIVE


protected = FastAPI()
{api_router}


@router.get("/items/{{item_id}}")
async def read_protected_item(item_id: str) -> dict[str, object]:
    return ITEM


protected.include_router(router)
"""

# (target ratio or None, for information)
TARGETS = {
    "cached read": 1.0,
    "cached read, auth on /api/v1": 1.0,
    "plain route /livez": 0.9,
    "cached read via routing (info)": None,
}
SERVER_CPU, LOAD_CPU = 0, 1


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    # The server's CPU time per request (user + system), where /proc tells it: unlike
    # requests/s, it does not drop when something else takes the server's CPU.
    cpu_us: float | None = None


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@dataclass(frozen=True)
class Case:
    name: str
    service: Server
    bare: Server
    service_path: str
    bare_path: str
    headers: Mapping[str, str]

    def server(self, side: str) -> Server:
        return self.service if side == "service" else self.bare

    def url(self, side: str) -> str:
        path = self.service_path if side == "service" else self.bare_path
        return f"{self.server(side).url}{path}"


Load = Callable[[str, Mapping[str, str], int, int], Result]


def pinned(command: list[str], cpu: int) -> list[str]:
    """command on one CPU, when taskset is there and the machine has another for the load."""
    taskset = shutil.which("taskset")
    if taskset is None or (os.cpu_count() or 1) < 2:
        return command
    return [taskset, "--cpu-list", str(cpu), *command]


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[Server]:
    """A server started with command, once it answers HTTP on port."""
    server = subprocess.Popen(  # noqa: S603 - the rendered project's own commands
        pinned(command, SERVER_CPU),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(f"{url}/")  # any status will do: it serves
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield Server(url, server.pid)  # taskset execs the server: the same process
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(
    url: str, headers: Mapping[str, str] | None = None, data: bytes | None = None
) -> tuple[int, bytes]:
    """The status and body of a request, error statuses included."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())


def expect(url: str, headers: Mapping[str, str], status: int) -> bytes:
    """The body of url, which must answer status."""
    answered, body = fetch(url, headers)
    if answered != status:
        sys.exit(f"{url} answered {answered}, not {status}: {body[:200]!r}")
    return body


def wrk(url: str, headers: Mapping[str, str], seconds: int, connections: int) -> Result:
    command = [shutil.which("wrk") or "wrk", "--threads", "1", "--connections", str(connections)]
    command += ["--duration", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    output = subprocess.run(  # noqa: S603
        pinned([*command, url], LOAD_CPU), capture_output=True, text=True, check=True
    ).stdout
    if refused := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        sys.exit(f"{url} answered {refused[1]} requests with an error: not a throughput figure")
    return Result(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        p50_ms=milliseconds(re.search(r"50%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        p99_ms=milliseconds(re.search(r"99%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        requests=int(re.search(r"(\d+) requests in", output)[1]),  # type: ignore[index]
    )


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class KeepAliveClient(asyncio.Protocol):
    """One connection sending the same GET again as soon as each response is complete.

    A protocol rather than streams: the load generator must cost far less per request
    than the servers it drives, or it measures itself.
    """

    def __init__(
        self, request: bytes, deadline: float, latencies: list[float], done: asyncio.Future[None]
    ) -> None:
        self._request = request
        self._deadline = deadline
        self._latencies = latencies
        self._done = done
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._expected = -1  # bytes of the whole response, once its head is in
        self._started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # TCP gives a Transport
        self._send()

    def _send(self) -> None:
        if self._transport is None:
            return
        self._buffer.clear()
        self._expected = -1
        self._started = time.perf_counter()
        self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._expected < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            if not head.startswith(b"HTTP/1.1 200"):
                self._fail(f"answered {head.splitlines()[0]!r}: not a throughput figure")
                return
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            if length is None:
                self._fail("answered without Content-Length")
                return
            self._expected = end + 4 + int(length[1])
        if len(self._buffer) < self._expected:
            return
        self._latencies.append(time.perf_counter() - self._started)
        if time.monotonic() < self._deadline:
            self._send()
        else:
            self._finish()

    def _fail(self, message: str) -> None:
        if not self._done.done():
            self._done.set_exception(RuntimeError(message))
        self._finish()

    def _finish(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if not self._done.done():
            self._done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_exception(exc or ConnectionError("closed before the response"))


def python_load(url: str, headers: Mapping[str, str], seconds: int, connections: int) -> Result:
    """Keep-alive GETs over `connections` sockets for `seconds`, timing each response."""
    host, _, rest = url.removeprefix("http://").partition("/")
    address, port = host.split(":")
    lines = [f"GET /{rest} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []

    async def drive() -> float:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        deadline = started + seconds
        finished: list[asyncio.Future[None]] = []
        for _ in range(connections):
            done = loop.create_future()
            client = partial(KeepAliveClient, request, deadline, latencies, done)
            await loop.create_connection(client, address, int(port))
            finished.append(done)
        await asyncio.gather(*finished)
        return time.monotonic() - started

    try:
        elapsed = asyncio.run(drive())
    except (RuntimeError, OSError) as error:
        sys.exit(f"{url}: {error}")
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(
        len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000, len(latencies)
    )


def protect(src: Path, package: str) -> Path:
    """A copy of the service's sources with `require_token` on its /api/v1 router."""
    copy = src.parent / "protected-src"
    shutil.copytree(src, copy)
    router = copy / package / "api" / "router.py"
    text = router.read_text()
    if text.count(API_ROUTER) != 1:
        sys.exit(f"{router} no longer declares `{API_ROUTER}`: update the bench")
    router.write_text(text.replace(API_ROUTER, REQUIRE_TOKEN + PROTECTED_API_ROUTER))
    return copy


def same_json(case: Case) -> None:
    """Service and bare answer the case with the same JSON."""
    service = json.loads(expect(case.url("service"), case.headers, 200))
    bare = json.loads(expect(case.url("bare"), case.headers, 200))
    if service != bare:
        sys.exit(f"{case.name}: the service answers {service}, the bare app {bare}")


def cache_hits(service: str) -> float:
    """The service's count of cache hits, from its metrics."""
    metrics = expect(f"{service}/metrics", {}, 200).decode()
    found = re.search(r'^cache_requests_total\{result="hit"\} ([\d.e+]+)$', metrics, re.M)
    return float(found[1]) if found else 0.0


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far, where Linux's /proc tells it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(load: Load, case: Case, side: str, seconds: int, connections: int) -> Result:
    """A load of one side of a case, with its server's CPU time per request."""
    pid = case.server(side).pid
    before = cpu_seconds(pid)
    result = load(case.url(side), case.headers, seconds, connections)
    after = cpu_seconds(pid)
    if before is None or after is None or not result.requests:
        return result
    return replace(result, cpu_us=(after - before) / result.requests * 1e6)


def measure(cases: list[Case], load: Load, options: argparse.Namespace) -> dict[str, list[Result]]:
    """Each case's service and bare runs, alternating, after a short warm-up of each."""
    for case in cases:
        for side in ("bare", "service"):
            load(case.url(side), case.headers, 1, options.connections)
    results: dict[str, list[Result]] = {}
    for round_ in range(options.rounds):
        for case in cases:
            # Alternate which goes first, so neither always follows the other's load.
            for side in ("bare", "service") if round_ % 2 == 0 else ("service", "bare"):
                result = timed(load, case, side, options.seconds, options.connections)
                results.setdefault(f"{case.name}|{side}", []).append(result)
    return results


def report(
    results: dict[str, list[Result]], load: Load, options: argparse.Namespace, pinning: str
) -> None:
    loader = "wrk" if load is wrk else "asyncio load generator (wrk not installed)"
    print(
        f"load: {loader}, {options.connections} connections, {options.seconds} s x "
        f"{options.rounds} rounds, alternating; {pinning}; best round of each shown"
    )
    print(f"{'':32} {'service':^35} | {'bare FastAPI':^35} | {'service / bare':^15} |")
    columns = f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us':>8}"
    print(f"{'case':32} {columns} | {columns} | {'req/s':>6} {'CPU':>8} | target")
    for name, target in TARGETS.items():
        service, bare = (
            max(results[f"{name}|{side}"], key=lambda r: r.requests_per_second)
            for side in ("service", "bare")
        )
        ratio = service.requests_per_second / bare.requests_per_second
        verdict = (
            "(information)"
            if target is None
            else f">= {target:.1f}x " + ("met" if ratio >= target else "MISSED")
        )
        cells = [
            f"{r.requests_per_second:8.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {cpu(r.cpu_us):>8}"
            for r in (service, bare)
        ]
        # Requests per CPU second, service over bare: the throughput ratio on an idle CPU.
        cpu_ratio = (
            f"{bare.cpu_us / service.cpu_us:7.2f}x"
            if bare.cpu_us is not None and service.cpu_us
            else f"{'-':>8}"
        )
        print(f"{name:32} {cells[0]} | {cells[1]} | {ratio:5.2f}x {cpu_ratio} | {verdict}")
    print(
        "CPU us: the server's CPU time per request (best round of each); service / bare CPU:"
        " requests per CPU second, the ratio a busy machine disturbs least."
    )


def cpu(microseconds: float | None) -> str:
    return "-" if microseconds is None else f"{microseconds:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5, help="of each measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    os.environ.setdefault("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")
    load: Load = wrk if shutil.which("wrk") else python_load
    runs = len(TARGETS) * 2 * (options.rounds * options.seconds + 1)
    print(f"rendering and installing, then about {runs} s of load", flush=True)

    with tempfile.TemporaryDirectory() as scratch, ExitStack() as servers:
        base = Path(scratch)
        project = render(
            {"project_name": "Orders Service"},
            base / "orders-service",
            src=Path(os.environ.get("BENCH_TEMPLATE", REPO_ROOT)),
        )
        run(["make", "install"], project)
        python = str(project / ".venv/bin/python")
        env = subprocess_env(
            {
                "ORDERS_SERVICE_DATABASE_URL": f"sqlite+aiosqlite:///{base / 'bench.db'}",
                "ORDERS_SERVICE_ENVIRONMENT": "production",
                # The limiter stays on (all middleware on) but never refuses: 429s would be
                # timed instead of the read.
                "ORDERS_SERVICE_RATE_LIMIT_REQUESTS": "1000000000",
            }
        )

        def start(command: list[str], cwd: Path, extra: Mapping[str, str] | None = None) -> Server:
            port = free_port()
            # The service reads its port from its settings, uvicorn's CLI from UVICORN_PORT.
            server_env = {**env, "ORDERS_SERVICE_PORT": str(port), "UVICORN_PORT": str(port)}
            server_env.update(extra or {})
            return servers.enter_context(serving(command, cwd, server_env, port))

        service = start([python, "-m", "orders_service"], project)
        status, created = fetch(
            f"{service.url}/api/v1/items", data=json.dumps({"name": "Benchmarked"}).encode()
        )
        if status != 201:
            sys.exit(f"creating the benchmarked item answered {status}: {created!r}")
        item = json.loads(created)
        item_path = f"/api/v1/items/{item['id']}"
        # The same service with a team's authentication on its /api/v1 router: its copy of
        # the sources comes first on the path, before the project's own.
        protected_src = protect(project / "src", "orders_service")
        protected = start(
            [python, "-m", "orders_service"], project, {"PYTHONPATH": str(protected_src)}
        )
        bare_source = BARE_APPS.format(item=item, api_router=PROTECTED_API_ROUTER)
        (base / "bare.py").write_text(REQUIRE_TOKEN + bare_source)
        uvicorn = [python, "-m", "uvicorn", "--no-access-log", "--no-server-header"]
        uvicorn += ["--log-level", "warning"]
        bare = start([*uvicorn, "bare:app"], base)
        bare_protected = start([*uvicorn, "bare:protected"], base)

        # Fill both services' caches, then check what each case measures.
        expect(f"{service.url}{item_path}", {}, 200)
        expect(f"{protected.url}{item_path}", AUTHORIZED, 200)
        for server in (protected, bare_protected):
            expect(f"{server.url}{item_path}", {}, 401)
            expect(f"{server.url}{item_path}", {"Authorization": "Bearer not-the-token"}, 401)
        upper_case_path = f"/api/v1/items/{str(item['id']).upper()}"
        cases = [
            Case("cached read", service, bare, item_path, item_path, {}),
            Case(
                "cached read, auth on /api/v1",
                protected,
                bare_protected,
                item_path,
                item_path,
                AUTHORIZED,
            ),
            Case("plain route /livez", service, bare, "/livez", "/livez", {}),
            Case("cached read via routing (info)", service, bare, upper_case_path, item_path, {}),
        ]
        for case in cases:
            same_json(case)
        for server, headers in ((service, {}), (protected, AUTHORIZED)):
            hits = cache_hits(server.url)
            expect(f"{server.url}{item_path}", headers, 200)
            if cache_hits(server.url) != hits + 1:
                sys.exit(f"{server.url}{item_path} is not answered from the cache")

        pinning = "no taskset: servers and load share the CPUs"
        if pinned([], SERVER_CPU):
            os.sched_setaffinity(0, {LOAD_CPU})
            pinning = f"servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}"
        results = measure(cases, load, options)

    report(results, load, options, pinning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
