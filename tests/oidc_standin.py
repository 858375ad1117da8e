"""A stand-in OpenID provider on loopback for services run as images: discovery and a JWKS
served over HTTP, and access tokens signed here with its key (PyJWT). The generated project's
own tests use its real provider (tools/oidc_provider.py); an image holds no dev tools."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "stand-in"


class StandInProvider:
    """The issuer's URL, and tokens for an audience."""

    def __init__(self, issuer: str, key: rsa.RSAPrivateKey) -> None:
        self.issuer = issuer
        self._key = key

    def token(self, audience: str, *scopes: str, seconds: int = 300) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": "image-test",
            "client_id": "image-test",
            "iat": now,
            "exp": now + seconds,
            "scope": " ".join(scopes),
        }
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": KID, "typ": "at+jwt"}
        )


def documents(issuer: str, key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Discovery and the JWKS, by path."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}
    discovery = {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}
    return {
        "/.well-known/openid-configuration": json.dumps(discovery).encode(),
        "/jwks": json.dumps(jwks).encode(),
    }


@contextmanager
def stand_in_provider() -> Iterator[StandInProvider]:
    """The provider on a free loopback port, for the duration of the block."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    served: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests report what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    served.update(documents(issuer, key))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandInProvider(issuer, key)
    finally:
        server.shutdown()
        server.server_close()
