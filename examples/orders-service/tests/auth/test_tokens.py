"""Access tokens from a real OpenID provider process (tests/oidc.py): what is accepted, what
is refused and how (RFC 6750 challenges in problem+json, nothing of the token echoed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from httpx import AsyncClient, Response

from orders_service.auth.dependencies import requires_roles
from orders_service.auth.verifier import MAX_TOKEN_BYTES
from orders_service.config import Environment, Settings
from tests.apps import client_of, make_settings, running_app
from tests.factories import item_payload
from tests.logs import ACCESS_LOGGER, LogLines
from tests.oidc import LocalProvider, local_provider
from tools.oidc_provider import generate_key_set

ITEMS = "/api/v1/items"
READ, WRITE = "items:read", "items:write"


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client that sends no token unless a test gives one."""
    async with client_of(app, authorized=False) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Response, error: str | None, detail: str) -> None:
    """A 401 with the RFC 6750 challenge, as problem+json."""
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail
    challenge = response.headers["www-authenticate"]
    if error is None:
        assert challenge == "Bearer"
    else:
        assert challenge == f'Bearer error="{error}", error_description="{detail}"'


@pytest.mark.settings(access_log="all")
async def test_a_token_from_the_token_endpoint_is_accepted(
    anonymous: AsyncClient, oidc_provider: LocalProvider, log_lines: LogLines
) -> None:
    token = oidc_provider.token(READ)

    response = await anonymous.get(ITEMS, headers=bearer(token))

    assert response.status_code == 200
    access = [line for line in log_lines() if line["logger"] == ACCESS_LOGGER]
    assert access[-1]["subject"] == "local-service"
    assert access[-1]["client_id"] == "local-service"
    assert all(token not in json.dumps(line) for line in log_lines())


async def test_no_token_is_challenged_without_an_error_code(anonymous: AsyncClient) -> None:
    response = await anonymous.get(ITEMS)

    assert_refused(
        response, None, "An access token is required: send `Authorization: Bearer <token>`."
    )


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer-token", "Token abc"],
)
async def test_a_malformed_authorization_header_is_no_token(
    anonymous: AsyncClient, authorization: str
) -> None:
    response = await anonymous.get(ITEMS, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": int(time.time()) - 600}, "The access token has expired."),
        ({"nbf": int(time.time()) + 600}, "The access token is not valid yet."),
        ({"iat": int(time.time()) + 600}, "The access token is not valid yet."),
        ({"aud": "another-service"}, "The access token is not meant for this service (audience)."),
        ({"iss": "https://issuer.example"}, "The access token is from another issuer."),
        ({"exp": None}, "The access token has no 'exp' claim."),
        ({"sub": None}, "The access token has no 'sub' claim."),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "issued-in-the-future",
        "audience",
        "issuer",
        "no-exp",
        "no-sub",
    ],
)
async def test_a_token_with_wrong_claims_is_refused(
    anonymous: AsyncClient,
    oidc_provider: LocalProvider,
    claims: dict[str, Any],
    detail: str,
) -> None:
    token = oidc_provider.sign({"scope": READ, **claims})

    response = await anonymous.get(ITEMS, headers=bearer(token))

    assert_refused(response, "invalid_token", detail)
    assert token not in response.text
    assert "test-client" not in response.text


async def test_expiry_allows_the_configured_leeway(
    anonymous: AsyncClient, oidc_provider: LocalProvider, settings: Settings
) -> None:
    just_expired = int(time.time()) - int(settings.oidc_leeway_seconds) + 10
    token = oidc_provider.sign({"scope": READ, "exp": just_expired})

    assert (await anonymous.get(ITEMS, headers=bearer(token))).status_code == 200


