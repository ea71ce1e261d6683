"""The outbox's memory tier: where messages wait while the outbox's disk refuses writes.

Bounded by ``max_messages``, with the outbox's own priorities: past the bound the oldest
telemetry goes first, then device and session state; an alarm is dropped only when nothing
else is left (every drop counted per class in the outbox's ``dropped``, and logged). Ids are
negative (-1, -2, ...), so they never meet a disk id; the oldest message has the id nearest 0.
Lost on a crash: this is the reduced durability ``storage_fault`` announces.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from edge.publish.messages import MessageClass, NewMessage, OutboxMessage

__all__ = ["MemoryTier"]

log = logging.getLogger(__name__)
DROP_LOG_INTERVAL_S = 10.0  # a drop is logged at most this often per class


@dataclass(slots=True)
class _Entry:
    message: OutboxMessage
    not_before: float = 0.0  # Unix s; a refused message waits until then


class MemoryTier:
    """Messages kept in memory, oldest first; ``dropped`` is shared with the outbox."""

    def __init__(
        self,
        max_messages: int,
        dropped: dict[MessageClass, int],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_messages = max_messages
        self.dropped = dropped
        self._classes: dict[MessageClass, OrderedDict[int, _Entry]] = {
            cls: OrderedDict() for cls in MessageClass
        }
        self._next_id = -1
        self._monotonic = monotonic
        self._logged_at = dict.fromkeys(MessageClass, float("-inf"))

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._classes.values())

    def put(self, messages: Sequence[NewMessage], created: float) -> None:
        """Keep ``messages`` (stored at Unix time ``created``), then enforce the bound."""
        for m in messages:
            stored = OutboxMessage(
                self._next_id, m.topic, m.payload, m.qos, m.retain, m.cls, created, m.expiry_s, 0
            )
            self._classes[m.cls][self._next_id] = _Entry(stored)
            self._next_id -= 1
        self._enforce_bound()

    def _enforce_bound(self) -> None:
        excess = len(self) - self.max_messages
        for cls in MessageClass:
            entries = self._classes[cls]
            count = min(excess, len(entries))
            if count <= 0:
                continue
            for _ in range(count):
                entries.popitem(last=False)
            excess -= count
            self.dropped[cls] += count
            self._log_drop(cls, count)

    def _log_drop(self, cls: MessageClass, count: int) -> None:
        now = self._monotonic()
        if cls is not MessageClass.ALARM and now - self._logged_at[cls] < DROP_LOG_INTERVAL_S:
            return
        self._logged_at[cls] = now
        log.log(
            logging.ERROR if cls is MessageClass.ALARM else logging.WARNING,
            "outbox dropped messages",
            extra={
                "class": cls.name.lower(),
                "count": count,
                "reason": "memory tier full",
                "dropped_total": self.dropped[cls],
            },
        )

    def _oldest_first(self) -> Iterable[_Entry]:
        return heapq.merge(
            *(entries.values() for entries in self._classes.values()),
            key=lambda entry: -entry.message.id,
        )

    def take(self, limit: int, now: float) -> list[OutboxMessage]:
        """Up to ``limit`` messages, oldest first, skipping those deferred past ``now`` (Unix
        s). They stay until :meth:`deliver` removes them."""
        taken: list[OutboxMessage] = []
        if limit <= 0:
            return taken
        for entry in self._oldest_first():
            if entry.not_before <= now:
                taken.append(entry.message)
                if len(taken) >= limit:
                    break
        return taken

    def all(self) -> list[OutboxMessage]:
        """Every message, oldest first (to move them to disk)."""
        return [entry.message for entry in self._oldest_first()]

    def deliver(self, ids: Iterable[int]) -> None:
        """Remove ``ids`` (acknowledged, or now on disk); unknown ids are ignored."""
        for i in ids:
            for entries in self._classes.values():
                if entries.pop(i, None) is not None:
                    break

    def defer(self, ids: Iterable[int], until: float) -> None:
        """Try ``ids`` again only from Unix time ``until``, one attempt more."""
        for i in ids:
            for entries in self._classes.values():
                entry = entries.get(i)
                if entry is not None:
                    entry.not_before = until
                    entry.message = replace(entry.message, attempts=entry.message.attempts + 1)
                    break
