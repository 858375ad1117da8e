"""Database logins from Vault's database secrets engine, kept valid while the service runs.

Every new connection logs in with the current lease's credentials. A keeper renews the
lease at two thirds of its duration; when Vault grants less than asked (the lease nears
its max TTL) or refuses (the lease was revoked, or ended with the token that held it), it
gets new credentials and retires the pooled connections logged in with the old ones:
they close as they come back to the pool, so no query is cut off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from .client import DatabaseCredentials, VaultClient, VaultError

logger = logging.getLogger(__name__)


class DynamicCredentials:
    """The current lease's credentials, filled into each new connection of an engine."""

    def __init__(self, vault: VaultClient, mount: str, role: str) -> None:
        self._vault = vault
        self._mount = mount
        self._role = role
        self._current: DatabaseCredentials | None = None

    @property
    def current(self) -> DatabaseCredentials:
        if self._current is None:
            msg = f"Vault: no database credentials fetched yet for {self._mount}/creds/{self._role}"
            raise VaultError(msg)
        return self._current

    def fetch(self) -> DatabaseCredentials:
        """New credentials from Vault (blocking), used by connections opened from now on."""
        self._current = self._vault.database_credentials(self._mount, self._role)
        return self._current

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "do_connect", self._fill_in)

    def _fill_in(self, dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        credentials = self.current
        cparams["user"] = credentials.username
        cparams["password"] = credentials.password.get_secret_value()


class LeaseKeeper:
    """Renews the credentials' lease, and replaces credentials it cannot renew."""

    def __init__(
        self,
        vault: VaultClient,
        credentials: DynamicCredentials,
        engine: AsyncEngine,
        *,
        min_interval: float = 5.0,
    ) -> None:
        self._vault = vault
        self._credentials = credentials
        self._engine = engine
        self._min_interval = min_interval

    async def run(self) -> None:
        delay = self._two_thirds(self._credentials.current.lease_seconds)
        while True:
            await asyncio.sleep(delay)
            delay = await self.renew_once()

    async def renew_once(self) -> float:
        """Renew the lease for its full duration, or rotate the credentials.

        Returns the seconds until the next round: two thirds of the lease it leaves, or
        the minimum interval when no new credentials could be had.
        """
        current = self._credentials.current
        granted = 0
        if current.renewable:
            try:
                granted = await asyncio.to_thread(
                    self._vault.renew_lease, current.lease_id, current.lease_seconds
                )
            except VaultError as error:
                logger.warning("Database credentials' lease not renewed: %s", error)
        if granted >= current.lease_seconds:
            return self._two_thirds(granted)
        if await self.rotate():
            return self._two_thirds(self._credentials.current.lease_seconds)
        return self._min_interval

    async def rotate(self) -> bool:
        """New credentials for new connections (pooled ones with the old close on return)."""
        try:
            fresh = await asyncio.to_thread(self._credentials.fetch)
        except VaultError as error:
            # The old lease may have time left; the next round tries again soon.
            logger.error("New database credentials not obtained: %s", error)
            return False
        await self._engine.dispose()
        logger.info(
            "Rotated the database credentials from Vault",
            extra={"vault_lease_seconds": fresh.lease_seconds},
        )
        return True

    def _two_thirds(self, lease_seconds: float) -> float:
        return max(self._min_interval, lease_seconds * 2 / 3)


async def use_vault_credentials(
    vault: VaultClient | None, engine: AsyncEngine, mount: str, role: str
) -> LeaseKeeper:
    """Log the engine's connections in with credentials from `role`; the lease's keeper."""
    if vault is None:
        msg = (
            f"Vault: database credentials from {mount}/creds/{role} are configured but "
            "VAULT_ADDR is not set, so there is no Vault to get them from"
        )
        raise VaultError(msg)
    credentials = DynamicCredentials(vault, mount, role)
    fresh = await asyncio.to_thread(credentials.fetch)
    credentials.attach(engine)
    logger.info(
        "Database credentials from Vault",
        extra={"vault_role": role, "vault_lease_seconds": fresh.lease_seconds},
    )
    return LeaseKeeper(vault, credentials, engine)
