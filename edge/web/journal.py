"""The event journal: every change for the browsers, numbered, so that a reconnecting page
gets exactly what it missed (Server-Sent Events ``Last-Event-ID`` replay).

Event ids are ``{epoch}-{number}``: ``number`` grows by one per event; ``epoch`` is new for
each journal (each dashboard process), so an id from before a restart is recognised as
foreign. The journal keeps the last ``capacity`` events; a page whose last id is foreign,
malformed or older than the journal cannot be replayed and gets a full snapshot instead.

``bed`` events (a bed's whole view, sent after each of its readings) may wait a little and
be merged; every other event (alarms, edges, the broker feed) is *urgent*, and readers can
wait for the next urgent one apart (see ``edge.web.events``). Each ``bed`` event also records
which parts of the bed it changed (:mod:`edge.web.bed_changes`), so streams can send only
those; ``None`` (the whole bed) for a bed's first event, a pump or device that came or went,
and every :data:`WHOLE_BED_EVERY` th event of a bed, so a page that went wrong mends itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from edge.web.bed_changes import Part, changed_parts
from edge.web.state import Change
from edge.web.views import JsonDict

__all__ = ["MERGED_TYPES", "WHOLE_BED_EVERY", "EventJournal", "JournalEvent"]

MERGED_TYPES = frozenset({"bed"})  # events that replace the whole of one thing: not urgent
WHOLE_BED_EVERY = 60  # events of one bed (~30 s at a pump and a monitor each 1 s)


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One numbered change; for a ``bed``, the parts it changed (``None``: the whole bed)."""

    number: int
    type: str
    data: JsonDict
    parts: frozenset[Part] | None = None


class EventJournal:
    """The last ``capacity`` changes, numbered from 1, and a wake-up for their readers."""

    def __init__(self, capacity: int = 10_000, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError("the journal keeps at least one event")
        self.epoch = epoch or uuid.uuid4().hex[:12]
        self.last = 0
        self.last_urgent = 0  # the number of the newest event not in MERGED_TYPES
        self._events: deque[JournalEvent] = deque(maxlen=capacity)
        self._beds: dict[str, tuple[JsonDict, int]] = {}  # key -> newest view, events since whole
        self._changed = asyncio.Event()
        self._urgent = asyncio.Event()

    def extend(self, changes: Iterable[Change]) -> None:
        """Number and keep ``changes``; wake the readers."""
        added = urgent = False
        for change in changes:
            self.last += 1
            if change.type == "bed_removed":  # back later: whole at its first event
                self._beds.pop(change.data["key"], None)
            parts = self._bed_parts(change.data) if change.type in MERGED_TYPES else None
            self._events.append(JournalEvent(self.last, change.type, change.data, parts))
            added = True
            if change.type not in MERGED_TYPES:
                self.last_urgent = self.last
                urgent = True
        if urgent:
            self.wake()
        elif added:
            self._changed.set()
            self._changed = asyncio.Event()

    def _bed_parts(self, bed: JsonDict) -> frozenset[Part] | None:
        """What ``bed`` changed against the bed's previous event (``None``: the whole bed)."""
        held, count = self._beds.get(bed["key"], (None, 0))
        parts = changed_parts(held, bed) if count + 1 < WHOLE_BED_EVERY else None
        self._beds[bed["key"]] = (bed, 0 if parts is None else count + 1)
        return parts

    def event_id(self, number: int) -> str:
        """The SSE id of event ``number``."""
        return f"{self.epoch}-{number}"

    def parse_id(self, event_id: str | None) -> int | None:
        """The number in ``event_id`` if it is one of this journal's ids, else ``None``."""
        if not event_id:
            return None
        epoch, _, number = event_id.strip().rpartition("-")
        if epoch != self.epoch or not number.isdigit():
            return None
        value = int(number)
        return value if value <= self.last else None

    def after(self, number: int) -> list[JournalEvent] | None:
        """The events after ``number``, or ``None`` when some of them are no longer kept."""
        if number >= self.last:
            return []
        first = self._events[0].number if self._events else self.last + 1
        if number + 1 < first:
            return None
        count = self.last - number  # read from the tail: readers are usually close to it
        return [self._events[-i] for i in range(count, 0, -1)]

    async def wait_after(self, number: int) -> None:
        """Return once there is an event after ``number``, or on :meth:`wake`."""
        if self.last <= number:
            await self._changed.wait()

    async def wait_urgent_after(self, number: int) -> None:
        """Return once there is an urgent event after ``number``, or on :meth:`wake`."""
        if self.last_urgent <= number:
            await self._urgent.wait()

    def wake(self) -> None:
        """Wake every reader, both waits (also to let a reader see that its stream must
        end)."""
        for event in (self._changed, self._urgent):
            event.set()
        self._changed, self._urgent = asyncio.Event(), asyncio.Event()
