"""The HL7 output's bus consumer: output items -> PCD-01/PCD-04 messages -> the queue.

Observations go out as configured (``hl7.observations``): ``every_reading`` makes an ORU^R01
of each reading; ``charted`` feeds each bed's :class:`~edge.charting.BedCharter` (the one
charting rule, shared with the session record) with the bed's readings and the engine's
session snapshots, and makes an ORU^R01 of each row it completes; ``none`` sends none.
Every alarm transition becomes an ORU^R40 (unless ``hl7.alarms`` is off). Building never
waits (the queue stores in the background), so this consumer never holds up the bus, and a
message that cannot be built is logged and counted, never stops the output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.bus import Subscription
from edge.charting import BedCharter, ChartRow
from edge.config import Hl7Config
from edge.hl7.identity import Hl7Identity, new_control_id
from edge.hl7.pcd01 import chart_message, reading_message
from edge.hl7.pcd04 import alarm_message
from edge.hl7.queue import ForwardQueue, NewMessage
from edge.items import OutputItem

__all__ = ["Hl7Output"]

log = logging.getLogger(__name__)
BATCH_MAX = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Hl7Output:
    """Turns output items into HL7 messages for ``queue``."""

    def __init__(
        self,
        hl7: Hl7Config,
        identity: Hl7Identity,
        queue: ForwardQueue,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._hl7 = hl7
        self._identity = identity
        self._queue = queue
        self._now = now
        self._charters: dict[str, BedCharter] = {}
        self.failed = 0  # items no message could be built from (a bug; logged)

    async def consume(self, items: Subscription[OutputItem]) -> None:
        """Follow the output bus until it closes."""
        while batch := await items.get_batch(BATCH_MAX):
            messages: list[NewMessage] = []
            for item in batch:
                try:
                    messages += self.messages_for(item)
                except Exception:  # the output's boundary: one bad item spares the rest
                    self.failed += 1
                    log.exception("HL7 message not built", extra={"item": type(item).__name__})
            if messages:
                self._queue.put(messages)

    def messages_for(self, item: OutputItem) -> list[NewMessage]:
        """The messages ``item`` makes (often none)."""
        if isinstance(item, AlarmEvent):
            return [self._alarm(item)] if self._hl7.alarms else []
        mode = self._hl7.observations
        if isinstance(item, SessionEvent):
            if mode != "charted":
                return []
            rows = self._charter(item.session.bed).session_changed(item.session)
            return [self._row(row) for row in rows]
        if not isinstance(item, PumpReading | VitalsReading) or mode == "none":
            return []
        if mode == "every_reading":
            control_id = new_control_id()
            text = reading_message(item, self._identity, control_id, self._now())
            return [NewMessage(control_id, "observation", item.bed, text.encode())]
        return [self._row(row) for row in self._charter(item.bed).reading(item)]

    def _charter(self, bed: str) -> BedCharter:
        charter = self._charters.get(bed)
        if charter is None:
            charter = self._charters[bed] = BedCharter(interval_s=self._hl7.chart_interval_s)
        return charter

    def _row(self, row: ChartRow) -> NewMessage:
        control_id = new_control_id()
        text = chart_message(row, self._identity, control_id, self._now())
        return NewMessage(control_id, "observation", row.bed, text.encode())

    def _alarm(self, event: AlarmEvent) -> NewMessage:
        control_id = new_control_id()
        text = alarm_message(event, self._identity, control_id, self._now())
        return NewMessage(control_id, "alarm", event.alarm.bed, text.encode())
