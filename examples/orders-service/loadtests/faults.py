"""`make chaos-local`: break the service's dependencies under load, and check its answers.

It starts its own servers on free loopback ports, the local OpenID provider and the service,
pinned to one CPU when `taskset` exists, then keeps twenty keep-alive clients busy (70 %
reads of known ids, 20 % lists, 10 % creates with unique names) while these experiments
run in turn:

- Redis killed, then restarted; Redis frozen (`DEBUG SLEEP`);
- PostgreSQL restarted; PostgreSQL stopped for seconds (an immediate stop), then started;
- both stopped at once, past the readiness grace period;
- SIGTERM to the service while creates wait on the database's write lock.

Each experiment is checked as an SRE would before production: no 500s (a dependency outage
is a 503 with `Retry-After`), no dropped connections (only requests the stopping service
never received may fail), no traceback logged for an outage, recovery within a stated
bound once the dependency is back, and `/readyz` as api/health.py's policy says. At the
end every acknowledged create must be in the database exactly once. A table sums it up;
the exit status is 1 when a check failed, and each failure is named.

Bounded: at most MAX_REQUESTS requests, about a minute in all, nothing outside 127.0.0.1.
Run from the project's root: `python -m loadtests.faults` (`--log FILE` keeps the
service's log lines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import astuple, dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests.run import free_port
from tools.oidc_provider import (
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    ServerOptions,
    fetch_token,
    openapi_scopes,
    start_server,
)

PACKAGE = "orders_service"
# The prefix of the service's settings in the environment (config.py's ENV_PREFIX).
ENV_PREFIX = "ORDERS_SERVICE_"
OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"
AUDIENCE = "orders-service"
HOST = "127.0.0.1"
ITEMS = "/api/v1/items"

CLIENTS = 20
# The mix: reads of known ids, lists of the first page, and creates for the rest.
READS = 0.7
LISTS = 0.2
REQUESTS_PER_CLIENT_SECOND = 6.0
# The whole run stops there, whatever happens.
MAX_REQUESTS = 60_000
SEED_ITEMS = 50
REQUEST_TIMEOUT_SECONDS = 10.0
# The database's bounded waits (pool, connect) are 5 s: nothing may wait much longer.
WORST_LATENCY_SECONDS = 6.0
# As the kubelet probes: a fresh connection each time, a 1 s timeout. One slow answer on a
# busy machine fails no check; two in a row do, as a probe held by a frozen dependency would.
PROBE_INTERVAL_SECONDS = 0.25
PROBE_TIMEOUT_SECONDS = 1.0
PROBE_FAILURE_THRESHOLD = 2
# The service's READINESS_GRACE_SECONDS, short here so that the run stays short.
READINESS_GRACE_SECONDS = 2.0
# Seconds from the dependency's return to the first success after which nothing fails.
DATABASE_RECOVERY_SECONDS = 5.0
# The cache's circuit breaker tries Redis again 10 s after it opened.
CACHE_RECOVERY_SECONDS = 12.0
# The service's graceful shutdown (GRACEFUL_SHUTDOWN_SECONDS, 20 s) and a margin.
SHUTDOWN_SECONDS = 25.0
# A request sent this long before SIGTERM has been read: it must be answered.
UNREAD_SECONDS = 0.5
STARTUP_SECONDS = 60.0

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
POSTGRES_USER = "postgres"  # PostgreSQL refuses to run as root
DATABASE = "faults"
ITEMS_SQL = "SELECT id, name FROM items"


class SetupError(RuntimeError):
    """A server could not be found, started or reached: no experiment ran."""


def checked(command: list[str], what: str) -> str:
    """Run a set-up command; its output, or SetupError with it."""
    done = subprocess.run(  # noqa: S603 - our own argv
        command, capture_output=True, text=True, check=False, timeout=STARTUP_SECONDS
    )
    if done.returncode != 0:
        raise SetupError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


async def checked_async(command: list[str], what: str) -> None:
    """Run a fault's command without stopping the load generator's event loop."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise SetupError(f"{what} failed ({process.returncode}): {output.decode(errors='replace')}")


