"""An in-process stand-in for Vault's HTTP API: the endpoints the service uses, as Vault documents them.

KV v2 read, token lookup and renewal, Kubernetes and AppRole login, the database secrets
engine's credentials and their leases' renewal (capped at the role's max TTL), sys/health,
and Vault's error shape (`{"errors": [...]}`); plus switches for the failures a real Vault
shows: sealed, slow, refusing renewal.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Lease:
    username: str
    ttl: int
    ends_at: float  # the max TTL's end, on time.monotonic()


@dataclass
class VaultStandIn:
    kv: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # mount -> path -> data
    tokens: dict[str, int] = field(default_factory=dict)  # token -> ttl seconds
    kubernetes_roles: dict[str, str] = field(default_factory=dict)  # role -> accepted JWT
    approles: dict[str, str] = field(default_factory=dict)  # role_id -> secret_id
    # "<mount>/<role>" -> (lease TTL, max TTL) in seconds, as the role's default_ttl and max_ttl
    database_roles: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Called with each new username and password, as Vault's plugin creates the login.
    create_login: Callable[[str, str], None] | None = None
    leases: dict[str, Lease] = field(default_factory=dict)
    lease_renewals: int = 0
    sealed: bool = False
    delay_seconds: float = 0.0
    refuse_renewal: bool = False
    requests: list[str] = field(default_factory=list)
    logins: int = 0
    renewals: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> VaultStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.handle(self, "GET")

            def do_POST(self) -> None:
                stand_in.handle(self, "POST")

            def do_PUT(self) -> None:
                stand_in.handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet: tests read `requests` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def issue_token(self, ttl: int = 3600) -> str:
        token = f"hvs.{secrets.token_urlsafe(16)}"
        self.tokens[token] = ttl
        return token

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = request.path.split("?")[0]
        self.requests.append(f"{method} {path}")
        time.sleep(self.delay_seconds)
        length = int(request.headers.get("Content-Length") or 0)
        body: dict[str, Any] = json.loads(request.rfile.read(length) or b"{}")
        token = request.headers.get("X-Vault-Token", "")
        status, payload = self.route(method, path, body, token)
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def route(
        self, method: str, path: str, body: dict[str, Any], token: str
    ) -> tuple[int, dict[str, Any]]:
        if path == "/v1/sys/health":
            status = HTTPStatus.SERVICE_UNAVAILABLE if self.sealed else HTTPStatus.OK
            return status, {"initialized": True, "sealed": self.sealed, "standby": False}
        if self.sealed:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"errors": ["Vault is sealed"]}
        if method == "POST" and path.startswith("/v1/auth/") and path.endswith("/login"):
            return self.login(path.split("/")[3], body)
        if token not in self.tokens:
            return HTTPStatus.FORBIDDEN, {"errors": ["permission denied"]}
        if path == "/v1/auth/token/lookup-self":
            ttl = self.tokens[token]
            return HTTPStatus.OK, {
                "data": {"ttl": ttl, "renewable": ttl > 0, "policies": ["default"]}
            }
        if path == "/v1/auth/token/renew-self" and method == "POST":
            if self.refuse_renewal:
                return HTTPStatus.FORBIDDEN, {"errors": ["permission denied"]}
            self.renewals += 1
            return HTTPStatus.OK, {"auth": self.auth(token)}
        if path == "/v1/sys/leases/renew" and method == "POST":
            return self.renew_lease(body.get("lease_id", ""), body.get("increment"))
        mount, _, role = path.removeprefix("/v1/").partition("/creds/")
        if method == "GET" and f"{mount}/{role}" in self.database_roles:
            return self.database_credentials(mount, role)
        mount, _, rest = path.removeprefix("/v1/").partition("/data/")
        data = self.kv.get(mount, {}).get(rest)
        if method == "GET" and rest and data is not None:
            metadata = {"version": 1, "deletion_time": "", "destroyed": False}
            return HTTPStatus.OK, {"data": {"data": data, "metadata": metadata}}
        return HTTPStatus.NOT_FOUND, {"errors": []}

    def login(self, mount: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        jwt_ok = self.kubernetes_roles.get(body.get("role", "")) == body.get("jwt")
        approle_ok = self.approles.get(body.get("role_id", "")) == body.get("secret_id")
        if not ((mount == "kubernetes" and jwt_ok) or (mount == "approle" and approle_ok)):
            return HTTPStatus.BAD_REQUEST, {"errors": ["invalid role or credentials"]}
        self.logins += 1
        return HTTPStatus.OK, {"auth": self.auth(self.issue_token())}

    def auth(self, token: str) -> dict[str, Any]:
        ttl = self.tokens[token]
        return {"client_token": token, "lease_duration": ttl, "renewable": ttl > 0}

    def database_credentials(self, mount: str, role: str) -> tuple[int, dict[str, Any]]:
        ttl, max_ttl = self.database_roles[f"{mount}/{role}"]
        username = f"v-token-{role}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        if self.create_login is not None:
            self.create_login(username, password)
        lease_id = f"{mount}/creds/{role}/{secrets.token_hex(8)}"
        self.leases[lease_id] = Lease(username, ttl, time.monotonic() + max_ttl)
        return HTTPStatus.OK, {
            "lease_id": lease_id,
            "lease_duration": ttl,
            "renewable": True,
            "data": {"username": username, "password": password},
        }

    def renew_lease(self, lease_id: str, increment: int | None) -> tuple[int, dict[str, Any]]:
        lease = self.leases.get(lease_id)
        left = lease.ends_at - time.monotonic() if lease is not None else 0
        if lease is None or left <= 0:
            return HTTPStatus.BAD_REQUEST, {"errors": ["lease not found or lease is not renewable"]}
        self.lease_renewals += 1
        granted = min(increment or lease.ttl, int(left))
        return HTTPStatus.OK, {"lease_id": lease_id, "renewable": True, "lease_duration": granted}

    def revoke(self, lease_id: str) -> None:
        del self.leases[lease_id]