def encoded(value: dict[str, Any]) -> str:
    """A JWT part: JSON in unpadded base64url."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """A token with `alg: none` and no signature (RFC 7519, section 6)."""
    return f"{encoded({'alg': 'none', 'typ': 'at+jwt'})}.{encoded(claims)}."


async def test_an_unsigned_token_is_refused(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    claims = jwt.decode(oidc_provider.token(READ), options={"verify_signature": False})

    response = await anonymous.get(ITEMS, headers=bearer(unsigned(claims)))

    assert_refused(
        response, "invalid_token", "The access token's signing algorithm is not accepted."
    )


async def test_hs256_signed_with_the_public_key_is_refused(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    """The algorithm-confusion attack: the provider's public key used as an HMAC secret."""
    published = jwt.PyJWKClient(f"{oidc_provider.issuer}/jwks").get_jwk_set().keys[0]
    public_pem = published.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, payload, _ = oidc_provider.token(READ).split(".")
    header = encoded({"alg": "HS256", "typ": "at+jwt", "kid": published.key_id})
    # By hand: PyJWT itself refuses a PEM key as an HMAC secret.
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    response = await anonymous.get(ITEMS, headers=bearer(forged))

    assert_refused(
        response, "invalid_token", "The access token's signing algorithm is not accepted."
    )


