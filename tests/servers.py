"""Throw-away PostgreSQL and Redis servers on loopback, as context managers and fixtures.

A missing server binary fails the test that needs it, never skips it: the rendered
project's integration suite is part of what this repository promises.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rendering import tail

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
POSTGRES_USER = "postgres"  # PostgreSQL refuses to run as root
DATABASE = "service_test"
READY_TIMEOUT = 60.0


class ServerError(RuntimeError):
    """A server could not be found, started or reached."""


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and what the rendered project is told."""

    port: int
    url: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin() -> Path:
    """The directory of initdb/pg_ctl: $POSTGRES_BIN, Debian's newest, or PATH."""
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
    message = (
        "PostgreSQL server binaries (initdb, pg_ctl) not found in $POSTGRES_BIN, "
        f"{POSTGRES_BIN_GLOB} or PATH: install them (apt-get install postgresql)"
    )
    raise ServerError(message)


def as_postgres_user(cmd: list[str]) -> list[str]:
    """cmd, run as the postgres user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerError("running as root, but `runuser` is missing (util-linux)")
    return [runuser, "-u", POSTGRES_USER, "--", *cmd]


def owned_tmpdir(prefix: str) -> Path:
    """A fresh directory in /tmp that the server's user owns (root's pytest dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            shutil.rmtree(path)
            message = f"running as root, but there is no {POSTGRES_USER!r} user to run PostgreSQL"
            raise ServerError(message) from None
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def checked(cmd: list[str], what: str, log: Path | None = None) -> None:
    """Run cmd; on failure raise ServerError with its output and the server log's tail."""
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=False, timeout=READY_TIMEOUT + 30
    )
    if result.returncode != 0:
        details = [f"{what} failed (exit {result.returncode}): {' '.join(cmd)}"]
        details += [tail(result.stdout + result.stderr, 30)]
        if log is not None and log.exists():
            details += [f"--- {log} ---", tail(log.read_text(errors="replace"), 30)]
        raise ServerError("\n".join(details))


def postgres_query(server: Server, sql: str) -> str:
    """The unaligned result of one query, run with psql as the postgres role."""
    libpq_url = server.url.replace("+asyncpg", "")
    query = [str(postgres_bin() / "psql"), libpq_url, "--no-psqlrc", "-tAc", sql]
    result = subprocess.run(query, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerError(f"psql failed on {sql!r}: {result.stderr.strip()}")
    return result.stdout.strip()


def postgres_rows_written(server: Server) -> int:
    """Rows inserted, updated or deleted in the test database since the server started."""
    sql = (
        "select tup_inserted + tup_updated + tup_deleted from pg_stat_database "
        "where datname = current_database()"
    )
    return int(postgres_query(server, sql))


def redis_commands_processed(server: Server) -> int:
    """Commands the Redis server has processed since it started (INFO's counter)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"INFO stats\r\n")
        reply = b""
        while b"total_commands_processed:" not in reply or not reply.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    match = re.search(rb"total_commands_processed:(\d+)", reply)
    if match is None:
        raise ServerError(f"no total_commands_processed in Redis's INFO reply: {reply[:200]!r}")
    return int(match.group(1))


@contextmanager
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL cluster with trust auth on 127.0.0.1, removed on exit."""
    bindir = postgres_bin()
    root = owned_tmpdir("template-tests-postgres-")
    data, log, port = root / "data", root / "postgres.log", free_port()
    try:
        initdb = [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
        ]
        checked(as_postgres_user([*initdb, "-E", "UTF8", "--no-sync"]), "initdb")
        # Durability is worth nothing in a throw-away cluster; speed is.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log)]
        start = [*pg_ctl, "-o", options, "-w", "-t", str(int(READY_TIMEOUT)), "start"]
        checked(as_postgres_user(start), "pg_ctl start", log)
        try:
            host = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            checked([str(bindir / "createdb"), *host, DATABASE], "createdb", log)
            yield Server(port, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}")
        finally:
            stop = [*pg_ctl, "-m", "fast", "-w", "stop"]
            subprocess.run(as_postgres_user(stop), capture_output=True, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[Server]:
    """A Redis server without persistence on 127.0.0.1, stopped on exit."""
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server not found on PATH: install it (apt-get install redis-server)"
        raise ServerError(message)
    root, port = Path(tempfile.mkdtemp(prefix="template-tests-redis-")), free_port()
    log = root / "redis.log"
    command = [
        executable,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(root),
    ]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    try:
        with log.open("w") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not redis_answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    state = f"exited {process.returncode}" if process.returncode else "timed out"
                    message = f"redis-server {state} before answering PING on port {port}"
                    raise ServerError(f"{message}\n{tail(log.read_text(errors='replace'), 30)}")
                time.sleep(0.1)
            yield Server(port, f"redis://127.0.0.1:{port}/0")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A PostgreSQL server for the session (fails the test if it cannot be had)."""
    try:
        with postgres_server() as server:
            yield server
    except ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def redis() -> Iterator[Server]:
    """A Redis server for the session (fails the test if it cannot be had)."""
    try:
        with redis_server() as server:
            yield server
    except ServerError as error:
        pytest.fail(str(error), pytrace=False)
