"""Settings: environment variables in, placeholder secrets out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from orders_service.config import (
    ENV_PREFIX,
    Environment,
    Settings,
    explain,
    get_settings,
)
from tests.apps import make_settings

README = Path(__file__).parents[1] / "README.md"
ACCEPTED_DATABASE_URLS = "sqlite+aiosqlite:// or postgresql+asyncpg://"
ACCEPTED_CACHE_URLS = "memory:// or redis:// or rediss://"

# URLs this service cannot use, each with the one line that refuses it. Each carries a
# password, which the line must not repeat.
REFUSED_URLS = [
    pytest.param(
        "database_url",
        "postgresql://app:s3cr3t@db.internal:5432/app",
        f"{ENV_PREFIX}DATABASE_URL scheme 'postgresql' is not supported: use {ACCEPTED_DATABASE_URLS}",
        id="postgresql-without-asyncpg",
    ),
    pytest.param(
        "database_url",
        "mysql+aiomysql://app:s3cr3t@db.internal:3306/app",
        f"{ENV_PREFIX}DATABASE_URL scheme 'mysql+aiomysql' is not supported: use {ACCEPTED_DATABASE_URLS}",
        id="mysql",
    ),
    pytest.param(
        "database_url",
        "app:s3cr3t@db.internal/app",
        f"{ENV_PREFIX}DATABASE_URL is not a URL: use {ACCEPTED_DATABASE_URLS}",
        id="no-scheme",
    ),
    pytest.param(
        "cache_url",
        "memcached://app:s3cr3t@cache.internal:11211",
        f"{ENV_PREFIX}CACHE_URL scheme 'memcached' is not supported: use {ACCEPTED_CACHE_URLS}",
        id="memcached",
    ),
]


class SettingsWithSecret(Settings):
    api_token: SecretStr = SecretStr("change-me")


def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SERVICE_PORT", "9090")
    monkeypatch.setenv("ORDERS_SERVICE_ENVIRONMENT", "test")

    settings = Settings(_env_file=None)

    assert settings.port == 9090
    assert settings.environment is Environment.TEST


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("database_url", "sqlite+aiosqlite:///:memory:"),
        ("database_url", "postgresql+asyncpg://app@db.internal:5432/app"),
        ("cache_url", "memory://"),
        ("cache_url", "redis://cache.internal:6379/0"),
        ("cache_url", "rediss://cache.internal:6380/0"),
    ],
)
def test_urls_of_the_generated_backends_are_accepted(setting: str, url: str) -> None:
    assert getattr(make_settings(**{setting: url}), setting) == url


@pytest.mark.parametrize(("setting", "url", "message"), REFUSED_URLS)
def test_urls_this_service_cannot_use_are_refused(setting: str, url: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(**{setting: url})

    assert explain(refused.value) == message
    assert "s3cr3t" not in message


def test_explain_names_the_variable_of_each_field_error() -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(port="not-a-port", workers=0)

    port, workers = explain(refused.value).split("; ")
    assert port.startswith(f"{ENV_PREFIX}PORT: Input should be a valid integer")
    assert workers.startswith(f"{ENV_PREFIX}WORKERS: Input should be greater than or equal to 1")


def test_the_readme_documents_every_setting() -> None:
    row = rf"^\| `{ENV_PREFIX}(\w+)` \|"
    documented = re.findall(row, README.read_text(encoding="utf-8"), flags=re.MULTILINE)

    assert sorted(documented) == sorted(name.upper() for name in Settings.model_fields)


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
