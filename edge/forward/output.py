"""The bus consumer of a clinical output: output items -> encoded messages -> its queue.

Observations go out as configured: ``every_reading`` encodes each reading; ``charted`` feeds
each bed's :class:`~edge.charting.BedCharter` (the one charting rule, shared with the session
record) with the bed's readings and the engine's session snapshots and encodes each row it
completes; ``none`` sends none. Every alarm transition is encoded (unless ``alarms`` is off).
Encoding never waits (the queue stores in the background), so this consumer never holds up
the bus, and an item that cannot be encoded is logged and counted, never stops the output.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.bus import Subscription
from edge.charting import BedCharter, ChartRow
from edge.config import Config
from edge.forward.queue import ForwardQueue, NewMessage
from edge.items import OutputItem

__all__ = ["Encoder", "ForwardOutput", "OutputPolicy"]

log = logging.getLogger(__name__)
BATCH_MAX = 500

Observations = Literal["charted", "every_reading", "none"]


class Encoder(Protocol):
    """Makes one stored message of a reading, a chart row or an alarm transition."""

    def reading(self, reading: PumpReading | VitalsReading) -> NewMessage: ...

    def chart_row(self, row: ChartRow) -> NewMessage: ...

    def alarm(self, event: AlarmEvent) -> NewMessage: ...

    def reidentify(self, config: Config) -> None: ...


@dataclass(frozen=True, slots=True)
class OutputPolicy:
    """What an output sends: ``observations`` mode, the chart interval (s), alarms or not."""

    observations: Observations = "charted"
    chart_interval_s: float = 300.0
    alarms: bool = True


class ForwardOutput:
    """Turns output items into messages of ``encoder`` for ``queue``; ``name`` for logs."""

    def __init__(
        self, name: str, policy: OutputPolicy, encoder: Encoder, queue: ForwardQueue
    ) -> None:
        self.name = name
        self._policy = policy
        self._encoder = encoder
        self._queue = queue
        self._charters: dict[str, BedCharter] = {}
        self.failed = 0  # items no message could be made of (a bug; logged)

    def reidentify(self, config: Config, new_visits: Iterable[str] = ()) -> None:
        """A reload: the next messages carry ``config``'s visit numbers and EUI-64s. A bed in
        ``new_visits`` (its visit number changed) drops its unfinished chart row, so no row
        of the previous visit goes out under the new number."""
        for bed in new_visits:
            if self._charters.pop(bed, None) is not None:
                log.info("chart row dropped: the bed's visit changed", extra={"bed": bed})
        self._encoder.reidentify(config)

    async def consume(self, items: Subscription[OutputItem]) -> None:
        """Follow the output bus until it closes."""
        while batch := await items.get_batch(BATCH_MAX):
            messages: list[NewMessage] = []
            for item in batch:
                try:
                    messages += self.messages_for(item)
                except Exception:  # the output's boundary: one bad item spares the rest
                    self.failed += 1
                    log.exception(
                        "message not built",
                        extra={"output": self.name, "item": type(item).__name__},
                    )
            if messages:
                self._queue.put(messages)

    def messages_for(self, item: OutputItem) -> list[NewMessage]:
        """The messages ``item`` makes (often none)."""
        if isinstance(item, AlarmEvent):
            return [self._encoder.alarm(item)] if self._policy.alarms else []
        mode = self._policy.observations
        if isinstance(item, SessionEvent):
            if mode != "charted":
                return []
            rows = self._charter(item.session.bed).session_changed(item.session)
            return [self._encoder.chart_row(row) for row in rows]
        if not isinstance(item, PumpReading | VitalsReading) or mode == "none":
            return []
        if mode == "every_reading":
            return [self._encoder.reading(item)]
        return [self._encoder.chart_row(row) for row in self._charter(item.bed).reading(item)]

    def _charter(self, bed: str) -> BedCharter:
        charter = self._charters.get(bed)
        if charter is None:
            charter = self._charters[bed] = BedCharter(interval_s=self._policy.chart_interval_s)
        return charter