def postgres_bin() -> Path:
    """The directory of initdb and pg_ctl: $POSTGRES_BIN, Debian's newest, or PATH."""
    candidates = [Path(os.environ["POSTGRES_BIN"])] if "POSTGRES_BIN" in os.environ else []
    candidates += sorted(
        Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise SetupError(
        f"PostgreSQL's initdb and pg_ctl are not in $POSTGRES_BIN, {POSTGRES_BIN_GLOB} or PATH: "
        "install them (apt-get install postgresql)"
    )


class Postgres:
    """A throwaway cluster on loopback with trust authentication, removed with its directory.

    `fsync` is off (the OS keeps what a killed server wrote), commits are synchronous: an
    acknowledged write survives an immediate stop, as it would in production.
    """

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.root = root
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{DATABASE}"

    def create(self) -> None:
        if os.geteuid() == 0:
            account = pwd.getpwnam(POSTGRES_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        initdb = [str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", "postgres"]
        checked(self.as_owner([*initdb, "-A", "trust", "-E", "UTF8", "--no-sync"]), "initdb")
        checked(self.as_owner(self.pg_ctl("start")), "pg_ctl start")
        host = ["-h", HOST, "-p", str(self.port), "-U", "postgres"]
        checked([str(self.bin / "createdb"), *host, DATABASE], "createdb")

    def pg_ctl(self, action: str, mode: str = "fast") -> list[str]:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-w"]
        command += ["-l", str(self.root / "postgres.log")]
        if action == "stop":
            return [*command, "-m", mode, "stop"]
        options = (
            f"-c listen_addresses={HOST} -p {self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off"
        )
        return [*command, "-m", mode, "-o", options, action]

    @staticmethod
    def as_owner(command: list[str]) -> list[str]:
        """The command as the postgres user when we are root: PostgreSQL refuses root."""
        if os.geteuid() != 0:
            return command
        runuser = shutil.which("runuser")
        if runuser is None:
            raise SetupError("running as root, but `runuser` (util-linux) is missing")
        return [runuser, "-u", POSTGRES_USER, "--", *command]

    async def stop(self, mode: str) -> None:
        await checked_async(self.as_owner(self.pg_ctl("stop", mode)), "pg_ctl stop")

    async def start(self) -> None:
        await checked_async(self.as_owner(self.pg_ctl("start")), "pg_ctl start")

    async def restart(self) -> None:
        await checked_async(self.as_owner(self.pg_ctl("restart")), "pg_ctl restart")

    async def hold_writes(self, seconds: float) -> None:
        """Block inserts into the items table for `seconds`; reads go on."""
        lock = f"BEGIN; LOCK TABLE items IN EXCLUSIVE MODE; SELECT pg_sleep({seconds}); COMMIT"
        await checked_async(self.psql(lock), "psql LOCK TABLE")

    def psql(self, sql: str) -> list[str]:
        url = f"postgresql://postgres@{HOST}:{self.port}/{DATABASE}"
        return [str(self.bin / "psql"), url, "--no-psqlrc", "-qtAF", "\t", "-c", sql]

    def items(self, prefix: str) -> list[tuple[str, str]]:
        """(id, name) of every item whose name starts with prefix."""
        rows = [row.split("\t") for row in checked(self.psql(ITEMS_SQL), "psql").splitlines()]
        return [(row[0], row[1]) for row in rows if row[1].startswith(prefix)]

    def stop_now(self) -> None:
        subprocess.run(  # noqa: S603 - our own argv
            self.as_owner(self.pg_ctl("stop", "immediate")), capture_output=True, check=False
        )


class Redis:
    """A throwaway Redis without persistence on loopback, to kill, restart and freeze."""

    def __init__(self, root: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise SetupError(
                "redis-server is not on PATH: install it (apt-get install redis-server)"
            )
        self.root = root
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.command = [executable, "--port", str(self.port), "--bind", HOST, "--dir", str(root)]
        # DEBUG SLEEP freezes it; Redis 7 allows DEBUG only where configured.
        self.command += ["--save", "", "--appendonly", "no", "--enable-debug-command", "local"]
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = await asyncio.to_thread(self.launch)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not await self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"redis-server did not answer PING on port {self.port}")
            await asyncio.sleep(0.05)

    def launch(self) -> subprocess.Popen[bytes]:
        with (self.root / "redis.log").open("ab") as log:
            return subprocess.Popen(  # noqa: S603 - our own argv
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def answers(self) -> bool:
        try:
            return (await self.call(b"PING")).startswith(b"+PONG")
        except OSError:
            return False

    async def freeze(self, seconds: float) -> None:
        """Redis answers nobody for `seconds`, connections kept open: a stalled server."""
        await self.call(f"DEBUG SLEEP {seconds}".encode(), within=seconds + 5)

    async def service_commands(self) -> int:
        """Commands Redis has run since it started, but for this script's own."""
        reply = (await self.call(b"INFO commandstats")).decode()
        calls = 0
        for line in reply.splitlines():
            name, _, stats = line.partition(":")
            if name.startswith("cmdstat_") and name not in OWN_COMMANDS:
                calls += int(stats.split(",")[0].removeprefix("calls="))
        return calls

    async def call(self, command: bytes, within: float = 2.0) -> bytes:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(HOST, self.port)
            try:
                writer.write(command + b"\r\n")
                reply = await reader.readline()
                if reply.startswith(b"$"):
                    reply = await reader.readexactly(int(reply[1:]) + 2)
                return reply
            finally:
                writer.close()


OWN_COMMANDS = frozenset({"cmdstat_ping", "cmdstat_info", "cmdstat_debug"})


class Service:
    """The service as production runs it (`python -m` its package), its log lines in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = int(env[f"{ENV_PREFIX}PORT"])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", PACKAGE]
        taskset = shutil.which("taskset")
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if taskset is not None and len(cpus) > 1:
            # One CPU, as a pod limited to one would have; the servers and the load float.
            command = [taskset, "--cpu-list", str(cpus[-1]), *command]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise SetupError(f"the service exited before it was ready:\n{self.log_tail()}")
            with suppress(OSError, TimeoutError, EOFError, asyncio.IncompleteReadError):
                if (await probe(self.port, "/readyz")).status == 200:  # noqa: PLR2004
                    return
            await asyncio.sleep(0.1)
        raise SetupError(f"/readyz did not answer 200 within {STARTUP_SECONDS:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def log_entries(self) -> list[dict[str, object]]:
        """The service's JSON log lines (anything else it printed is left out)."""
        entries = []
        for line in self.log.read_text(errors="replace").splitlines():
            with suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        """The JSON object of the body; empty when it is not one (a server's bare 500)."""
        if "json" not in self.headers.get("content-type", ""):
            return {}
        document = json.loads(self.body)
        return document if isinstance(document, dict) else {}


class Connection:
    """One keep-alive HTTP/1.1 connection, used for one request at a time.

    Written out rather than taken from a client library: a pool that quietly opens a new
    connection when the server dropped one would hide exactly what this script looks for.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(HOST, self.port)
        reader, writer = self._streams
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        try:
            writer.write("\r\n".join([*lines, "", ""]).encode() + body)
            await writer.drain()
            answer = await read_answer(reader)
        except BaseException:
            self.close()
            raise
        if answer.headers.get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readline()
    if not status_line:
        raise EOFError("the connection closed before an answer")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


async def probe(port: int, path: str) -> Answer:
    """GET path on a fresh connection, within PROBE_TIMEOUT_SECONDS."""
    connection = Connection(port)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            return await connection.request("GET", path, {})
    finally:
        connection.close()


def transport_error(error: BaseException) -> str:
    """What a client sees when no HTTP answer came, in a word."""
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(error, EOFError | asyncio.IncompleteReadError):
        return "closed"
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


@dataclass(slots=True)
class Outcome:
    """One request: when it started (wall clock), how long it took, what came back."""

    operation: str
    request_id: str
    started: float
    seconds: float = 0.0
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    problem_type: str | None = None
    name: str | None = None
    item_id: str | None = None

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500  # noqa: PLR2004


@dataclass(slots=True)
class Probe:
    at: float
    seconds: float
    status: int | None
    checks: dict[str, str]


class Load:
    """CLIENTS keep-alive clients, each paced to REQUESTS_PER_CLIENT_SECOND."""

    def __init__(self, port: int, headers: dict[str, str], run: str) -> None:
        self.port = port
        self.headers = headers
        self.run = run
        self.known_ids: list[str] = []
        self.outcomes: list[Outcome] = []
        self.probes: list[Probe] = []
        self.creates_in_flight = 0
        self.stopped = asyncio.Event()
        self._random = random.Random(run)  # noqa: S311 - a mix of requests, not a secret
        self._sequence = 0

    def next_id(self) -> str:
        self._sequence += 1
        return f"{self.run}-{self._sequence}"

    async def seed(self, count: int) -> None:
        connection = Connection(self.port)
        try:
            for _ in range(count):
                outcome = await self.send(connection, "create")
                if outcome.status != 201:  # noqa: PLR2004
                    raise SetupError(f"seeding an item answered {outcome.status or outcome.error}")
        finally:
            connection.close()

    async def client(self) -> None:
        connection = Connection(self.port)
        interval = 1 / REQUESTS_PER_CLIENT_SECOND
        # Clients start spread over one interval, not all at once.
        next_at = time.monotonic() + self._random.random() * interval
        try:
            while not self.stopped.is_set() and len(self.outcomes) < MAX_REQUESTS:
                if (delay := next_at - time.monotonic()) > 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self.stopped.wait(), delay)
                    continue
                # A client running late sends at once, then keeps its pace from now.
                next_at = max(next_at + interval, time.monotonic())
                draw = self._random.random()
                operation = "read" if draw < READS else "list" if draw < READS + LISTS else "create"
                await self.send(connection, operation)
        finally:
            connection.close()

    async def send(self, connection: Connection, operation: str) -> Outcome:
        request_id = self.next_id()
        headers = {**self.headers, "X-Request-ID": request_id}
        outcome = Outcome(operation, request_id, time.time())
        body = b""
        if operation == "read":
            method, path = "GET", f"{ITEMS}/{self._random.choice(self.known_ids)}"
        elif operation == "list":
            method, path = "GET", f"{ITEMS}?limit=20"
        else:
            method, path, outcome.name = "POST", ITEMS, f"{self.run}-item-{request_id}"
            body = json.dumps({"name": outcome.name}).encode()
            self.creates_in_flight += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                answer = await connection.request(method, path, headers, body)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as error:
            outcome.error = transport_error(error)
        else:
            outcome.status = answer.status
            outcome.retry_after = answer.headers.get("retry-after")
            if answer.status >= 400:  # noqa: PLR2004
                problem = answer.json().get("type")
                outcome.problem_type = problem if isinstance(problem, str) else None
            elif operation == "create":
                outcome.item_id = str(answer.json()["id"])
                self.known_ids.append(outcome.item_id)
        finally:
            outcome.seconds = time.perf_counter() - started
            if operation == "create":
                self.creates_in_flight -= 1
        self.outcomes.append(outcome)
        return outcome

    async def probe_readiness(self) -> None:
        """/readyz as the kubelet polls it, for as long as the load runs."""
        while not self.stopped.is_set():
            at, started = time.time(), time.perf_counter()
            try:
                answer = await probe(self.port, "/readyz")
            except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError):
                self.probes.append(Probe(at, time.perf_counter() - started, None, {}))
            else:
                checks = answer.json().get("checks")
                checks = checks if isinstance(checks, dict) else {}
                self.probes.append(Probe(at, time.perf_counter() - started, answer.status, checks))
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), PROBE_INTERVAL_SECONDS)


@dataclass(slots=True)
class Experiment:
    """A stretch of the run: when the fault began, when the dependency was back, the checks."""

    name: str
    kind: str
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    fault_at: float | None = None
    returned_at: float | None = None
    cache_back_at: float | None = None
    exit_code: int | None = None
    writes_in_flight: int = 0
    failures: list[str] = field(default_factory=list)

    def outcomes(self, load: Load) -> list[Outcome]:
        return [o for o in load.outcomes if self.started <= o.started < self.ended]

    def probes(self, load: Load) -> list[Probe]:
        return [p for p in load.probes if self.started <= p.at < self.ended]


class Lab:
    """The servers, the service and the load, and the experiments run on them so far."""

    def __init__(
        self,
        database: Postgres,
        redis: Redis,
        service: Service,
        load: Load,
    ) -> None:
        self.database = database
        self.redis = redis
        self.service = service
        self.load = load
        self.experiments: list[Experiment] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def run(
        self, name: str, kind: str, fault: Callable[[Experiment], Awaitable[None]]
    ) -> None:
        experiment = Experiment(name, kind)
        self.experiments.append(experiment)
        try:
            await fault(experiment)
        finally:
            experiment.ended = time.time()

    async def baseline(self, experiment: Experiment) -> None:
        """Seed the items the reads ask for, start the load, and watch it run unbroken."""
        await self.load.seed(SEED_ITEMS)
        self.tasks = [asyncio.create_task(self.load.client()) for _ in range(CLIENTS)]
        self.tasks.append(asyncio.create_task(self.load.probe_readiness()))
        await asyncio.sleep(3)

    async def stop_load(self) -> None:
        self.load.stopped.set()
        for result in await asyncio.gather(*self.tasks, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def cache_back(self, experiment: Experiment) -> None:
        """Wait until the service sends Redis commands again (its breaker closed)."""
        await asyncio.sleep(0.5)  # commands queued during a freeze land first
        before = await self.redis.service_commands()
        deadline = time.monotonic() + CACHE_RECOVERY_SECONDS + 5
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if await self.redis.service_commands() > before:
                experiment.cache_back_at = time.time()
                return

    async def redis_killed(self, experiment: Experiment) -> None:
        await asyncio.sleep(1)
        experiment.fault_at = time.time()
        self.redis.kill()
        await asyncio.sleep(3)
        await self.redis.start()
        experiment.returned_at = time.time()
        await self.cache_back(experiment)
        await asyncio.sleep(1)

    async def redis_frozen(self, experiment: Experiment) -> None:
        await asyncio.sleep(1)
        experiment.fault_at = time.time()
        await self.redis.freeze(3)
        experiment.returned_at = time.time()
        await self.cache_back(experiment)
        await asyncio.sleep(1)

    async def postgres_restarted(self, experiment: Experiment) -> None:
        await asyncio.sleep(1)
        experiment.fault_at = time.time()
        await self.database.restart()
        experiment.returned_at = time.time()
        await asyncio.sleep(3)

    async def postgres_stopped(self, experiment: Experiment) -> None:
        await asyncio.sleep(1)
        experiment.fault_at = time.time()
        # Immediate: as a crash or a lost node, connections end without a goodbye.
        await self.database.stop("immediate")
        await asyncio.sleep(5)
        await self.database.start()
        experiment.returned_at = time.time()
        await asyncio.sleep(3)

    async def both_down(self, experiment: Experiment) -> None:
        await asyncio.sleep(1)
        experiment.fault_at = time.time()
        self.redis.kill()
        await self.database.stop("immediate")
        await asyncio.sleep(READINESS_GRACE_SECONDS + 2)
        await asyncio.gather(self.redis.start(), self.database.start())
        experiment.returned_at = time.time()
        await asyncio.sleep(3)

    async def terminated(self, experiment: Experiment) -> None:
        """SIGTERM while creates wait on the database's write lock: they must still be answered."""
        await asyncio.sleep(1)
        lock = asyncio.create_task(self.database.hold_writes(2))
        await asyncio.sleep(1)
        experiment.writes_in_flight = self.load.creates_in_flight
        experiment.fault_at = time.time()
        process = self.service.process
        if process is None:
            raise SetupError("the service is not running")
        process.send_signal(signal.SIGTERM)
        try:
            experiment.exit_code = await asyncio.to_thread(process.wait, SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            experiment.failures.append(
                f"the service was still running {SHUTDOWN_SECONDS:.0f} s after SIGTERM"
            )
        experiment.returned_at = time.time()
        await lock
        await asyncio.sleep(0.5)


DEPENDENCY_UNAVAILABLE = "urn:problem-type:dependency-unavailable"
ANSWERED = frozenset({200, 201})
# What /readyz must report unavailable during each kind of fault.
DEPENDENCIES = {"cache": ("cache",), "database": ("database",), "both": ("database", "cache")}


TABLE_HEADER = (
    "experiment",
    "requests",
    "errors",
    "worst latency",
    "recovery",
    "/readyz",
    "creates 201 / rows",
)


@dataclass(frozen=True, slots=True)
class Row:
    experiment: str
    requests: str
    errors: str
    worst: str
    recovery: str
    readiness: str
    writes: str


def judge(
    experiment: Experiment, load: Load, log: list[dict[str, object]], stored: dict[str, list[str]]
) -> Row:
    """Check one experiment against what the service promises; its line of the table."""
    outcomes, probes = experiment.outcomes(load), experiment.probes(load)
    failures = experiment.failures
    logged = {
        str(entry["request_id"]) for entry in log if "status" in entry and "request_id" in entry
    }

    wrong = [o for o in outcomes if o.status is not None and o.status not in ANSWERED | {503}]
    if wrong:
        failures.append(f"answered {counted(o.status for o in wrong)} ({first(wrong, experiment)})")
    outages = [o for o in outcomes if o.status == 503]  # noqa: PLR2004
    if outages and experiment.kind in {"none", "cache", "shutdown"}:
        failures.append(f"answered 503 x{len(outages)} with the database up")
    if unmarked := [
        o for o in outages if not o.retry_after or o.problem_type != DEPENDENCY_UNAVAILABLE
    ]:
        failures.append(
            f"503 without Retry-After or type {DEPENDENCY_UNAVAILABLE} x{len(unmarked)} "
            f"({first(unmarked, experiment)})"
        )

    dropped = [o for o in outcomes if o.error is not None]
    errors = [str(o.status) for o in outcomes if o.status is not None and o.status not in ANSWERED]
    if experiment.kind == "shutdown" and experiment.fault_at is not None:
        # A stopping server refuses what comes after SIGTERM, and may close a connection
        # whose request it had not read yet; whatever it was serving, it must answer.
        fault_at = experiment.fault_at
        refused = {o.request_id for o in dropped if o.started >= fault_at}
        refused |= {
            o.request_id
            for o in dropped
            if fault_at - UNREAD_SECONDS <= o.started < fault_at and o.request_id not in logged
        }
        errors += [f"{o.error} after SIGTERM" for o in dropped if o.request_id in refused]
        dropped = [o for o in dropped if o.request_id not in refused]
    errors += [str(o.error) for o in dropped]
    if dropped:
        answered = sum(o.request_id in logged for o in dropped)
        failures.append(
            f"transport errors {counted(o.error for o in dropped)}, {answered} of them for requests "
            f"the service logged as answered ({first(dropped, experiment)})"
        )
    worst = max((o.seconds for o in outcomes), default=0.0)
    if worst > WORST_LATENCY_SECONDS:
        slow = max(outcomes, key=lambda o: o.seconds)
        failures.append(
            f"worst latency {worst:.2f} s > {WORST_LATENCY_SECONDS:.0f} s ({first([slow], experiment)})"
        )

    recovery = judge_recovery(experiment, outcomes)
    readiness = judge_readiness(experiment, probes)
    tracebacks = [
        entry
        for entry in log
        if "exception" in entry and experiment.started <= logged_at(entry) < experiment.ended
    ]
    if tracebacks and not any(o.status == 500 for o in outcomes):  # noqa: PLR2004
        last_line = str(tracebacks[0]["exception"]).strip().splitlines()[-1]
        failures.append(f"{len(tracebacks)} tracebacks logged, yet no 500 answered ({last_line})")

    creates = [o for o in outcomes if o.operation == "create"]
    writes = judge_writes(experiment, creates, stored)
    return Row(
        experiment.name,
        str(len(outcomes)),
        counted(errors) or "none",
        f"{worst:.2f} s",
        recovery,
        readiness,
        writes,
    )


def judge_recovery(experiment: Experiment, outcomes: list[Outcome]) -> str:
    """Seconds from the dependency's return to the service using it again."""
    if experiment.returned_at is None:
        return "-"
    if experiment.kind == "shutdown":
        if experiment.exit_code != 0:
            experiment.failures.append(
                f"the service exited {experiment.exit_code} after SIGTERM, not 0"
            )
        if experiment.writes_in_flight == 0:
            experiment.failures.append("no create was in flight at SIGTERM: nothing was tested")
        stopped = experiment.returned_at - (experiment.fault_at or experiment.returned_at)
        in_flight = experiment.writes_in_flight
        return f"exit {experiment.exit_code} in {stopped:.1f} s, {in_flight} creates in flight"
    if experiment.kind == "cache":
        if experiment.cache_back_at is None:
            experiment.failures.append(
                f"the service did not use Redis again within {CACHE_RECOVERY_SECONDS:.0f} s"
            )
            return "never"
        seconds = experiment.cache_back_at - experiment.returned_at
        bound = CACHE_RECOVERY_SECONDS
    else:
        recovered = recovered_at(outcomes, experiment.returned_at)
        if recovered is None:
            experiment.failures.append("no database request succeeded after the database returned")
            return "never"
        seconds = recovered - experiment.returned_at
        bound = DATABASE_RECOVERY_SECONDS
    if seconds > bound:
        experiment.failures.append(
            f"recovered {seconds:.1f} s after the dependency returned (> {bound:.0f} s)"
        )
    return f"{seconds:.2f} s"


def recovered_at(outcomes: list[Outcome], returned_at: float) -> float | None:
    """When the first database request succeeded after the last failure since `returned_at`
    (reads are left out: the cache answers them through an outage)."""
    since = [o for o in outcomes if o.started >= returned_at]
    last_failure = max((o.started for o in since if o.failed), default=returned_at)
    return min(
        (
            o.ended
            for o in since
            if o.started >= last_failure and not o.failed and o.operation != "read"
        ),
        default=None,
    )


def judge_readiness(experiment: Experiment, probes: list[Probe]) -> str:
    """/readyz as api/health.py's policy says: 503 only when the database has been down for
    the grace period while the cache is down too; never held up by a frozen dependency."""
    if experiment.kind == "shutdown" and experiment.fault_at is not None:
        probes = [p for p in probes if p.at < experiment.fault_at]
    failures = experiment.failures
    if (timeouts := longest_run(p.status is None for p in probes)) >= PROBE_FAILURE_THRESHOLD:
        failures.append(
            f"/readyz unanswered within {PROBE_TIMEOUT_SECONDS:.0f} s {timeouts} times in a row"
        )
    unready = [p for p in probes if p.status == 503]  # noqa: PLR2004
    if experiment.kind == "both":
        judge_unready(experiment, unready)
    elif unready:
        failures.append(
            f"/readyz answered 503 x{len(unready)}: the pod left rotation with something to serve"
        )
    if experiment.fault_at is not None and experiment.returned_at is not None:
        fault_at, returned_at = experiment.fault_at, experiment.returned_at
        during = [p for p in probes if fault_at <= p.at < returned_at]
        # A fault of a few probes' length must show: a restart may be over before one.
        watched = returned_at - fault_at >= 4 * PROBE_INTERVAL_SECONDS
        for dependency in DEPENDENCIES.get(experiment.kind, ()) if watched else ():
            if not any(p.checks.get(dependency) == "unavailable" for p in during):
                failures.append(
                    f"/readyz never reported the {dependency} unavailable during the fault"
                )
    worst = max((p.seconds for p in probes), default=0.0)
    return f"{counted(str(p.status or 'timeout') for p in probes)}, worst {worst:.2f} s"


def longest_run(flags: Iterator[bool]) -> int:
    """The most True values in a row."""
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def judge_unready(experiment: Experiment, unready: list[Probe]) -> None:
    """Both down: unready after the grace period, ready again soon after the database returns."""
    failures = experiment.failures
    if experiment.fault_at is None or experiment.returned_at is None:
        return
    if not unready:
        failures.append(
            f"/readyz stayed 200 with the database and the cache down {READINESS_GRACE_SECONDS:.0f}+ s"
        )
        return
    # Judged by when the answer came: the service decides as it answers.
    answered = unready[0].at + unready[0].seconds
    if (early := answered - experiment.fault_at) < READINESS_GRACE_SECONDS:
        failures.append(
            f"/readyz answered 503 {early:.2f} s into the fault, before the grace period"
        )
    if (late := unready[-1].at - experiment.returned_at) > DATABASE_RECOVERY_SECONDS:
        failures.append(f"/readyz still 503 {late:.1f} s after the database returned")


def stored_by_name(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The ids stored under each name: one each, unless a create was stored twice."""
    stored: dict[str, list[str]] = {}
    for item_id, name in rows:
        stored.setdefault(name, []).append(item_id)
    return stored


def judge_writes(
    experiment: Experiment, creates: list[Outcome], stored: dict[str, list[str]]
) -> str:
    """Every acknowledged create stored exactly once; how many unanswered ones were stored."""
    acknowledged = [o for o in creates if o.status == 201]  # noqa: PLR2004
    if missing := [o for o in acknowledged if stored.get(str(o.name)) != [o.item_id]]:
        found = stored.get(str(missing[0].name), [])
        experiment.failures.append(
            f"{len(missing)} acknowledged creates not stored exactly once "
            f"({first(missing, experiment)}, stored as {found})"
        )
    unanswered = sum(o.status != 201 and o.name in stored for o in creates)  # noqa: PLR2004
    writes = f"{len(acknowledged)} / {len(acknowledged) - len(missing)}"
    return writes + (f" (+{unanswered} unanswered)" if unanswered else "")


def counted(values: Iterator[object] | list[str]) -> str:
    """`503 x12, closed x1`: each value and how often it came, most frequent first."""
    return ", ".join(f"{value} x{count}" for value, count in Counter(values).most_common())


def first(outcomes: list[Outcome], experiment: Experiment) -> str:
    """The earliest of outcomes, for a failure's message: its request ID is in the log."""
    o = min(outcomes, key=lambda o: o.started)
    at = o.started - experiment.started
    return f"first: {o.operation} {o.request_id} at +{at:.2f} s -> {o.status or o.error}"


def logged_at(entry: dict[str, object]) -> float:
    timestamp = entry.get("timestamp")
    return datetime.fromisoformat(timestamp).timestamp() if isinstance(timestamp, str) else 0.0


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, under TABLE_HEADER."""
    cells = [TABLE_HEADER, *(astuple(row) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(TABLE_HEADER))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, " | ".join("-" * w for w in widths))
    return "\n".join(f"| {line} |" for line in lines)


@contextmanager
def local_provider(scratch: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """The local OpenID provider, serving in this process: the service's settings for it,
    and the headers that carry its token (every scope openapi.json names)."""
    keys = scratch / "keys.json"
    issuer, provider = start_server(ServerOptions(port=0, keys=keys, audience=AUDIENCE))
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    try:
        scopes = openapi_scopes(OPENAPI)
        token = fetch_token(issuer, scopes, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
        settings = {f"{ENV_PREFIX}OIDC_ISSUER": issuer, f"{ENV_PREFIX}OIDC_AUDIENCE": AUDIENCE}
        yield settings, {"Authorization": f"Bearer {token}"}
    finally:
        provider.shutdown()


async def campaign(lab: Lab) -> None:
    """Start the service, then run every experiment under load."""
    await lab.redis.start()
    lab.service.start()
    await lab.service.wait_ready()
    try:
        await lab.run("no fault", "none", lab.baseline)
        await lab.run("Redis killed 3 s", "cache", lab.redis_killed)
        await lab.run("Redis frozen 3 s", "cache", lab.redis_frozen)
        await lab.run("PostgreSQL restarted", "database", lab.postgres_restarted)
        await lab.run("PostgreSQL stopped 5 s", "database", lab.postgres_stopped)
        await lab.run("both stopped 4 s", "both", lab.both_down)
        await lab.run("SIGTERM, writes in flight", "shutdown", lab.terminated)
    finally:
        await lab.stop_load()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, help="keep the service's log lines in this file")
    options = parser.parse_args()
    run = f"faults-{os.urandom(4).hex()}"
    started = time.monotonic()
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-")))
        env = {
            **os.environ,
            f"{ENV_PREFIX}PORT": str(free_port()),
            f"{ENV_PREFIX}LOG_LEVEL": "INFO",
            # A line for every answer: `judge` tells from them what the service answered.
            f"{ENV_PREFIX}ACCESS_LOG": "all",
            f"{ENV_PREFIX}READINESS_GRACE_SECONDS": str(READINESS_GRACE_SECONDS),
            # The limiter runs (in Redis where the service has it) but never refuses the load.
            f"{ENV_PREFIX}RATE_LIMIT_REQUESTS": str(MAX_REQUESTS * 10),
        }
        try:
            cluster = stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-postgres-"))
            database = Postgres(Path(cluster))
            database.create()
            stack.callback(database.stop_now)
            env[f"{ENV_PREFIX}DATABASE_URL"] = database.url
            redis = Redis(scratch)
            stack.callback(redis.kill)
            env[f"{ENV_PREFIX}CACHE_URL"] = redis.url
            settings, headers = stack.enter_context(local_provider(scratch))
            env.update(settings)
            service = Service(env, scratch / "service.log")
            stack.callback(service.stop)
            load = Load(service.port, headers, run)
            lab = Lab(database, redis, service, load)
            asyncio.run(campaign(lab))
        except SetupError as error:
            sys.exit(f"chaos-local could not run: {error}")
        service.stop()
        if options.log is not None:
            shutil.copyfile(service.log, options.log)
        log = service.log_entries()
        stored = stored_by_name(database.items(run))
        rows = [judge(experiment, load, log, stored) for experiment in lab.experiments]
    creates = [o for o in load.outcomes if o.operation == "create"]
    acknowledged = sum(o.status == 201 for o in creates)  # noqa: PLR2004
    writes = (
        f"{acknowledged} acknowledged creates, {len(stored)} rows; "
        f"{len(creates) - acknowledged} creates unanswered or refused"
    )
    if unknown := set(stored) - {o.name for o in creates}:
        lab.experiments[-1].failures.append(
            f"{len(unknown)} rows nobody created: {sorted(unknown)[:3]}"
        )
    failures = [f"{e.name}: {failure}" for e in lab.experiments for failure in e.failures]
    seconds = time.monotonic() - started
    report = [
        table(rows),
        "",
        f"{len(load.outcomes)} requests from {CLIENTS} clients; the whole run took {seconds:.0f} s",
        writes,
        "",
        *(f"FAILED {failure}" for failure in failures),
        "chaos-local: " + (f"{len(failures)} checks failed" if failures else "every check passed"),
    ]
    sys.stdout.write("\n".join(report) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
