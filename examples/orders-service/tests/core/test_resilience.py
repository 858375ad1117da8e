"""The circuit breaker: closed, open after repeated failures, one trial after the reset time."""

from __future__ import annotations

from orders_service.core.resilience import (
    BreakerState,
    CircuitBreaker,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_the_threshold() -> None:
    breaker = CircuitBreaker("dependency", failure_threshold=3, clock=FakeClock())
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker("dependency", failure_threshold=2, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()

    assert breaker.state is BreakerState.CLOSED


def test_lets_one_trial_through_after_the_reset_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("dependency", failure_threshold=1, reset_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now = 10

    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(), "only one trial at a time"


def test_a_failed_trial_opens_it_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("dependency", failure_threshold=1, reset_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    breaker.allow()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_a_successful_trial_closes_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("dependency", failure_threshold=1, reset_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    breaker.allow()

    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
