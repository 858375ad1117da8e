"""HashiCorp Vault over its HTTP API (hvac): log in, read the service's KV v2 secret, stay logged in.

Vault's own variables say where Vault is (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`,
`VAULT_SKIP_VERIFY`, `VAULT_NAMESPACE`), as for Vault's CLI; the service's settings
`{ENV_PREFIX}VAULT_*` say how this service authenticates and which secret it reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import hvac
import requests
from hvac import exceptions
from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

ENV_PREFIX = "ORDERS_SERVICE_"
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Where the service runs without Vault when VAULT_ADDR is unset: a laptop, a test run.
LOCAL_ENVIRONMENTS = frozenset({"development", "test"})

# Failures a second attempt can fix: Vault restarting, unsealing, or briefly unreachable.
TRANSIENT = (
    exceptions.VaultDown,
    exceptions.BadGateway,
    requests.ConnectionError,
    requests.Timeout,
)


class VaultError(RuntimeError):
    """Vault could not give the service its secrets; the message says where and why."""


class AuthMethod(StrEnum):
    TOKEN = "token"  # noqa: S105 - the method's name, not a secret
    KUBERNETES = "kubernetes"
    APPROLE = "approle"


@dataclass(frozen=True, slots=True)
class DatabaseCredentials:
    """A login from Vault's database secrets engine, valid for its lease."""

    username: str
    password: SecretStr
    lease_id: str
    lease_seconds: int
    renewable: bool


class VaultConfig(BaseSettings):
    """How to reach Vault and what to read there."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = "development"
    addr: str | None = Field(default=None, validation_alias="VAULT_ADDR")
    token: SecretStr | None = Field(default=None, validation_alias="VAULT_TOKEN")
    cacert: Path | None = Field(default=None, validation_alias="VAULT_CACERT")
    skip_verify: bool = Field(default=False, validation_alias="VAULT_SKIP_VERIFY")
    namespace: str | None = Field(default=None, validation_alias="VAULT_NAMESPACE")
    vault_auth_method: AuthMethod | None = None
    vault_role: str = "orders-service"
    vault_auth_mount: str | None = None
    vault_kubernetes_token_file: Path = SERVICE_ACCOUNT_TOKEN
    vault_approle_role_id: str | None = None
    vault_approle_secret_id_file: Path | None = None
    vault_kv_mount: str = "secret"
    vault_kv_path: str = "orders-service"
    vault_timeout_seconds: float = Field(default=5.0, gt=0)
    vault_attempts: int = Field(default=3, ge=1, le=10)

    @property
    def auth_method(self) -> AuthMethod:
        """The configured method, else a token when VAULT_TOKEN is set, else Kubernetes."""
        if self.vault_auth_method is not None:
            return self.vault_auth_method
        return AuthMethod.TOKEN if self.token is not None else AuthMethod.KUBERNETES

    @property
    def verify(self) -> bool | str:
        """TLS verification as Vault's CLI does it: off, a CA bundle, or the system's."""
        if self.skip_verify:
            return False
        return str(self.cacert) if self.cacert is not None else True


class VaultClient:
    """An authenticated hvac client, with every failure turned into a VaultError."""

    def __init__(self, config: VaultConfig, client: hvac.Client) -> None:
        self.config = config
        self._client = client

    @classmethod
    def connect(cls, config: VaultConfig) -> VaultClient:
        """Log in to the Vault at config.addr with the configured method."""
        if config.addr is None:
            msg = "Vault: VAULT_ADDR is not set, so there is no Vault to read secrets from"
            raise VaultError(msg)
        client = hvac.Client(
            url=config.addr,
            verify=config.verify,
            # requests takes fractions of a second; the stub's `int` is narrower than hvac.
            timeout=config.vault_timeout_seconds,  # type: ignore[arg-type]
            namespace=config.namespace,
        )
        vault = cls(config, client)
        vault.login()
        return vault

    def login(self) -> None:
        """Authenticate, and check the resulting token is accepted."""
        method = self.config.auth_method
        mount = self.config.vault_auth_mount or method.value
        if method is AuthMethod.TOKEN:
            if self.config.token is None:
                msg = f"Vault at {self.config.addr}: token auth needs VAULT_TOKEN, which is not set"
                raise VaultError(msg)
            self._client.token = self.config.token.get_secret_value()
            self._call("looking up the token", self._client.auth.token.lookup_self)
        elif method is AuthMethod.KUBERNETES:
            jwt = self._read_credential(
                self.config.vault_kubernetes_token_file, "service-account token"
            )
            self._call(
                f"logging in with Kubernetes auth (role {self.config.vault_role}, mount {mount})",
                lambda: self._client.auth.kubernetes.login(
                    role=self.config.vault_role, jwt=jwt, mount_point=mount
                ),
            )
        else:
            if (
                self.config.vault_approle_role_id is None
                or self.config.vault_approle_secret_id_file is None
            ):
                msg = (
                    f"Vault at {self.config.addr}: AppRole auth needs "
                    f"{ENV_PREFIX}VAULT_APPROLE_ROLE_ID and {ENV_PREFIX}VAULT_APPROLE_SECRET_ID_FILE"
                )
                raise VaultError(msg)
            role_id = self.config.vault_approle_role_id
            secret_id = self._read_credential(
                self.config.vault_approle_secret_id_file, "AppRole secret ID"
            )
            self._call(
                f"logging in with AppRole auth (mount {mount})",
                lambda: self._client.auth.approle.login(
                    role_id=role_id, secret_id=secret_id, mount_point=mount
                ),
            )
        logger.info(
            "Logged in to Vault", extra={"vault_addr": self.config.addr, "vault_auth": method.value}
        )

    def read_secrets(self) -> dict[str, Any]:
        """The data of the service's KV v2 secret."""
        mount, path = self.config.vault_kv_mount, self.config.vault_kv_path
        response = self._call(
            f"reading the KV v2 secret {mount}/{path}",
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            ),
        )
        data: dict[str, Any] = response["data"]["data"]
        return data

    def database_credentials(self, mount: str, role: str) -> DatabaseCredentials:
        """New credentials for `role` of the database secrets engine at `mount`."""
        response = self._call(
            f"getting database credentials ({mount}/creds/{role})",
            partial(self._client.secrets.database.generate_credentials, role, mount_point=mount),
        )
        return DatabaseCredentials(
            username=response["data"]["username"],
            password=SecretStr(response["data"]["password"]),
            lease_id=response["lease_id"],
            lease_seconds=response["lease_duration"],
            renewable=response["renewable"],
        )

    def renew_lease(self, lease_id: str, seconds: int) -> int:
        """Ask for `seconds` more of the lease; the seconds granted (fewer near its max TTL)."""
        response = self._call(
            "renewing the database credentials' lease",
            partial(self._client.sys.renew_lease, lease_id, increment=seconds),
        )
        granted: int = response["lease_duration"]
        return granted

    def token_ttl(self) -> int:
        """Seconds the current token has left; 0 for a token that never expires."""
        response = self._call("looking up the token", self._client.auth.token.lookup_self)
        ttl: int = response["data"]["ttl"]
        return ttl

    def renew_token(self) -> None:
        self._call("renewing the token", self._client.auth.token.renew_self)

    def is_ready(self) -> bool:
        """Whether Vault answers, initialised and unsealed (a standby counts)."""
        try:
            health = self._client.sys.read_health_status(method="GET")
        except (requests.RequestException, exceptions.VaultError):
            return False
        return (
            isinstance(health, dict)
            and health.get("initialized") is True
            and health.get("sealed") is False
        )

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """call(), retried with backoff where a retry can help, its failure explained."""
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            stop=stop_after_attempt(self.config.vault_attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )
        try:
            return retrying(call)
        except (requests.RequestException, exceptions.VaultError) as error:
            raise VaultError(
                f"Vault at {self.config.addr}: {explain(error)} while {action}"
            ) from error

    def _read_credential(self, path: Path, what: str) -> str:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            msg = f"Vault at {self.config.addr}: cannot read the {what} at {path}: {error.strerror}"
            raise VaultError(msg) from error


