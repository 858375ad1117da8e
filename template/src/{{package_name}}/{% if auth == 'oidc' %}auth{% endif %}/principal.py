"""What a verified access token says about its bearer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a user, or a client acting on its own (client credentials)."""

    subject: str
    client_id: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    # Every verified claim, for what a domain needs beyond these (a tenant, an e-mail).
    claims: Mapping[str, Any]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Read the claims as the common providers write them (RFC 9068, Keycloak, Okta,
        Entra ID, Auth0)."""
        return cls(
            subject=str(claims["sub"]),
            client_id=_first_string(claims, "client_id", "azp", "appid"),
            scopes=_words(claims.get("scope")) | _words(claims.get("scp")),
            roles=_words(claims.get("roles")) | _words(_nested(claims, "realm_access", "roles")),
            claims=claims,
        )


def _first_string(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _nested(claims: Mapping[str, Any], outer: str, inner: str) -> object:
    value = claims.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else None


def _words(value: object) -> frozenset[str]:
    """A claim that is a space-separated string (`scope`) or a list of strings (`scp`)."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()
