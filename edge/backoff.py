"""Capped exponential backoff with full jitter, reset after a healthy period."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays (s) for retrying: attempt n waits a random time in ``[0, min(cap, initial * 2**n)]``
    but at least ``floor``. ``reset()`` after the link was healthy starts again from ``initial``.
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        floor: float = 0.1,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < floor <= initial <= cap:
            raise ValueError("backoff needs 0 < floor <= initial <= cap")
        self._initial = initial
        self._cap = cap
        self._floor = floor
        self._rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds."""
        ceiling = min(self._cap, self._initial * 2.0**self.attempt)
        self.attempt += 1
        return max(self._floor, ceiling * self._rand())

    def reset(self) -> None:
        """Forget past failures."""
        self.attempt = 0
