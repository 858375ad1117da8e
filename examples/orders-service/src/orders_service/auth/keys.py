"""The provider's signing keys: discovered, fetched, cached, and fetched again on rotation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

logger = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"


class UnknownKeyError(Exception):
    """The token names a key the provider does not publish (or not for its algorithm)."""


class ProviderUnavailableError(Exception):
    """No key is known yet and the provider cannot be reached to fetch them."""


class SigningKeys:
    """The issuer's public keys, by key ID, fetched from its JWKS.

    Fetched at start-up and every `refresh_seconds`; a token signed by a key not seen yet
    fetches them again at once, but at most every `refetch_seconds`, so made-up key IDs
    cannot make the service hammer the provider. When the provider cannot be reached the
    keys already fetched stay in use, and `available` says so for readiness.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        issuer: str,
        *,
        jwks_url: str | None = None,
        refresh_seconds: float = 3600.0,
        refetch_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._refresh_seconds = refresh_seconds
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self._jwks: dict[str, Mapping[str, Any]] = {}
        self._prepared: dict[tuple[str, str], PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._refetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.available = False
        # Counts the changes of the key set: what was verified with older keys is re-checked.
        self.generation = 0

    async def key(self, kid: str | None, algorithm: str) -> PyJWK:
        """The key that verifies a token signed with `algorithm` by key `kid`."""
        if self._stale():
            await self._fetch(since=self._attempted_at)
        if not self._jwks and not self.available:
            raise ProviderUnavailableError(self._issuer)
        found = self._prepare(kid, algorithm)
        if found is None and self._may_refetch_for_unknown_key():
            self._refetched_at = self._clock()
            await self._fetch(since=self._attempted_at)
            found = self._prepare(kid, algorithm)
        if found is None:
            raise UnknownKeyError(kid)
        return found

    async def refresh(self) -> None:
        """Fetch the keys now (at start-up); on failure keep those already fetched."""
        await self._fetch(since=self._attempted_at)

    async def check(self) -> bool:
        """Whether the last fetch succeeded, without waiting for the provider."""
        return self.available

    def _stale(self) -> bool:
        now = self._clock()
        if self._attempted_at is None:
            return True
        if not self.available:
            # After a failed fetch, the first request past `refetch_seconds` tries again.
            return now - self._attempted_at >= self._refetch_seconds
        return self._fetched_at is None or now - self._fetched_at >= self._refresh_seconds

    def _may_refetch_for_unknown_key(self) -> bool:
        return (
            self._refetched_at is None
            or self._clock() - self._refetched_at >= self._refetch_seconds
        )

    def _prepare(self, kid: str | None, algorithm: str) -> PyJWK | None:
        jwk = self._jwk(kid)
        if jwk is None or jwk.get("alg", algorithm) != algorithm:
            return None
        cache_key = (str(jwk.get("kid")), algorithm)
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            try:
                # Bound to the algorithm: a token cannot pick another for this key (RFC 8725).
                prepared = PyJWK(dict(jwk), algorithm=algorithm)
            except PyJWKError:
                return None
            self._prepared[cache_key] = prepared
        return prepared

    def _jwk(self, kid: str | None) -> Mapping[str, Any] | None:
        if kid is not None:
            return self._jwks.get(kid)
        # A token without `kid` is only unambiguous while the provider publishes one key.
        return next(iter(self._jwks.values())) if len(self._jwks) == 1 else None

    async def _fetch(self, since: float | None) -> None:
        async with self._lock:
            if self._attempted_at != since:
                return  # another request fetched them while this one waited
            self._attempted_at = self._clock()
            try:
                jwks_url = self._jwks_url or await self._discover_jwks_url()
                response = await self._client.get(jwks_url)
                response.raise_for_status()
                keys = signing_keys(response.json().get("keys", ()))
            except (httpx.HTTPError, ValueError, AttributeError) as error:
                self.available = False
                logger.warning(
                    "Cannot fetch the OpenID provider's keys; using the %d fetched before",
                    len(self._jwks),
                    extra={"issuer": self._issuer, "error": type(error).__name__},
                )
                return
            if keys != self._jwks:
                logger.info("OpenID provider keys: %s", ", ".join(sorted(keys)))
                self.generation += 1
            self._jwks, self._prepared = keys, {}
            self._fetched_at = self._attempted_at
            self.available = True

    async def _discover_jwks_url(self) -> str:
        response = await self._client.get(self._issuer.rstrip("/") + DISCOVERY_PATH)
        response.raise_for_status()
        document = response.json()
        # OpenID Connect Discovery 1.0, section 4.3: the document must be the issuer's own.
        if document.get("issuer") != self._issuer:
            raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
        jwks_url = document.get("jwks_uri")
        if not isinstance(jwks_url, str):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_url


def signing_keys(jwks: Collection[Any]) -> dict[str, Mapping[str, Any]]:
    """The JWKS's keys for signatures, by key ID (keys without an ID cannot be told apart)."""
    keys: dict[str, Mapping[str, Any]] = {}
    for jwk in jwks:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if isinstance(kid, str):
            keys[kid] = jwk
    if len(keys) == 0 and len(jwks) == 1:
        only = next(iter(jwks))
        if isinstance(only, Mapping) and only.get("use", "sig") == "sig":
            keys[""] = only
    return keys