async def test_a_tampered_signature_is_refused(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    header, payload, signature = oidc_provider.token(READ).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = f"{READ} {WRITE}"
    response = await anonymous.get(ITEMS, headers=bearer(f"{header}.{encoded(claims)}.{signature}"))

    assert_refused(response, "invalid_token", "The access token's signature is not valid.")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b", "a.b.c", "e30.e30.", "e30.e30.e30.e30"])
async def test_a_token_that_is_not_a_jwt_is_refused(anonymous: AsyncClient, token: str) -> None:
    response = await anonymous.get(ITEMS, headers=bearer(token))

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_an_oversized_token_is_refused_unread(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    token = oidc_provider.sign({"scope": READ, "padding": "x" * MAX_TOKEN_BYTES})

    response = await anonymous.get(ITEMS, headers=bearer(token))

    assert_refused(response, "invalid_token", "The access token is too large.")


async def test_a_key_the_provider_does_not_publish_is_refused(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    stranger = generate_key_set()["keys"][0]
    token = oidc_provider.sign({"scope": READ}, key=stranger)

    response = await anonymous.get(ITEMS, headers=bearer(token))

    assert_refused(response, "invalid_token", "The access token is signed by an unknown key.")


async def test_a_missing_scope_is_forbidden(
    anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    token = oidc_provider.token(READ)

    read = await anonymous.get(ITEMS, headers=bearer(token))
    write = await anonymous.post(ITEMS, json=item_payload(), headers=bearer(token))

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.headers["content-type"] == "application/problem+json"
    assert write.json()["detail"] == "The access token lacks the scope items:write."
    assert write.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="items:write"'
    )


async def test_scopes_every_request_needs(oidc_provider: LocalProvider, settings: Settings) -> None:
    strict = settings.model_copy(update={"oidc_required_scopes": ("api",)})
    async with running_app(strict) as app, client_of(app, authorized=False) as client:
        without = await client.get(ITEMS, headers=bearer(oidc_provider.token(READ)))
        with_it = await client.get(ITEMS, headers=bearer(oidc_provider.token(READ, "api")))

    assert without.status_code == 403
    # The router's check, before the route's: it names the scope every request needs.
    assert without.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="api"'

    assert with_it.status_code == 200


async def test_a_cached_read_without_a_token_is_refused(
    client: AsyncClient, anonymous: AsyncClient
) -> None:
    created = (await client.post(ITEMS, json=item_payload(name="Guarded"))).json()
    url = f"{ITEMS}/{created['id']}"
    assert [(await client.get(url)).status_code for _ in range(2)] == [200, 200]

    response = await anonymous.get(url)

    assert response.status_code == 401
    assert "Guarded" not in response.text


async def test_probes_and_metrics_need_no_token(anonymous: AsyncClient) -> None:
    for path in ("/livez", "/readyz", "/metrics"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_a_rotated_key_is_fetched_once_and_a_made_up_one_never_twice(
    tmp_path: Path,
) -> None:
    with local_provider(tmp_path) as provider:
        settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
            oidc_unknown_key_refetch_seconds=60,
        )
        async with running_app(settings) as app, client_of(app, authorized=False) as client:
            before = await client.get(ITEMS, headers=bearer(provider.token(READ)))
            provider.rotate()
            after = await client.get(ITEMS, headers=bearer(provider.token(READ)))
            provider.rotate()
            # Inside the refetch interval: the newest key is not fetched yet.
            too_soon = await client.get(ITEMS, headers=bearer(provider.token(READ)))

    assert (before.status_code, after.status_code) == (200, 200)
    assert_refused(too_soon, "invalid_token", "The access token is signed by an unknown key.")


async def test_keys_already_fetched_outlive_the_provider(tmp_path: Path) -> None:
    with local_provider(tmp_path) as provider:
        settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
            oidc_unknown_key_refetch_seconds=0,
        )
        token = provider.token(READ)
        stranger = provider.sign({"scope": READ}, key=generate_key_set()["keys"][0])
        async with running_app(settings) as app, client_of(app, authorized=False) as client:
            provider.stop()
            still = await client.get(ITEMS, headers=bearer(token))
            # A key not seen yet sends the service to the provider, which is gone.
            unknown = await client.get(ITEMS, headers=bearer(stranger))
            ready = await client.get("/readyz")

    assert still.status_code == 200
    assert_refused(unknown, "invalid_token", "The access token is signed by an unknown key.")
    assert ready.status_code == 200
    assert ready.json()["checks"]["identity_provider"] == "unavailable"


async def test_without_any_key_a_token_cannot_be_checked(
    tmp_path: Path, oidc_provider: LocalProvider
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}"
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", oidc_issuer=nobody
    )
    async with running_app(settings) as app, client_of(app, authorized=False) as client:
        response = await client.get(ITEMS, headers=bearer(oidc_provider.token(READ)))
        ready = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert ready.json()["checks"]["identity_provider"] == "unavailable"


def test_deployed_settings_need_an_issuer_and_an_audience() -> None:
    with pytest.raises(
        ValueError, match=r"OIDC_ISSUER and .*OIDC_AUDIENCE must be set in production"
    ):
        Settings(
            _env_file=None,
            environment=Environment.PRODUCTION,
            oidc_issuer=None,
            oidc_audience=None,
        )


async def test_a_role_requirement_needs_the_role(
    app: FastAPI, anonymous: AsyncClient, oidc_provider: LocalProvider
) -> None:
    @app.get("/admin", dependencies=[requires_roles("admin")])
    async def admin() -> dict[str, str]:
        return {"status": "ok"}

    keycloak_admin = oidc_provider.sign({"realm_access": {"roles": ["admin"]}})
    entra_admin = oidc_provider.sign({"roles": ["admin"]})
    reader = oidc_provider.sign({"roles": ["reader"]})

    assert (await anonymous.get("/admin", headers=bearer(keycloak_admin))).status_code == 200
    assert (await anonymous.get("/admin", headers=bearer(entra_admin))).status_code == 200
    refused = await anonymous.get("/admin", headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "The caller lacks the role admin."


async def test_rate_limits_count_a_caller_by_its_token_from_any_address(
    tmp_path: Path, oidc_provider: LocalProvider
) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", rate_limit_requests=2
    )
    alice = bearer(oidc_provider.sign({"sub": "alice", "scope": READ}))
    bob = bearer(oidc_provider.sign({"sub": "bob", "scope": READ}))
    async with (
        running_app(settings) as app,
        client_of(app, authorized=False, client=("203.0.113.7", 4711)) as here,
        client_of(app, authorized=False, client=("198.51.100.2", 4711)) as there,
    ):
        alice_calls = [await here.get(ITEMS, headers=alice) for _ in range(2)]
        alice_elsewhere = await there.get(ITEMS, headers=alice)
        bob_beside_her = await here.get(ITEMS, headers=bob)
        # Without a valid token, the address is what is counted.
        forged = [await there.get(ITEMS, headers=bearer("not-a-token")) for _ in range(3)]

    assert [response.status_code for response in alice_calls] == [200, 200]
    assert alice_elsewhere.status_code == 429
    assert bob_beside_her.status_code == 200
    assert [response.status_code for response in forged] == [401, 401, 429]
