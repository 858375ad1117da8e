"""The generated service's request paths against bare FastAPI routes, side by side in one run.

Renders the service twice. With `auth=none`, it is served as rendered and with an
authentication dependency on its /api/v1 router (as a team protects its API); with the
default `auth=oidc`, it is served trusting the render's own local OpenID provider
(`tools/oidc_provider.py`). All middleware is on, logging to /dev/null, access lines as
deployed by default (requests refused, failed or slow). Beside them, bare
FastAPI apps answer the same JSON: one plain, one behind the same dependency, one that
verifies the provider's tokens with PyJWT as a hand-written resource server would. Every
server is uvicorn with the same loop and HTTP parser on 127.0.0.1, pinned to CPU 0 when
`taskset` is there, while the load (wrk when installed, else an asyncio load generator in
this process) runs on CPU 1. Each case alternates service and bare, round after round:

- cached read: `GET /api/v1/items/{id}`, a cache hit, against a bare route;
- cached read, auth on /api/v1: the same with a bearer token, against a bare route behind
  the same dependency (checked first: refused without the token, answered with it);
- plain route: `/livez` against a bare `/livez`;
- plain route with an access line for every request (for information): the same with
  `ACCESS_LOG=all`, what a line costs;
- cached read through routing (for information): the id in upper case, which the cached
  read route leaves to the route;
- cached read, valid token (for information): the `auth=oidc` service's cached read with
  a JWT access token from the provider, against a bare route whose dependency verifies it
  with PyJWT (signature, `iss`, `aud`, `exp`, the `items:read` scope) on every request
  (checked first: 401 without a token, 403 without the scope, a cache hit with it). The
  same service against the plain bare route is shown too, from the same runs.

Prints requests/s, p50 and p99 latency and each server's CPU time per request (from /proc),
and the ratios service/bare with their targets: of the two, the CPU ratio is the one a busy
machine disturbs least, yet it moves by a fifth between runs here. So then, for the three
target cases, service and bare, each request fed to uvicorn's HTTP protocol in the render's
process: the function calls one request costs, counted by cProfile, and the machine
instructions, counted by valgrind's callgrind (when installed), with the targets applied
to their ratio: figures a busy machine does not move. Then, timed in one process of the
`auth=oidc` render with its own `TokenVerifier`, what verifying a token costs against
finding it verified before (`auth/verified.py`).
A measurement to read, not a test: `make bench-service` or
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
from typing import IO, cast

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

# The `auth=oidc` service's read against what a resource server written by hand does: the
# provider's keys fetched once at start-up, then every token verified with PyJWT.
BARE_RESOURCE_SERVER = """
import json
import urllib.request
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ISSUER = {issuer!r}
AUDIENCE = {audience!r}
SCOPE = {scope!r}
ITEM = {item!r}


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


JWKS_URL = fetch_json(f"{{ISSUER}}/.well-known/openid-configuration")["jwks_uri"]
KEYS = {{key.key_id: key for key in jwt.PyJWKSet.from_dict(fetch_json(JWKS_URL)).keys}}
bearer = HTTPBearer(auto_error=False)


