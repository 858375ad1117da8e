"""Secrets from Vault's API, against an in-process stand-in that speaks Vault's HTTP API."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orders_service.config import (
    SERVICE,
    Settings,
    get_settings,
)
from orders_service.vault.client import (
    TokenKeeper,
    VaultClient,
    VaultConfig,
    VaultError,
)
from tests.apps import client_of, running_app
from tests.vault.vault_server import VaultStandIn

PREFIX = "ORDERS_SERVICE_"
SECRET_VALUE = "s3cr3t-from-vault"


@pytest.fixture
def vault() -> Iterator[VaultStandIn]:
    stand_in = VaultStandIn(
        kv={"secret": {SERVICE: {"cache_ttl_seconds": "42", "api_key": SECRET_VALUE}}}
    ).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def token(vault: VaultStandIn, monkeypatch: pytest.MonkeyPatch) -> str:
    """A good token, and the environment a deployed service would have."""
    issued = vault.issue_token()
    for name in ("VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_SKIP_VERIFY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", issued)
    monkeypatch.setenv(f"{PREFIX}ENVIRONMENT", "production")
    monkeypatch.setenv(f"{PREFIX}OIDC_ISSUER", "https://login.example.com")
    monkeypatch.setenv(f"{PREFIX}OIDC_AUDIENCE", "service")
    monkeypatch.setenv(f"{PREFIX}VAULT_TIMEOUT_SECONDS", "0.5")
    return issued


def test_a_good_token_reads_the_services_secret(token: str) -> None:
    assert Settings(_env_file=None).cache_ttl_seconds == 42.0


def test_vault_beats_environment_variables(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}CACHE_TTL_SECONDS", "7")

    assert Settings(_env_file=None).cache_ttl_seconds == 42.0


def test_keys_that_are_not_settings_are_ignored(token: str) -> None:
    assert "api_key" not in Settings(_env_file=None).model_dump()


def test_kubernetes_auth(
    vault: VaultStandIn, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwt_file = tmp_path / "token"
    jwt_file.write_text("service-account-jwt\n")
    vault.kubernetes_roles[SERVICE] = "service-account-jwt"
    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.setenv(f"{PREFIX}VAULT_KUBERNETES_TOKEN_FILE", str(jwt_file))

    assert Settings(_env_file=None).cache_ttl_seconds == 42.0
    assert vault.logins == 1


def test_approle_auth(
    vault: VaultStandIn, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_id_file = tmp_path / "secret-id"
    secret_id_file.write_text("the-secret-id")
    vault.approles["the-role-id"] = "the-secret-id"
    monkeypatch.setenv(f"{PREFIX}VAULT_AUTH_METHOD", "approle")
    monkeypatch.setenv(f"{PREFIX}VAULT_APPROLE_ROLE_ID", "the-role-id")
    monkeypatch.setenv(f"{PREFIX}VAULT_APPROLE_SECRET_ID_FILE", str(secret_id_file))

    assert Settings(_env_file=None).cache_ttl_seconds == 42.0
    assert vault.logins == 1


def test_a_missing_credential_file_is_named(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}VAULT_AUTH_METHOD", "kubernetes")
    monkeypatch.setenv(f"{PREFIX}VAULT_KUBERNETES_TOKEN_FILE", "/nonexistent/token")

    with pytest.raises(
        VaultError, match="cannot read the service-account token at /nonexistent/token"
    ):
        Settings(_env_file=None)


class TestFailures:
    def test_sealed(self, vault: VaultStandIn, token: str) -> None:
        vault.sealed = True

        with pytest.raises(VaultError, match="sealed or unavailable") as failed:
            Settings(_env_file=None)

        assert vault.url in str(failed.value)
        assert len(vault.requests) == 3, "retried a bounded number of times"

    def test_refused_token(self, vault: VaultStandIn, token: str) -> None:
        vault.tokens.clear()

        with pytest.raises(VaultError, match=r"permission denied \(403\)"):
            Settings(_env_file=None)

    def test_missing_secret(self, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(f"{PREFIX}VAULT_KV_PATH", "no-such-service")

        with pytest.raises(
            VaultError, match=r"nothing at that path \(404\).*secret/no-such-service"
        ):
            Settings(_env_file=None)

    def test_unreachable(self, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")

        with pytest.raises(VaultError, match=re.escape("Vault at http://127.0.0.1:9: unreachable")):
            Settings(_env_file=None)

    def test_timeout(
        self, vault: VaultStandIn, token: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(f"{PREFIX}VAULT_TIMEOUT_SECONDS", "0.05")
        monkeypatch.setenv(f"{PREFIX}VAULT_ATTEMPTS", "1")
        vault.delay_seconds = 0.3

        with pytest.raises(VaultError, match="no answer before the timeout"):
            Settings(_env_file=None)

    def test_no_vault_address_when_deployed(
        self, token: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("VAULT_ADDR")

        with pytest.raises(VaultError, match="VAULT_ADDR is not set"):
            Settings(_env_file=None)


def test_development_needs_no_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv(f"{PREFIX}ENVIRONMENT", "development")

    assert Settings(_env_file=None).cache_ttl_seconds == 300.0


async def test_the_token_is_renewed(vault: VaultStandIn, token: str) -> None:
    keeper = TokenKeeper(VaultClient.connect(VaultConfig()))

    assert await keeper.renew_once() == 3600
    assert vault.renewals == 1


async def test_a_failed_renewal_logs_in_again(
    vault: VaultStandIn, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwt_file = tmp_path / "token"
    jwt_file.write_text("jwt")
    vault.kubernetes_roles[SERVICE] = "jwt"
    monkeypatch.setenv(f"{PREFIX}VAULT_AUTH_METHOD", "kubernetes")
    monkeypatch.setenv(f"{PREFIX}VAULT_KUBERNETES_TOKEN_FILE", str(jwt_file))
    keeper = TokenKeeper(VaultClient.connect(VaultConfig()))
    vault.refuse_renewal = True

    assert await keeper.renew_once() == 3600
    assert vault.logins == 2


async def test_a_failed_login_is_logged_not_raised(
    vault: VaultStandIn, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = TokenKeeper(VaultClient.connect(VaultConfig()))
    vault.tokens.clear()

    assert await keeper.renew_once() == 0
    assert "Vault login failed" in caplog.text


async def test_readyz_reports_vault(vault: VaultStandIn, token: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with running_app(settings) as app, client_of(app) as client:
        ready = await client.get("/readyz")
        vault.sealed = True
        sealed = await client.get("/readyz")

    assert ready.json()["checks"]["vault"] == "ok"
    assert sealed.status_code == 200, "secrets were read at start-up: a sealed Vault is reported"
    assert sealed.json()["checks"]["vault"] == "unavailable"


async def test_secret_values_never_reach_the_logs(
    vault: VaultStandIn, token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with running_app(settings) as app, client_of(app) as client:
        await client.get("/readyz")

    logged = caplog.text + " ".join(str(vars(record)) for record in caplog.records)
    assert "Read settings from Vault" in caplog.text
    assert SECRET_VALUE not in logged
    assert token not in logged


def test_a_refused_token_stops_start_up(vault: VaultStandIn, token: str) -> None:
    vault.tokens.clear()
    get_settings.cache_clear()

    started = subprocess.run(
        [sys.executable, "-m", "orders_service"],
        env={**os.environ, f"{PREFIX}PORT": "18089"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert started.returncode != 0
    assert f"Vault at {vault.url}: permission denied (403)" in started.stderr
    assert token not in started.stderr + started.stdout