# In match order: requests' ConnectTimeout is both a Timeout and a ConnectionError.
EXPLANATIONS: tuple[tuple[type[Exception], str], ...] = (
    (exceptions.VaultDown, "Vault is sealed or unavailable (503)"),
    (exceptions.Forbidden, "permission denied (403): the token or role is refused"),
    (exceptions.Unauthorized, "unauthorized (401)"),
    (exceptions.InvalidPath, "nothing at that path (404)"),
    (exceptions.InvalidRequest, "the request was refused (400): {error}"),
    (requests.Timeout, "no answer before the timeout"),
    (requests.ConnectionError, "unreachable"),
)


def explain(error: Exception) -> str:
    """What happened, in Vault's terms; never a secret (Vault's error bodies hold none)."""
    for kind, explanation in EXPLANATIONS:
        if isinstance(error, kind):
            return explanation.format(error=error)
    return f"{type(error).__name__}: {error}"


class VaultSettingsSource(PydanticBaseSettingsSource):
    """Settings from the service's KV v2 secret: each key naming a settings field fills it."""

    def __call__(self) -> dict[str, Any]:
        config = VaultConfig()
        if config.addr is None and config.environment in LOCAL_ENVIRONMENTS:
            return {}
        secrets = VaultClient.connect(config).read_secrets()
        fields = self.settings_cls.model_fields
        values = {key.lower(): value for key, value in secrets.items() if key.lower() in fields}
        logger.info(
            "Read settings from Vault",
            extra={"vault_addr": config.addr, "settings": sorted(values)},
        )
        return values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole secret at once


class TokenKeeper:
    """Renews the token before it expires, and logs in again when renewal fails."""

    def __init__(self, vault: VaultClient, *, min_interval: float = 5.0) -> None:
        self._vault = vault
        self._min_interval = min_interval

    async def run(self) -> None:
        while True:
            ttl = await self.renew_once()
            await asyncio.sleep(max(self._min_interval, ttl * 2 / 3) if ttl else 300)

    async def renew_once(self) -> int:
        """Renew (or log in again); the token's remaining TTL afterwards, 0 if unknown."""
        try:
            ttl = await asyncio.to_thread(self._vault.token_ttl)
            if ttl:
                await asyncio.to_thread(self._vault.renew_token)
                ttl = await asyncio.to_thread(self._vault.token_ttl)
        except VaultError as renewal_error:
            logger.warning("Vault token renewal failed; logging in again: %s", renewal_error)
            try:
                await asyncio.to_thread(self._vault.login)
                return await asyncio.to_thread(self._vault.token_ttl)
            except VaultError as login_error:
                logger.error("Vault login failed: %s", login_error)
                return 0
        return ttl
