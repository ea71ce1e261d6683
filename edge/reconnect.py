"""When a link session tries its port again, shaped for the ``device_offline`` alarm.

A device unplugged for a few seconds must be read again before its timeout, so a missing port
(no such device path, nothing listening) is retried at a short fixed interval, never backed
off. A silent link that was closed to be reopened is reopened at once. Only errors that
repeat while the port is there (open refused: permission, busy; or the link breaks before any
reading) back off, capped and jittered (:class:`~edge.backoff.Backoff`); a link that brought a
reading starts the backoff again from its first, short delay.
"""

from __future__ import annotations

import enum

from edge.backoff import Backoff

__all__ = [
    "MISSING_RETRY_S",
    "SILENT_GRACE_S",
    "SILENT_REOPEN_S",
    "Outcome",
    "ReconnectPolicy",
    "reopen_after",
]

MISSING_RETRY_S = 1.0  # s between attempts to open a port that is not there
SILENT_REOPEN_S = 0.1  # s before reopening a link closed because its devices were silent
SILENT_GRACE_S = 2.0  # s past a device's stale time before its silent link is reopened


def reopen_after(stale_after_s: float, timeout_s: float) -> float:
    """Seconds of silence after which a device's link is closed and reopened: ``SILENT_GRACE_S``
    past its stale time (a device is never stale between two of its reports), at the latest
    at its timeout. A link is reopened when all its devices have reached theirs."""
    return min(stale_after_s + SILENT_GRACE_S, timeout_s)


class Outcome(enum.Enum):
    """How the last attempt on the port ended."""

    MISSING = "missing"  # the port is not there (open failed: no such port, refused)
    FAILED = "failed"  # the port is there but could not be opened (permission, busy, ...)
    LOST = "lost"  # the link opened and then broke
    SILENT = "silent"  # the link was closed because its devices stayed silent


class ReconnectPolicy:
    """The delay (s) before the next attempt, from how the last one ended and whether the
    link brought a reading since the previous failure."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()

    def delay_after(self, outcome: Outcome, had_reading: bool = False) -> float:
        """Seconds to wait after ``outcome``; ``had_reading``: the link that just ended
        delivered at least one reading (the device was healthy: the backoff starts over)."""
        if had_reading:
            self.backoff.reset()
        if outcome is Outcome.MISSING:
            return MISSING_RETRY_S
        if outcome is Outcome.SILENT:
            return SILENT_REOPEN_S
        return self.backoff.next_delay()
