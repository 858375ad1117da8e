"""Tokens this process verified: a client sends the same token on every request until it
expires, and its signature need not be checked each time."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from .principal import Principal

# Some 1.5 MB of entries: far more clients than one replica serves within a token's life.
CAPACITY = 10_000


class VerifiedTokens:
    """The principals of verified tokens, until each token's `exp` (plus the leeway).

    Verifying an RS256 token with PyJWT costs some 130 µs of CPU, nearly a whole cached
    read; a token found here, under 2 µs (docs/architecture.md of the template). What the
    signature, issuer and audience proved cannot change, so only the expiry is checked
    again. The oldest entry makes room past `capacity`; everything is forgotten when the
    provider's keys change.
    """

    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self._capacity = capacity
        self._clock = clock
        self._entries: dict[bytes, tuple[Principal, float]] = {}
        self._generation = 0

    def get(self, token: str, generation: int) -> Principal | None:
        """The principal of `token` if it was verified with keys of `generation` and has
        not expired since."""
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
            return None
        key = _digest(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        principal, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return principal

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        """Remember a verified token until `expires_at` (epoch seconds, leeway included)."""
        if len(self._entries) >= self._capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[_digest(token)] = (principal, expires_at)


def _digest(token: str) -> bytes:
    # A fixed 16 bytes per entry, whatever the token's size.
    return hashlib.blake2b(token.encode(), digest_size=16).digest()
