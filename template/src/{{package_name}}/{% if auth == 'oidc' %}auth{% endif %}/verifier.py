"""Access tokens (RFC 9068 JWTs) verified with PyJWT against the provider's keys."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import httpx
import jwt

from ..config import Settings
from ..state import StateKey
from .keys import SigningKeys, UnknownKeyError
from .principal import Principal
from .verified import VerifiedTokens

logger = logging.getLogger(__name__)

# Far above any real access token (Keycloak's run to 2-3 KB): a larger one is refused unread.
MAX_TOKEN_BYTES = 16_384
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class InvalidTokenError(Exception):
    """Why a token is refused, in words safe to send back: nothing of the token itself."""


class TokenVerifier:
    """Checks a token's signature, issuer, audience and times, and reads its principal."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        leeway_seconds: float,
    ) -> None:
        self.keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._verified = VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        """The token's principal; InvalidTokenError when it cannot be trusted."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidTokenError("The access token is too large.")
        if (verified := self._verified.get(token, self.keys.generation)) is not None:
            return verified
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidTokenError("The access token is malformed.") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise InvalidTokenError("The access token's signing algorithm is not accepted.")
        kid = header.get("kid")
        try:
            key = await self.keys.key(kid if isinstance(kid, str) else None, algorithm)
        except UnknownKeyError:
            raise InvalidTokenError("The access token is signed by an unknown key.") from None
        claims = self._decode(token, key)
        principal = Principal.from_claims(claims)
        self._verified.put(token, principal, float(claims["exp"]) + self._leeway)
        return principal

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError:
            reason = "The access token has expired."
        except jwt.ImmatureSignatureError:
            reason = "The access token is not valid yet."
        except jwt.InvalidAudienceError:
            reason = "The access token is not meant for this service (audience)."
        except jwt.InvalidIssuerError:
            reason = "The access token is from another issuer."
        except jwt.InvalidSignatureError:
            reason = "The access token's signature is not valid."
        except jwt.MissingRequiredClaimError as error:
            reason = f"The access token has no '{error.claim}' claim."
        except jwt.InvalidTokenError:
            reason = "The access token is malformed."
        raise InvalidTokenError(reason)


# Opened by the app's lifespan (main.py): None in development without a provider.
TOKEN_VERIFIER = StateKey[TokenVerifier | None]("auth.token_verifier")


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the provider: each new one reads the CA bundle,
    some 40 ms of start-up."""
    return httpx.create_ssl_context()


@asynccontextmanager
async def open_token_verifier(settings: Settings) -> AsyncIterator[TokenVerifier | None]:
    """The verifier for the settings' provider, its keys fetched (or None without a provider:
    in development only, where every protected route then answers 503)."""
    if settings.oidc_issuer is None or settings.oidc_audience is None:
        logger.warning(
            "No OpenID provider is configured: protected routes answer 503 (`make run` starts "
            "a local provider)"
        )
        yield None
        return
    client = httpx.AsyncClient(timeout=settings.oidc_timeout_seconds, verify=tls_context())
    async with client:
        keys = SigningKeys(
            client,
            settings.oidc_issuer,
            jwks_url=settings.oidc_jwks_url,
            refresh_seconds=settings.oidc_keys_refresh_seconds,
            refetch_seconds=settings.oidc_unknown_key_refetch_seconds,
        )
        await keys.refresh()
        yield TokenVerifier(
            keys,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=settings.oidc_algorithms,
            leeway_seconds=settings.oidc_leeway_seconds,
        )
