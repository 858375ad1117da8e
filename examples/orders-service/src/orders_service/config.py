"""Settings: one typed class, read from the environment (and `.env` in development).

Precedence, highest first: arguments, the service's Vault KV secret, environment
variables, `.env`, defaults.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from .vault.client import VaultSettingsSource

# The service's name: its distribution, image, Helm release and OpenTelemetry service.name.
SERVICE = "orders-service"
ENV_PREFIX = "ORDERS_SERVICE_"

# The JWS algorithms an access token may be signed with: asymmetric only, since the keys come
# from the provider's public JWKS (an HS* token would need a secret shared with the provider).
SigningAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "password"})

# The URL schemes this service was generated for (the Copier answers `database` and `cache`).
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
CACHE_SCHEMES = ("memory", "redis", "rediss")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def deployed(self) -> bool:
        """Whether real users depend on it, so every required secret must be there."""
        return self in {Environment.STAGING, Environment.PRODUCTION}


class AccessLog(StrEnum):
    """Which requests get an access line: every one, or those refused, failed or slow."""

    ALL = "all"
    ERRORS_AND_SLOW = "errors-and-slow"


class Settings(BaseSettings):
    """Everything the service can be configured with; see `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Environment = Environment.DEVELOPMENT
    log_level: Annotated[str, Field(pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")] = "INFO"
    # By default a request answered below 400 within access_log_slow_seconds writes no line:
    # the metrics count it, a line would cost a quarter of a plain route's CPU, and an
    # ingress or a mesh's proxy can log every request outside the service (README).
    access_log: AccessLog = AccessLog.ERRORS_AND_SLOW
    access_log_slow_seconds: Annotated[float, Field(ge=0)] = 0.5

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    forwarded_allow_ips: str = "127.0.0.1"
    keep_alive_seconds: Annotated[int, Field(ge=1)] = 5
    graceful_shutdown_seconds: Annotated[int, Field(ge=1)] = 20
    # How long a required dependency may fail readiness checks, its fallback down too,
    # before the pod leaves rotation (docs/operations.md of the template).
    readiness_grace_seconds: Annotated[float, Field(ge=0)] = 30.0

    database_url: str = f"sqlite+aiosqlite:///./.data/{SERVICE}.db"
    database_password: SecretStr | None = None
    database_pool_size: Annotated[int, Field(ge=1)] = 5
    database_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    database_statement_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Set: every new connection logs in with credentials from this role of Vault's database
    # secrets engine (mounted at vault_database_mount), not the URL's user and password.
    vault_database_role: str | None = None
    vault_database_mount: str = "database"
    migrate_on_startup: bool = True

    cache_url: str = "memory://"
    cache_password: SecretStr | None = None
    cache_ttl_seconds: Annotated[float, Field(gt=0)] = 300.0
    cache_miss_ttl_seconds: Annotated[float, Field(gt=0)] = 30.0
    cache_max_entries: Annotated[int, Field(ge=1)] = 10_000
    # Every id filter a domain opts into (cache/known_ids.py): reads of ids never created
    # are 404s without a lookup. The capacity is per filter, unless the domain sizes its own.
    bloom_filter_enabled: bool = False
    bloom_filter_capacity: Annotated[int, Field(ge=1)] = 1_000_000
    bloom_filter_error_rate: Annotated[float, Field(gt=0, lt=1)] = 0.001
    bloom_filter_sync_seconds: Annotated[float, Field(gt=0)] = 10.0

    otlp_endpoint: Annotated[str, Field(pattern="^https?://")] | None = None

    rate_limit_enabled: bool = True
    rate_limit_requests: Annotated[int, Field(ge=1)] = 600
    rate_limit_window_seconds: Annotated[float, Field(gt=0)] = 60.0
    rate_limit_key_header: Annotated[str, Field(pattern="^[A-Za-z0-9-]+$")] | None = None

    # Access tokens (auth/): JWTs signed by this OpenID provider for this audience. Both are
    # required when deployed; in development `make run` starts a local provider and sets them.
    oidc_issuer: Annotated[str, Field(pattern="^https?://[^/]")] | None = None
    oidc_audience: Annotated[str, Field(min_length=1)] | None = None
    # Else the `jwks_uri` of the issuer's discovery document.
    oidc_jwks_url: Annotated[str, Field(pattern="^https?://[^/]")] | None = None
    oidc_algorithms: Annotated[tuple[SigningAlgorithm, ...], Field(min_length=1)] = (
        "RS256",
        "ES256",
    )
    oidc_leeway_seconds: Annotated[float, Field(ge=0, le=300)] = 30.0
    # Scopes every request's token must carry, besides those of its route.
    oidc_required_scopes: tuple[str, ...] = ()
    # The provider's keys are fetched again this often, and at most this often for a token
    # signed by a key not seen yet (the provider rotated its keys).
    oidc_keys_refresh_seconds: Annotated[float, Field(gt=0)] = 3600.0
    oidc_unknown_key_refetch_seconds: Annotated[float, Field(ge=0)] = 30.0
    oidc_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    # Swagger UI's client at the provider, a public one (authorization code with PKCE): set,
    # /docs signs in there; unset, it takes a pasted token.
    oidc_docs_client_id: Annotated[str, Field(min_length=1)] | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        vault = VaultSettingsSource(settings_cls)
        return init_settings, vault, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _a_database_this_service_supports(self) -> Self:
        scheme = url_scheme(self.database_url)
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(unsupported_url("database_url", scheme, DATABASE_SCHEMES))
        return self

    @model_validator(mode="after")
    def _a_cache_this_service_supports(self) -> Self:
        scheme = url_scheme(self.cache_url)
        if scheme not in CACHE_SCHEMES:
            raise ValueError(unsupported_url("cache_url", scheme, CACHE_SCHEMES))
        return self

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> Self:
        """Placeholder secrets are fine on a laptop and a liability anywhere else."""
        if self.environment is Environment.DEVELOPMENT:
            return self
        for name, value in self:
            if isinstance(value, SecretStr) and value.get_secret_value() in PLACEHOLDER_SECRETS:
                env_name = f"{ENV_PREFIX}{name}".upper()
                msg = f"{name} is a placeholder in {self.environment}: set {env_name} to a real secret"
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _require_a_database_password_when_deployed(self) -> Self:
        url = make_url(self.database_url)
        if (
            self.environment.deployed
            and url.get_backend_name() != "sqlite"
            and url.password is None
            and self.database_password is None
            and self.vault_database_role is None
        ):
            msg = (
                f"database_password is not set in {self.environment}: looked in "
                f"{ENV_PREFIX}DATABASE_PASSWORD, .env and the service's Vault KV secret "
                f"(or set {ENV_PREFIX}VAULT_DATABASE_ROLE for credentials from Vault)"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _dynamic_credentials_need_a_server(self) -> Self:
        if self.vault_database_role is not None and self.database.get_backend_name() == "sqlite":
            msg = (
                f"vault_database_role is set but database_url is SQLite, which has no logins: "
                f"point {ENV_PREFIX}DATABASE_URL at PostgreSQL or unset {ENV_PREFIX}VAULT_DATABASE_ROLE"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _require_a_token_issuer_when_deployed(self) -> Self:
        missing = [
            f"{ENV_PREFIX}{name.upper()}"
            for name in ("oidc_issuer", "oidc_audience")
            if getattr(self, name) is None
        ]
        if self.environment.deployed and missing:
            msg = (
                f"{' and '.join(missing)} must be set in {self.environment}: the service answers "
                "no API request without an access token it can verify"
            )
            raise ValueError(msg)
        return self

    @property
    def database(self) -> URL:
        """The database URL with its password filled in from `database_password`."""
        url = make_url(self.database_url)
        if self.database_password is not None:
            url = url.set(password=self.database_password.get_secret_value())
        return url

    @property
    def sqlite_path(self) -> Path | None:
        """The file of an SQLite database, or None for a server or in-memory database."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)


def url_scheme(url: str) -> str:
    """The scheme of `url` (`postgresql+asyncpg` of `postgresql+asyncpg://...`); "" for none."""
    scheme, separator, _ = url.partition("://")
    return scheme if separator else ""


def unsupported_url(setting: str, scheme: str, schemes: tuple[str, ...]) -> str:
    """Why a URL is refused; it names the scheme only, as the URL may hold a password."""
    accepted = " or ".join(f"{known}://" for known in schemes)
    if not scheme:
        return f"{ENV_PREFIX}{setting.upper()} is not a URL: use {accepted}"
    return f"{ENV_PREFIX}{setting.upper()} scheme '{scheme}' is not supported: use {accepted}"


def explain(error: ValidationError) -> str:
    """The settings' validation errors as one line, each naming its environment variable."""
    problems = []
    for problem in error.errors(include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        # A field's own constraint (a port that is not a number) says nothing of where the
        # value came from; the model's validators word their whole message themselves.
        if problem["loc"]:
            message = f"{ENV_PREFIX}{str(problem['loc'][0]).upper()}: {message}"
        problems.append(message)
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
