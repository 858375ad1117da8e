"""Database logins from Vault's database secrets engine: fetched, filled in, renewed, rotated."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orders_service.state import (
    app_state,
)
from orders_service.vault.client import (
    VaultClient,
    VaultConfig,
    VaultError,
)
from orders_service.vault.database import (
    DynamicCredentials,
    use_vault_credentials,
)
from tests.apps import make_settings, running_app
from tests.vault.vault_server import VaultStandIn

ROLE = "orders-service"
# Nothing listens on port 1: a connection attempt reaches the driver and fails there.
UNREACHABLE = "postgresql+asyncpg://from-the-url@127.0.0.1:1/app"


class ConnectAttemptedError(Exception):
    """Raised where the driver would connect, after the credentials were filled in."""


@pytest.fixture
def vault() -> Iterator[VaultStandIn]:
    stand_in = VaultStandIn(database_roles={f"database/{ROLE}": (60, 3600)}).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def client(vault: VaultStandIn) -> VaultClient:
    token = SecretStr(vault.issue_token())
    config = VaultConfig(_env_file=None, VAULT_ADDR=vault.url, VAULT_TOKEN=token, vault_attempts=1)
    return VaultClient.connect(config)


def login_attempts(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The connect parameters of each connection the engine opens from now on (none opens)."""
    attempts: list[dict[str, Any]] = []

    @event.listens_for(engine.sync_engine, "do_connect")
    def record(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        attempts.append(dict(cparams))
        raise ConnectAttemptedError

    return attempts


async def connect(engine: AsyncEngine) -> None:
    with pytest.raises(ConnectAttemptedError):
        async with engine.connect():
            pass


def test_credentials_come_from_the_roles_creds_endpoint(
    vault: VaultStandIn, client: VaultClient
) -> None:
    credentials = client.database_credentials("database", ROLE)

    assert credentials.username.startswith(f"v-token-{ROLE}-")
    assert credentials.lease_seconds == 60
    assert credentials.renewable
    assert credentials.lease_id in vault.leases
    assert credentials.password.get_secret_value() not in repr(credentials)


def test_an_unknown_role_is_a_vault_error(client: VaultClient) -> None:
    with pytest.raises(VaultError, match=r"nothing at that path \(404\) while getting database"):
        client.database_credentials("database", "no-such-role")


async def test_each_new_connection_logs_in_with_the_current_lease(client: VaultClient) -> None:
    engine = create_async_engine(UNREACHABLE)
    credentials = DynamicCredentials(client, "database", ROLE)
    first = credentials.fetch()
    credentials.attach(engine)
    attempts = login_attempts(engine)

    await connect(engine)
    second = credentials.fetch()
    await connect(engine)
    await engine.dispose()

    assert [(a["user"], a["password"]) for a in attempts] == [
        (first.username, first.password.get_secret_value()),
        (second.username, second.password.get_secret_value()),
    ]


async def test_renewal_keeps_the_lease_and_the_pool(
    vault: VaultStandIn, client: VaultClient
) -> None:
    engine = create_async_engine(UNREACHABLE)
    keeper = await use_vault_credentials(client, engine, "database", ROLE)
    pool = engine.pool

    delay = await keeper.renew_once()

    assert vault.lease_renewals == 1
    assert delay == 40, "two thirds of the 60 s granted"
    assert engine.pool is pool
    await engine.dispose()


@pytest.mark.parametrize("why", ["max TTL reached", "lease revoked"])
async def test_a_lease_that_cannot_be_renewed_is_replaced(
    why: str, vault: VaultStandIn, client: VaultClient, caplog: pytest.LogCaptureFixture
) -> None:
    vault.database_roles[f"database/{ROLE}"] = (60, 30 if why == "max TTL reached" else 3600)
    engine = create_async_engine(UNREACHABLE)
    keeper = await use_vault_credentials(client, engine, "database", ROLE)
    (old_lease,) = vault.leases
    if why == "lease revoked":
        vault.revoke(old_lease)
    pool = engine.pool
    attempts = login_attempts(engine)

    delay = await keeper.renew_once()
    await connect(engine)

    (new_lease,) = set(vault.leases) - {old_lease}
    assert attempts[0]["user"] == vault.leases[new_lease].username
    assert engine.pool is not pool, "connections with the old login are retired"
    assert delay == 40
    assert "Rotated the database credentials from Vault" in caplog.text
    await engine.dispose()


async def test_when_vault_cannot_replace_it_the_next_round_comes_soon(
    vault: VaultStandIn, client: VaultClient, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_async_engine(UNREACHABLE)
    keeper = await use_vault_credentials(client, engine, "database", ROLE)
    vault.leases.clear()
    vault.sealed = True

    delay = await keeper.renew_once()

    assert delay == 5.0
    assert "New database credentials not obtained" in caplog.text
    await engine.dispose()


async def test_without_vault_the_role_is_a_start_up_error() -> None:
    engine = create_async_engine(UNREACHABLE)

    with pytest.raises(VaultError, match="VAULT_ADDR is not set"):
        await use_vault_credentials(None, engine, "database", ROLE)


def test_the_role_replaces_the_password_a_deployed_service_needs() -> None:
    url = "postgresql+asyncpg://app@db.internal/app"

    with pytest.raises(ValidationError, match="VAULT_DATABASE_ROLE for credentials from Vault"):
        make_settings(environment="production", database_url=url)
    settings = make_settings(environment="production", database_url=url, vault_database_role=ROLE)
    assert settings.vault_database_role == ROLE


def test_the_role_needs_a_database_with_logins() -> None:
    with pytest.raises(
        ValidationError, match="vault_database_role is set but database_url is SQLite"
    ):
        make_settings(vault_database_role=ROLE)


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs a real PostgreSQL: set TEST_DATABASE_URL",
)
async def test_the_service_logs_in_to_postgresql_as_vault_says(
    vault: VaultStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a real server, where the stand-in creates each login as Vault's plugin does."""
    caplog.set_level(logging.INFO)
    database_url = os.environ["TEST_DATABASE_URL"]
    admin_user = make_url(database_url).username
    logins: list[str] = []

    async def create_role(username: str, password: str) -> None:
        admin = create_async_engine(database_url)
        async with admin.begin() as connection:
            await connection.execute(
                text(
                    f'CREATE ROLE "{username}" LOGIN PASSWORD \'{password}\' IN ROLE "{admin_user}"'
                )
            )
        await admin.dispose()

    def create_login(username: str, password: str) -> None:
        logins.append(username)
        asyncio.run(create_role(username, password))  # in the stand-in's server thread

    async def drop_roles() -> None:
        admin = create_async_engine(database_url)
        async with admin.begin() as connection:
            for username in logins:
                await connection.execute(text(f'REASSIGN OWNED BY "{username}" TO "{admin_user}"'))
                await connection.execute(text(f'DROP ROLE "{username}"'))
        await admin.dispose()

    vault.create_login = create_login
    vault.kv["secret"] = {"orders-service": {}}
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", vault.issue_token())
    settings = make_settings(database_url=database_url, vault_database_role=ROLE)
    try:
        async with running_app(settings) as app, app_state(app).engine.connect() as connection:
            current_user = (await connection.execute(text("SELECT current_user"))).scalar()
    finally:
        await drop_roles()

    assert len(logins) == 1
    assert current_user == logins[0] != admin_user
    assert "Database credentials from Vault" in caplog.text
