"""The local OpenID provider (tools/oidc_provider.py) as the tests run it: a real process on
loopback that issues RFC 9068 access tokens, plus tokens the tests sign themselves."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt

from tools.oidc_provider import (
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    fetch_token,
    generate_key_set,
    load_key_set,
    write_key_set,
)

PROVIDER = Path(__file__).resolve().parent.parent / "tools" / "oidc_provider.py"
AUDIENCE = "orders-service"
START_SECONDS = 30


class LocalProvider:
    """A running provider: its issuer, its keys, and tokens from its token endpoint."""

    def __init__(self, issuer: str, keys_path: Path, process: subprocess.Popen[bytes]) -> None:
        self.issuer = issuer
        self.keys_path = keys_path
        self._process = process
        self._tokens: dict[str, str] = {}

    def stop(self) -> None:
        """Stop the provider (its issuer then refuses connections)."""
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def settings(self) -> dict[str, Any]:
        """The service's settings for this provider."""
        return {"oidc_issuer": self.issuer, "oidc_audience": AUDIENCE}

    def token(self, *scopes: str) -> str:
        """An access token with `scopes` from the token endpoint (client credentials)."""
        scope = " ".join(sorted(scopes))
        if scope not in self._tokens:
            self._tokens[scope] = fetch_token(
                self.issuer, scope, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET
            )
        return self._tokens[scope]

    def sign(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        key: Mapping[str, Any] | None = None,
    ) -> str:
        """A token signed here with the provider's current key (or `key`): valid unless
        `claims` and `headers` override what makes it so (None removes a claim)."""
        signing_key = key or load_key_set(self.keys_path)["keys"][0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "test-client",
            "aud": AUDIENCE,
            "client_id": "test-client",
            "iat": now,
            "exp": now + 300,
            "jti": f"test-{time.monotonic_ns()}",
            "scope": "",
        }
        payload.update(claims or {})
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"kid": signing_key["kid"], "typ": "at+jwt", **(headers or {})}
        private_key = jwt.PyJWK(dict(signing_key)).key
        return jwt.encode(
            payload, private_key, algorithm=signing_key.get("alg", "RS256"), headers=header
        )

    def rotate(self, *, keep_old: bool = True) -> dict[str, Any]:
        """Sign with a new key from now on (the old one still published if `keep_old`)."""
        old = load_key_set(self.keys_path)["keys"]
        new = generate_key_set()["keys"][0]
        write_key_set(self.keys_path, {"keys": [new, *old] if keep_old else [new]})
        self._tokens.clear()
        return dict(new)


# The session's provider (conftest.py starts it): every app the tests build trusts it.
_running: list[LocalProvider] = []


def running_provider() -> LocalProvider:
    """The provider of the test session."""
    if not _running:
        raise RuntimeError("no local OpenID provider runs: conftest.py's session fixture starts it")
    return _running[-1]


@contextmanager
def local_provider(directory: Path) -> Iterator[LocalProvider]:
    """The provider started on a free loopback port, stopped afterwards."""
    keys_path, ready = directory / "keys.json", directory / "issuer"
    command = [sys.executable, str(PROVIDER), "serve", "--port", "0", "--keys", str(keys_path)]
    command += ["--audience", AUDIENCE, "--token-seconds", "3600", "--ready-file", str(ready)]
    process = subprocess.Popen(command)  # noqa: S603 - the project's own provider
    try:
        deadline = time.monotonic() + START_SECONDS
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local OpenID provider did not start: {command}")
            time.sleep(0.05)
        provider = LocalProvider(ready.read_text().strip(), keys_path, process)
        _running.append(provider)
        try:
            yield provider
        finally:
            _running.remove(provider)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
