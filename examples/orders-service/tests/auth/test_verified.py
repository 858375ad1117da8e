"""Tokens verified once are trusted until they expire, never longer, and never across keys."""

from __future__ import annotations

from orders_service.auth.principal import Principal
from orders_service.auth.verified import VerifiedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def principal(subject: str) -> Principal:
    return Principal.from_claims({"sub": subject, "scope": "items:read"})


def test_a_token_is_trusted_until_it_expires() -> None:
    clock = Clock()
    tokens = VerifiedTokens(clock=clock)
    tokens.put("a.b.c", principal("alice"), expires_at=1_060.0)

    clock.now = 1_059.9
    assert tokens.get("a.b.c", generation=0) == principal("alice")
    clock.now = 1_060.0
    assert tokens.get("a.b.c", generation=0) is None
    clock.now = 1_000.0
    assert tokens.get("a.b.c", generation=0) is None, "an expired entry is gone for good"


def test_only_the_exact_token_matches() -> None:
    tokens = VerifiedTokens(clock=Clock())
    tokens.put("a.b.c", principal("alice"), expires_at=2_000.0)

    assert tokens.get("a.b.d", generation=0) is None
    assert tokens.get("a.b.c ", generation=0) is None


def test_new_keys_forget_every_token() -> None:
    tokens = VerifiedTokens(clock=Clock())
    tokens.put("a.b.c", principal("alice"), expires_at=2_000.0)

    assert tokens.get("a.b.c", generation=1) is None
    assert tokens.get("a.b.c", generation=0) is None


def test_the_oldest_token_makes_room() -> None:
    tokens = VerifiedTokens(capacity=2, clock=Clock())
    for token in ("first", "second", "third"):
        tokens.put(token, principal(token), expires_at=2_000.0)

    assert tokens.get("first", generation=0) is None
    assert tokens.get("second", generation=0) == principal("second")
    assert tokens.get("third", generation=0) == principal("third")