async def can_read(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> dict[str, Any]:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Not authenticated", {{"WWW-Authenticate": "Bearer"}}
        )
    token = credentials.credentials
    try:
        key = KEYS[jwt.get_unverified_header(token).get("kid")]
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={{"require": ["exp", "iss", "aud", "sub"]}},
        )
    except (jwt.InvalidTokenError, KeyError):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Invalid token",
            {{"WWW-Authenticate": 'Bearer error="invalid_token"'}},
        ) from None
    if SCOPE not in str(claims.get("scope", "")).split():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Insufficient scope",
            {{"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{{SCOPE}}"'}},
        )
    return claims


app = FastAPI()


@app.get("/api/v1/items/{{item_id}}", dependencies=[Depends(can_read)])
async def read_item(item_id: str) -> dict[str, object]:
    return ITEM
"""

# Run by the `auth=oidc` render's Python: its own verifier, timed in process (CPU time, the
# best of three rounds of `count` calls).
VERIFICATION_TIMING = """
import asyncio
import json
import sys
import time

import jwt

from orders_service.auth.verifier import REQUIRED_CLAIMS, open_token_verifier
from orders_service.config import Settings

ROUNDS = 3


async def microseconds(call, count):
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(count):
            await call()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


async def main(issuer, audience, token, count):
    settings = Settings(oidc_issuer=issuer, oidc_audience=audience)
    async with open_token_verifier(settings) as verifier:
        if verifier is None:
            sys.exit("no token verifier: the settings name no provider")
        header = jwt.get_unverified_header(token)
        key = await verifier.keys.key(header["kid"], header["alg"])

        async def pyjwt():
            # As verifier.py calls it: the header for the key, then decode with its options.
            jwt.get_unverified_header(token)
            jwt.decode(
                token,
                key,
                algorithms=list(settings.oidc_algorithms),
                audience=audience,
                issuer=issuer,
                leeway=settings.oidc_leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )

        async def verification():
            # New keys empty the verified tokens (verified.py): the whole check runs again.
            verifier.keys.generation += 1
            await verifier.verify(token)

        async def hit():
            await verifier.verify(token)

        await hit()
        figures = {
            "pyjwt": await microseconds(pyjwt, count),
            "verification": await microseconds(verification, count),
            "hit": await microseconds(hit, count),
        }
        print(json.dumps(figures))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""

# Run by the `auth=none` render's Python beside bare.py (argv[1]): what one request of each
# case (argv[2]) costs the service and the bare app, each fed to uvicorn's HTTP protocol over
# a stand-in transport (no socket). argv[3] says what is counted: "calls", Python and
# built-in, by cProfile; or "instructions", run under valgrind's callgrind, which counts
# those run inside breakpoint() and writes them out as it returns (the bench turns
# instrumentation on once the script says "ready"). argv[4]: how many requests are counted.
# Unlike CPU time, neither count moves when the machine is busy.
PER_REQUEST = """
import asyncio
import cProfile
import json
import pstats
import sys

sys.path.insert(0, sys.argv[1])

import bare
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from orders_service.main import app as service

WARM_UP, COUNTED = 200, int(sys.argv[4])
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)


class Transport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written = []

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name, default)

    def write(self, data):
        self.written.append(data)

    def is_closing(self):
        return False


def serving(app, request):
    \"\"\"A function that serves COUNTED requests to app on one connection, warmed up.\"\"\"
    # No keep-alive timer fires while another connection is counted.
    config = Config(
        app=app,
        access_log=False,
        log_config=None,
        lifespan="off",
        server_header=False,
        timeout_keep_alive=3600,
    )
    config.load()
    state = ServerState()
    protocol = HttpToolsProtocol(config, state, {}, _loop=loop)
    transport = Transport()
    protocol.connection_made(transport)

    async def serve(count):
        for _ in range(count):
            protocol.data_received(request)
            while state.tasks:
                await asyncio.gather(*state.tasks)
        transport.written.clear()

    protocol.data_received(request)
    loop.run_until_complete(asyncio.gather(*state.tasks))
    if not transport.written[0].startswith(b"HTTP/1.1 200 "):
        sys.exit(f"{request!r} answered {transport.written[0][:40]!r}")
    loop.run_until_complete(serve(WARM_UP))
    return lambda: loop.run_until_complete(serve(COUNTED))


def calls(serve):
    profile = cProfile.Profile()
    profile.enable()
    serve()
    profile.disable()
    return pstats.Stats(profile).total_calls / COUNTED


def instructions(serve):
    sys.breakpointhook = serve
    breakpoint()


def main(cases, counted):
    lifespan = service.router.lifespan_context(service)
    loop.run_until_complete(lifespan.__aenter__())
    servers = []
    for name, path, headers, bare_app in cases:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1:8000"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        request = ("\\r\\n".join(lines) + "\\r\\n\\r\\n").encode()
        servers.append((name, serving(service, request)))
        servers.append((name, serving(getattr(bare, bare_app), request)))
    if counted == "instructions":
        print("ready", flush=True)
        sys.stdin.readline()
    count = calls if counted == "calls" else instructions
    figures = {}
    for name, serve in servers:
        figures.setdefault(name, []).append(count(serve))
    loop.run_until_complete(lifespan.__aexit__(None, None, None))
    print(json.dumps(figures))


main(json.loads(sys.argv[2]), sys.argv[3])
"""

# (target ratio or None, for information)
TARGETS = {
    "cached read": 1.0,
    "cached read, auth on /api/v1": 1.0,
    "plain route /livez": 0.9,
    "/livez, a line per request (info)": None,
    "cached read via routing (info)": None,
    "cached read, valid token": None,
}
# Rows read from the runs above, not measured again: (service's case, bare's case).
COMPARISONS = {
    "valid token vs no-auth bare (info)": ("cached read, valid token", "cached read"),
}
AUDIENCE = "orders-service"  # the render's slug, as its tests and `make run` set it
READ_SCOPE = "items:read"
OTHER_SCOPE = "items:write"  # a token without READ_SCOPE must be refused (403)
TOKEN_SECONDS = 3600  # outlasts the run: the service keeps one verified token all along
VERIFICATIONS = 5000
COUNTED_REQUESTS = 1000  # per case and app, for calls and instructions per request
SERVER_CPU, LOAD_CPU = 0, 1
NAME = 34  # the width of the table's first column


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
# Starts a server (command, working directory, settings beyond the run's) until the run ends.
Start = Callable[[list[str], Path, Mapping[str, str]], Server]


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


@contextmanager
def oidc_provider(python: str, project: Path, env: dict[str, str]) -> Iterator[str]:
    """The render's local OpenID provider on a free port: its issuer URL, once it listens."""
    directory = project.parent / "oidc-provider"
    directory.mkdir()
    ready, log = directory / "issuer", directory / "provider.log"
    command = [python, "tools/oidc_provider.py", "serve", "--port", "0"]
    command += ["--keys", str(directory / "keys.json"), "--audience", AUDIENCE]
    command += ["--token-seconds", str(TOKEN_SECONDS), "--ready-file", str(ready)]
    with log.open("wb") as output:
        provider = subprocess.Popen(  # noqa: S603 - the rendered project's own tool
            command, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if provider.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the OpenID provider did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield ready.read_text().strip()
    finally:
        provider.terminate()
        provider.wait(timeout=30)


def access_token(python: str, project: Path, env: dict[str, str], issuer: str, scope: str) -> str:
    """A token from the provider with `scope`, or with every scope openapi.json names."""
    command = [python, "tools/oidc_provider.py", "token", "--issuer", issuer]
    command += ["--scope", scope, "--openapi", "openapi.json"]
    done = subprocess.run(  # noqa: S603 - the rendered project's own tool
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"the OpenID provider gave no token: {done.stderr.strip()}")
    return done.stdout.strip()


def verification_costs(
    python: str, project: Path, env: dict[str, str], issuer: str, token: str
) -> dict[str, float]:
    """µs of CPU per call, in the render's process: PyJWT's check of `token`, the render's
    TokenVerifier verifying it, and the verifier finding it verified before."""
    script = project.parent / "verification_timing.py"
    script.write_text(VERIFICATION_TIMING)
    command = pinned([python, str(script), issuer, AUDIENCE, token, str(VERIFICATIONS)], SERVER_CPU)
    done = subprocess.run(  # noqa: S603 - the script above, in the render's environment
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"timing the token verifier failed: {done.stderr.strip()[-2000:]}")
    return cast(dict[str, float], json.loads(done.stdout))


def call_counts(
    python: str, project: Path, env: dict[str, str], bare_dir: Path, cases: list[Case]
) -> dict[str, list[float]]:
    """Function calls per request of each case, service and bare, in the render's process;
    the service's sources are those the case's service runs (its PYTHONPATH, if any)."""
    command = [python, *per_request_arguments(project, bare_dir, cases, "calls")]
    done = subprocess.run(  # noqa: S603 - the script above, in the render's environment
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"counting calls failed: {done.stderr.strip()[-2000:]}")
    # The service logs to stdout too: the counts are the last line.
    return cast(dict[str, list[float]], json.loads(done.stdout.strip().splitlines()[-1]))


def per_request_arguments(
    project: Path, bare_dir: Path, cases: list[Case], counted: str
) -> list[str]:
    """PER_REQUEST's command line after the interpreter, for cases."""
    script = project.parent / "per_request.py"
    script.write_text(PER_REQUEST)
    described = [
        [c.name, c.service_path, dict(c.headers), "protected" if c.headers else "app"]
        for c in cases
    ]
    return [str(script), str(bare_dir), json.dumps(described), counted, str(COUNTED_REQUESTS)]


# Instrumentation off until the script is ready (importing the app under it takes minutes),
# then instructions counted only inside breakpoint(), each call's in a file of its own.
CALLGRIND = [
    "--tool=callgrind",
    "--instr-atstart=no",
    "--collect-atstart=no",
    "--toggle-collect=builtin_breakpoint",
    "--dump-after=builtin_breakpoint",
]


def instruction_counts(
    python: str, project: Path, env: dict[str, str], bare_dir: Path, cases: list[Case]
) -> dict[str, list[float]]:
    """Machine instructions per request of each case, service and bare, counted by valgrind's
    callgrind in the render's process: the same figures however busy the machine is. Empty
    without valgrind."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        return {}
    dumps = Path(tempfile.mkdtemp(dir=project.parent, prefix="callgrind-"))
    command = [valgrind, *CALLGRIND, f"--callgrind-out-file={dumps / 'counted'}", python]
    command += per_request_arguments(project, bare_dir, cases, "instructions")
    counting = subprocess.Popen(  # noqa: S603 - valgrind running the script above
        command,
        cwd=project,
        env={**env, "PYTHONHASHSEED": "0"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The service logs to stdout too: "ready" is a line of its own, and then the script waits.
    for line in cast(IO[str], counting.stdout):
        if line.strip() == "ready":
            break
    turn_on = [control, "--instr=on", str(counting.pid)]
    subprocess.run(turn_on, capture_output=True, check=True)  # noqa: S603
    out, err = counting.communicate("go\n")
    if counting.returncode != 0:
        sys.exit(f"counting instructions failed: {err.strip()[-2000:]}")
    # Each case's service, then its bare app: a file each, numbered in that order.
    written = sorted(dumps.glob("counted.*"), key=lambda path: int(path.suffix[1:]))
    totals = [int(re.findall(r"^totals: (\d+)$", d.read_text(), re.MULTILINE)[0]) for d in written]
    runs = [name for name, sides in json.loads(out.strip().splitlines()[-1]).items() for _ in sides]
    if len(totals) != len(runs):
        sys.exit(f"callgrind wrote {len(totals)} counts for {len(runs)} counted runs")
    figures: dict[str, list[float]] = {}
    for name, total in zip(runs, totals, strict=True):
        figures.setdefault(name, []).append(total / COUNTED_REQUESTS)
    return figures


def report_calls(counts: Mapping[str, list[float]]) -> None:
    print(
        "\nFunction calls per request (Python and built-in, cProfile), each request fed to "
        "uvicorn's HTTP protocol in the render's process: counts a busy machine does not move"
    )
    print(f"  {'case':{NAME}} {'service':>8} {'bare':>8}   bare / service")
    for name, (service, bare) in counts.items():
        print(f"  {name:{NAME}} {service:8.0f} {bare:8.0f}   {bare / service:5.2f}x")


def report_instructions(counts: Mapping[str, list[float]]) -> None:
    if not counts:
        print(
            "\nInstructions per request: not counted, valgrind (callgrind_control) is not installed"
        )
        return
    print(
        "\nInstructions per request (valgrind's callgrind), the same requests fed the same way: "
        "the CPU work itself, exact whatever else the machine does"
    )
    print(f"  {'case':{NAME}} {'service':>9} {'bare':>9}   bare / service | target")
    for name, (service, bare) in counts.items():
        ratio, target = bare / service, TARGETS[name]
        verdict = "" if target is None else f">= {target}x {'met' if ratio >= target else 'MISSED'}"
        print(f"  {name:{NAME}} {service:9.0f} {bare:9.0f}   {ratio:13.2f}x | {verdict}")


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
    print(f"{'':{NAME}} {'service':^35} | {'bare FastAPI':^35} | {'service / bare':^15} |")
    columns = f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us':>8}"
    print(f"{'case':{NAME}} {columns} | {columns} | {'req/s':>6} {'CPU':>8} | target")
    rows = [(name, name, name, target) for name, target in TARGETS.items()]
    rows += [(name, ours, theirs, None) for name, (ours, theirs) in COMPARISONS.items()]
    for name, service_case, bare_case, target in rows:
        service = max(results[f"{service_case}|service"], key=lambda r: r.requests_per_second)
        bare = max(results[f"{bare_case}|bare"], key=lambda r: r.requests_per_second)
        ratio = service.requests_per_second / bare.requests_per_second
        # Judged by requests per CPU second where /proc tells it: a busy machine disturbs
        # requests/s far more.
        judged = (
            bare.cpu_us / service.cpu_us if bare.cpu_us is not None and service.cpu_us else ratio
        )
        verdict = (
            "(information)"
            if target is None
            else f">= {target:.1f}x " + ("met" if judged >= target else "MISSED")
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
        print(f"{name:{NAME}} {cells[0]} | {cells[1]} | {ratio:5.2f}x {cpu_ratio} | {verdict}")
    print(
        "CPU us: the server's CPU time per request (best round of each); service / bare CPU:"
        " requests per CPU second, the ratio a busy machine disturbs least."
    )


def report_verification(costs: Mapping[str, float]) -> None:
    print(
        f"\nToken verification in the auth=oidc render's process, RS256: CPU us per call, "
        f"best of 3 rounds of {VERIFICATIONS}"
    )
    for label, key in (
        ("PyJWT: get_unverified_header + decode with a PyJWK", "pyjwt"),
        ("TokenVerifier.verify, a token not verified before", "verification"),
        ("TokenVerifier.verify, the same token again (a hit)", "hit"),
    ):
        print(f"  {label:52} {costs[key]:8.1f}")
    print(f"  verifying a token costs as much as {costs['verification'] / costs['hit']:.0f} hits")


def cpu(microseconds: float | None) -> str:
    return "-" if microseconds is None else f"{microseconds:.0f}"


def installed(project: Path) -> Path:
    """The rendered project, its environment installed."""
    run(["make", "install"], project)
    return project


def database(project: Path) -> dict[str, str]:
    """The settings of a SQLite database file of the project's own, beside it."""
    return {"ORDERS_SERVICE_DATABASE_URL": f"sqlite+aiosqlite:///{project.parent / 'bench.db'}"}


def bare_server(python: str, app: str) -> list[str]:
    """uvicorn serving `app` (module:attribute) as the service's uvicorn serves it."""
    command = [python, "-m", "uvicorn", "--no-access-log", "--no-server-header"]
    return [*command, "--log-level", "warning", app]


def create_item(service: Server, headers: Mapping[str, str]) -> dict[str, object]:
    """The item the service creates to be read: its JSON."""
    body = json.dumps({"name": "Benchmarked"}).encode()
    status, created = fetch(f"{service.url}/api/v1/items", headers, data=body)
    if status != 201:
        sys.exit(f"creating the benchmarked item answered {status}: {created!r}")
    return cast(dict[str, object], json.loads(created))


def answered_from_cache(case: Case) -> None:
    """The service answers the case's read from its cache."""
    hits = cache_hits(case.service.url)
    expect(case.url("service"), case.headers, 200)
    if cache_hits(case.service.url) != hits + 1:
        sys.exit(f"{case.url('service')} is not answered from the cache")


def valid_token_case(
    project: Path, env: dict[str, str], start: Start, servers: ExitStack
) -> tuple[Case, dict[str, float]]:
    """The auth=oidc service's cached read with a token, against the bare resource server,
    both checked; and what verifying the token costs in the render's own verifier."""
    python = str(project / ".venv/bin/python")
    issuer = servers.enter_context(oidc_provider(python, project, env))
    token = access_token(python, project, env, issuer, "")  # every scope openapi.json names
    authorized = {"Authorization": f"Bearer {token}"}
    provider = {"ORDERS_SERVICE_OIDC_ISSUER": issuer, "ORDERS_SERVICE_OIDC_AUDIENCE": AUDIENCE}
    service = start([python, "-m", "orders_service"], project, {**database(project), **provider})
    item = create_item(service, authorized)
    item_path = f"/api/v1/items/{item['id']}"
    bare_source = BARE_RESOURCE_SERVER.format(
        issuer=issuer, audience=AUDIENCE, scope=READ_SCOPE, item=item
    )
    (project.parent / "bare_oidc.py").write_text(bare_source)
    bare = start(bare_server(python, "bare_oidc:app"), project.parent, {})

    expect(f"{service.url}{item_path}", authorized, 200)  # fills the cache
    other_scope = access_token(python, project, env, issuer, OTHER_SCOPE)
    for server in (service, bare):
        url = f"{server.url}{item_path}"
        expect(url, {}, 401)
        expect(url, {"Authorization": "Bearer not.a.token"}, 401)
        expect(url, {"Authorization": f"Bearer {other_scope}"}, 403)
    case = Case("cached read, valid token", service, bare, item_path, item_path, authorized)
    return case, verification_costs(python, project, env, issuer, token)


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
    print(f"rendering and installing twice, then about {runs} s of load, then counting", flush=True)
    template = Path(os.environ.get("BENCH_TEMPLATE", REPO_ROOT))

    with tempfile.TemporaryDirectory() as scratch, ExitStack() as servers:
        base = Path(scratch)
        # One after the other: the second install finds the first's downloads in uv's cache.
        project = installed(
            render(
                {"project_name": "Orders Service", "auth": "none"},
                base / "auth-none" / "orders-service",
                src=template,
            )
        )
        oidc_project = installed(
            render(
                {"project_name": "Orders Service"},
                base / "auth-oidc" / "orders-service",
                src=template,
            )
        )
        python = str(project / ".venv/bin/python")
        env = subprocess_env(
            {
                "ORDERS_SERVICE_ENVIRONMENT": "production",
                # The limiter stays on (all middleware on) but never refuses: 429s would be
                # timed instead of the read.
                "ORDERS_SERVICE_RATE_LIMIT_REQUESTS": "1000000000",
            }
        )

        def start(command: list[str], cwd: Path, extra: Mapping[str, str]) -> Server:
            port = free_port()
            # The service reads its port from its settings, uvicorn's CLI from UVICORN_PORT.
            server_env = {**env, "ORDERS_SERVICE_PORT": str(port), "UVICORN_PORT": str(port)}
            server_env.update(extra)
            return servers.enter_context(serving(command, cwd, server_env, port))

        service = start([python, "-m", "orders_service"], project, database(project))
        item = create_item(service, {})
        item_path = f"/api/v1/items/{item['id']}"
        # The same service with an access line for every request, as before the default
        # logged only refused, failed and slow ones.
        every_line = start(
            [python, "-m", "orders_service"],
            project,
            {**database(project), "ORDERS_SERVICE_ACCESS_LOG": "all"},
        )
        # The same service with a team's authentication on its /api/v1 router: its copy of
        # the sources comes first on the path, before the project's own.
        protected_src = protect(project / "src", "orders_service")
        protected = start(
            [python, "-m", "orders_service"],
            project,
            {**database(project), "PYTHONPATH": str(protected_src)},
        )
        bare_source = BARE_APPS.format(item=item, api_router=PROTECTED_API_ROUTER)
        (base / "bare.py").write_text(REQUIRE_TOKEN + bare_source)
        bare = start(bare_server(python, "bare:app"), base, {})
        bare_protected = start(bare_server(python, "bare:protected"), base, {})

        # Fill both services' caches, then check what each case measures.
        expect(f"{service.url}{item_path}", {}, 200)
        expect(f"{protected.url}{item_path}", AUTHORIZED, 200)
        for server in (protected, bare_protected):
            expect(f"{server.url}{item_path}", {}, 401)
            expect(f"{server.url}{item_path}", {"Authorization": "Bearer not-the-token"}, 401)
        upper_case_path = f"/api/v1/items/{str(item['id']).upper()}"
        token_case, verification = valid_token_case(oidc_project, env, start, servers)
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
            Case("/livez, a line per request (info)", every_line, bare, "/livez", "/livez", {}),
            Case("cached read via routing (info)", service, bare, upper_case_path, item_path, {}),
            token_case,
        ]
        for case in cases:
            same_json(case)
        for case in (cases[0], cases[1], token_case):
            answered_from_cache(case)
        counted = {**env, **database(project)}
        calls = call_counts(python, project, counted, base, [cases[0], cases[2]])
        protected_env = {**counted, "PYTHONPATH": str(protected_src)}
        calls |= call_counts(python, project, protected_env, base, [cases[1]])
        calls = {case.name: calls[case.name] for case in cases[:3]}  # the table's order

        pinning = "no taskset: servers and load share the CPUs"
        if pinned([], SERVER_CPU):
            os.sched_setaffinity(0, {LOAD_CPU})
            pinning = f"servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}"
        results = measure(cases, load, options)
        # After the load: each count keeps a CPU busy for about a minute.
        instructions = instruction_counts(python, project, counted, base, [cases[0], cases[2]])
        instructions |= instruction_counts(python, project, protected_env, base, [cases[1]])
        instructions = {case.name: instructions[case.name] for case in cases[:3] if instructions}

    report(results, load, options, pinning)
    report_calls(calls)
    report_instructions(instructions)
    report_verification(verification)
    return 0


if __name__ == "__main__":
    sys.exit(main())
