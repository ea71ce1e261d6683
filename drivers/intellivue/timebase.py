"""Monitor time to wall time for IntelliVue readings (fact sheet §7, §8.1, §8.5, §11).

RelativeTime runs at 8000 ticks/s from monitor start and wraps after 2^32 ticks (~6.2 days).
AbsoluteTime is the monitor's local wall clock with no time zone, so it is never used as a
wall time directly: an absolute stamp is turned into RelativeTime with the MDS-create clock
pair (:class:`MonitorClock`), and a RelativeTime is aged against the RelativeTime of the poll
result it came in, which was "now" when the result was received (:func:`wall_time`). Only
differences of the monitor's clocks are used, so its time zone and clock setting do not matter.

The receive time of a result is late by a varying transmission and scheduling delay, so aging
against each result's own receive time would give the same measurement a stamp that jitters
by fractions of a millisecond from poll to poll. :class:`RelativeAnchor` pins RelativeTime to
wall time once (the first result of an association) and keeps that pair while the two clocks
agree within ``max_skew_s`` (1 s): the same RelativeTime then has the same wall time in every
poll. It re-anchors when they drift apart (the monitor's or the host's clock stepped or ran
off), after a day (RelativeTime wraps after ~6.2 days), and when a new MDS Create arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.dataexport import MdsCreateEvent
from drivers.intellivue.datatypes import decode_abs_time

__all__ = ["FirstSeen", "MonitorClock", "RelativeAnchor", "wall_time"]

_WRAP = 1 << 32
MAX_SKEW_S = 1.0  # s the anchored wall time of a result may differ from its receive time
MAX_ANCHOR_AGE_S = 86_400.0  # s of RelativeTime after which the anchor is taken again


def wall_time(rel_time: int, now_rel: int, now_wall: datetime) -> datetime:
    """The wall time of RelativeTime ``rel_time``, given that ``now_rel`` is ``now_wall``.
    Handles the u32 wrap; a time after ``now_rel`` is clamped to ``now_wall``."""
    age = (now_rel - rel_time) % _WRAP
    if age >= _WRAP // 2:
        return now_wall
    return now_wall - timedelta(seconds=age / codes.TICKS_PER_SECOND)


class RelativeAnchor:
    """A stable wall time for the monitor's RelativeTime, from one (RelativeTime, receive
    time) pair kept while it agrees with later receive times within ``max_skew_s``."""

    def __init__(self, max_skew_s: float = MAX_SKEW_S) -> None:
        self.max_skew = timedelta(seconds=max_skew_s)
        self._rel: int | None = None
        self._wall: datetime | None = None

    def reset(self) -> None:
        """Forget the anchor (a new association, possibly a restarted monitor)."""
        self._rel = self._wall = None

    def now_wall(self, now_rel: int, received: datetime) -> datetime:
        """The anchored wall time of RelativeTime ``now_rel``, received at ``received``."""
        if self._rel is not None and self._wall is not None:
            ticks = (now_rel - self._rel) % _WRAP
            if ticks < MAX_ANCHOR_AGE_S * codes.TICKS_PER_SECOND:
                anchored = self._wall + timedelta(seconds=ticks / codes.TICKS_PER_SECOND)
                if abs(received - anchored) <= self.max_skew:
                    return anchored
        self._rel, self._wall = now_rel, received
        return received


@dataclass(frozen=True, slots=True)
class MonitorClock:
    """The monitor's wall clock (naive, its local time) ``abs_time`` at RelativeTime
    ``rel_time``: the TIME_ABS/TIME_REL pair of the MDS create event."""

    abs_time: datetime
    rel_time: int

    @classmethod
    def from_event(cls, event: MdsCreateEvent) -> Self | None:
        """The clock pair of ``event``; ``None`` when absent or malformed (never raises)."""
        raw_abs = event.attribute(codes.NOM_ATTR_TIME_ABS)
        raw_rel = event.attribute(codes.NOM_ATTR_TIME_REL)
        if raw_abs is None or raw_rel is None or len(raw_rel) != 4:
            return None
        try:
            moment = decode_abs_time(raw_abs)
        except DecodeError:
            return None
        return None if moment is None else cls(moment, int.from_bytes(raw_rel))

    def rel_of(self, moment: datetime) -> int:
        """The RelativeTime at the monitor-local time ``moment``."""
        ticks = round((moment - self.abs_time).total_seconds() * codes.TICKS_PER_SECOND)
        return (self.rel_time + ticks) % _WRAP


class FirstSeen:
    """When each object's value set was first seen: the measurement time of an intermittent
    value the monitor sends without time stamp (two equal successive cuff readings merge)."""

    def __init__(self, capacity: int = 64) -> None:
        self._seen: dict[int, tuple[tuple[int, ...], datetime]] = {}
        self._capacity = capacity

    def time_of(self, handle: int, key: tuple[int, ...], now: datetime) -> datetime:
        """The first time ``key`` was seen for ``handle`` in a row, else ``now``."""
        known = self._seen.get(handle)
        if known is not None and known[0] == key:
            return known[1]
        if len(self._seen) >= self._capacity:
            self._seen.clear()
        self._seen[handle] = (key, now)
        return now
