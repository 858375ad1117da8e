"""Swagger UI signs in at the provider: the authorization code flow with PKCE, as a public
client, offered beside the bearer token a caller pastes."""

from __future__ import annotations

from typing import Any

from .dependencies import bearer
from .keys import DISCOVERY_PATH

SCHEME = "openIdConnect"


def add_sign_in(schema: dict[str, Any], issuer: str) -> None:
    """The provider's OpenID Connect scheme in `schema`, as an alternative wherever an
    operation asks for the bearer token, with the same scopes."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME] = {
        "type": "openIdConnect",
        "openIdConnectUrl": issuer.rstrip("/") + DISCOVERY_PATH,
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            requirements = operation.get("security", [])
            operation["security"] = requirements + [
                {SCHEME: scopes}
                for requirement in requirements
                for name, scopes in requirement.items()
                if name == bearer.scheme_name
            ]


def required_scopes(schema: dict[str, Any]) -> list[str]:
    """Every scope an operation of the OpenAPI `schema` asks for, sorted."""
    return sorted(
        {
            scope
            for operations in schema.get("paths", {}).values()
            for operation in operations.values()
            for requirement in operation.get("security", [])
            for scopes in requirement.values()
            for scope in scopes
        }
    )


def swagger_ui_sign_in(client_id: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Swagger UI's `initOAuth`: PKCE, and every scope the operations ask for ticked."""
    return {
        "clientId": client_id,
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": " ".join(["openid", *required_scopes(schema)]),
    }
