"""A circuit breaker: stop calling a failing dependency for a while, so requests do not
pile up behind its timeouts, then let one trial call through to see if it recovered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._failure_threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self.state = BreakerState.CLOSED

    def allow(self) -> bool:
        """Whether to call the dependency now: always when closed, once per reset period when open."""
        if self.state is BreakerState.CLOSED:
            return True
        if (
            self.state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._reset_seconds
        ):
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def record_success(self) -> None:
        if self.state is not BreakerState.CLOSED:
            logger.info("Circuit closed: %s answers again", self.name)
        self._failures = 0
        self.state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._failure_threshold:
            if self.state is not BreakerState.OPEN:
                logger.warning(
                    "Circuit open: %s failed %d times; skipping it for %.0f s",
                    self.name,
                    self._failures,
                    self._reset_seconds,
                )
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()
