"""Swagger UI signs in at the provider (authorization code with PKCE) when given a client."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from orders_service.auth.docs import SCHEME
from orders_service.config import Settings
from tests.apps import client_of, running_app
from tests.oidc import LocalProvider

ITEMS = "/api/v1/items"
DOCS_CLIENT = "swagger-ui"
REDIRECT_URI = "http://127.0.0.1:8080/docs/oauth2-redirect"


def init_oauth(docs_html: str) -> dict[str, object] | None:
    """The `initOAuth` options of FastAPI's Swagger UI page, if it has any."""
    found = re.search(r"ui\.initOAuth\((\{.*?\})\)", docs_html, re.DOTALL)
    return None if found is None else dict(json.loads(found.group(1)))


async def test_without_a_client_the_docs_take_a_pasted_token(settings: Settings) -> None:
    async with running_app(settings) as app, client_of(app, authorized=False) as client:
        document = (await client.get("/openapi.json")).json()
        docs = (await client.get("/docs")).text

    assert SCHEME not in document["components"]["securitySchemes"]
    assert init_oauth(docs) is None


async def test_with_a_client_the_docs_sign_in_at_the_provider(
    settings: Settings, oidc_provider: LocalProvider
) -> None:
    signing_in = settings.model_copy(update={"oidc_docs_client_id": DOCS_CLIENT})
    async with running_app(signing_in) as app, client_of(app, authorized=False) as client:
        document = (await client.get("/openapi.json")).json()
        docs = (await client.get("/docs")).text

    assert document["components"]["securitySchemes"][SCHEME] == {
        "type": "openIdConnect",
        "openIdConnectUrl": f"{oidc_provider.issuer}/.well-known/openid-configuration",
    }
    read = document["paths"][ITEMS]["get"]["security"]
    assert read == [{"accessToken": ["items:read"]}, {SCHEME: ["items:read"]}]
    # Every scope an operation names, ticked: a domain added later brings its own.
    named = sorted(
        {
            scope
            for operations in document["paths"].values()
            for operation in operations.values()
            for requirement in operation.get("security", [])
            for scope in requirement.get(SCHEME, [])
        }
    )
    assert {"items:read", "items:write"} <= set(named)
    assert init_oauth(docs) == {
        "clientId": DOCS_CLIENT,
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": " ".join(["openid", *named]),
    }


async def test_the_code_flow_with_pkce_yields_a_token_the_service_accepts(
    settings: Settings, oidc_provider: LocalProvider
) -> None:
    """What Swagger UI does on Authorize: the provider's /authorize, then its /token with the
    verifier, then the API with the token."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    async with httpx.AsyncClient() as browser:
        discovery_url = f"{oidc_provider.issuer}/.well-known/openid-configuration"
        discovery = (await browser.get(discovery_url)).json()
        authorized = await browser.get(
            discovery["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": DOCS_CLIENT,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid items:read",
                "state": "swagger",
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            },
        )
        redirect = urlsplit(authorized.headers["location"])
        issued = await browser.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "client_id": DOCS_CLIENT,
                "code": parse_qs(redirect.query)["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
    token = issued.json()["access_token"]

    async with running_app(settings) as app, client_of(app, authorized=False) as client:
        response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})

    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT_URI
    assert response.status_code == 200
