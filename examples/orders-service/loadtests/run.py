"""`make loadtest`: start the service on loopback, run Locust headless against it, print the summary.

The service gets a fresh SQLite file and a free port, and Locust a token from the local OpenID
provider; nothing outside 127.0.0.1 is touched. Run from the project's root:
`python -m loadtests.run`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tools.oidc_provider import (
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    ServerOptions,
    fetch_token,
    openapi_scopes,
    start_server,
)

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"
AUDIENCE = "orders-service"
# The prefix of the service's settings in the environment (config.py's ENV_PREFIX).
ENV_PREFIX = "ORDERS_SERVICE_"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_live(url: str, server: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the service exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {within} s")


def local_provider(scratch: Path) -> dict[str, str]:
    """Start the local OpenID provider in this process: the service's settings for it, and
    the token Locust sends (every scope openapi.json names)."""
    options = ServerOptions(
        port=0, keys=scratch / "keys.json", audience=AUDIENCE, token_seconds=3600
    )
    issuer, provider = start_server(options)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    scopes = openapi_scopes(OPENAPI)
    token = fetch_token(issuer, scopes, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
    return {
        f"{ENV_PREFIX}OIDC_ISSUER": issuer,
        f"{ENV_PREFIX}OIDC_AUDIENCE": AUDIENCE,
        "LOAD_ACCESS_TOKEN": token,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=30)
    options = parser.parse_args()

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            f"{ENV_PREFIX}PORT": str(port),
            f"{ENV_PREFIX}DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/load.db",
            f"{ENV_PREFIX}LOG_LEVEL": "WARNING",
            **local_provider(Path(scratch)),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "orders_service"],
            env=env,
        )
        try:
            wait_until_live(f"{host}/livez", server)
            locust = [
                *(sys.executable, "-m", "locust", "--locustfile", str(LOCUSTFILE), "--headless"),
                *("--host", host, "--users", str(options.users)),
                *("--spawn-rate", str(options.spawn_rate), "--run-time", f"{options.seconds}s"),
                *("--only-summary", "--exit-code-on-error", "1"),
            ]
            finished = subprocess.run(locust, env=env, check=False)  # noqa: S603 - argv above
            return finished.returncode
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
