"""Settings: environment variables in, placeholder secrets out."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from orders_service.config import Environment, Settings, get_settings


class SettingsWithSecret(Settings):
    api_token: SecretStr = SecretStr("change-me")


def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SERVICE_PORT", "9090")
    monkeypatch.setenv("ORDERS_SERVICE_ENVIRONMENT", "test")

    settings = Settings(_env_file=None)

    assert settings.port == 9090
    assert settings.environment is Environment.TEST


def test_get_settings_reads_once() -> None:
    get_settings.cache_clear()

    assert get_settings() is get_settings()


def test_placeholder_secrets_are_fine_in_development() -> None:
    settings = SettingsWithSecret(_env_file=None, environment=Environment.DEVELOPMENT)

    assert settings.api_token.get_secret_value() == "change-me"


@pytest.mark.parametrize("environment", [Environment.STAGING, Environment.PRODUCTION])
def test_placeholder_secrets_are_refused_elsewhere(environment: Environment) -> None:
    with pytest.raises(ValidationError, match="api_token is a placeholder") as caught:
        SettingsWithSecret(_env_file=None, environment=environment)

    assert "ORDERS_SERVICE_API_TOKEN" in str(caught.value)


def test_secrets_stay_out_of_repr() -> None:
    settings = SettingsWithSecret(_env_file=None, api_token=SecretStr("s3cr3t-value"))

    assert "s3cr3t-value" not in repr(settings)


def test_sqlite_path_of_a_file_database(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/app.db")

    assert settings.sqlite_path == tmp_path / "app.db"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "postgresql+asyncpg://app@db.internal:5432/app",
    ],
)
def test_sqlite_path_of_other_databases(url: str) -> None:
    assert Settings(_env_file=None, database_url=url).sqlite_path is None


def test_database_password_is_kept_apart_from_the_url() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql+asyncpg://app@db.internal:5432/app",
        database_password=SecretStr("p@ss/word"),
    )

    assert settings.database.password == "p@ss/word"
    assert "p@ss/word" not in settings.database_url


def test_a_missing_database_password_stops_a_deployed_service() -> None:
    with pytest.raises(ValidationError, match="database_password is not set in production"):
        Settings(
            _env_file=None,
            environment=Environment.PRODUCTION,
            database_url="postgresql+asyncpg://app@db.internal:5432/app",
        )


def test_tests_may_use_a_database_without_a_password() -> None:
    settings = Settings(
        _env_file=None,
        environment=Environment.TEST,
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    )

    assert settings.database.password is None


def test_a_placeholder_database_password_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="database_password is a placeholder"):
        Settings(
            _env_file=None,
            environment=Environment.PRODUCTION,
            database_password=SecretStr("change-me"),
        )
