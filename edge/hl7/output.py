"""The HL7 encoder of the clinical output: PCD-01 for readings and chart rows, PCD-04 for
alarm transitions, each with a new control id (MSH-10) kept for every resend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import AlarmEvent
from edge.charting import ChartRow
from edge.config import Config
from edge.forward.queue import NewMessage
from edge.hl7.identity import Hl7Identity, new_control_id
from edge.hl7.pcd01 import chart_message, reading_message
from edge.hl7.pcd04 import alarm_message

__all__ = ["Hl7Encoder"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Hl7Encoder:
    """ER7 messages with ``identity``; ``now`` stamps MSH-7."""

    def __init__(self, identity: Hl7Identity, now: Callable[[], datetime] = _utc_now) -> None:
        self._identity = identity
        self._now = now

    def reidentify(self, config: Config) -> None:
        """Take the visit numbers and EUI-64s of ``config`` (a reload) for the next messages."""
        self._identity = replace(
            self._identity, visits=config.visit_numbers(), equipment=config.device_eui64s()
        )

    def reading(self, reading: PumpReading | VitalsReading) -> NewMessage:
        """The ORU^R01 of ``reading``."""
        control_id = new_control_id()
        text = reading_message(reading, self._identity, control_id, self._now())
        return NewMessage(control_id, "observation", reading.bed, text.encode())

    def chart_row(self, row: ChartRow) -> NewMessage:
        """The ORU^R01 of a chart row."""
        control_id = new_control_id()
        text = chart_message(row, self._identity, control_id, self._now())
        return NewMessage(control_id, "observation", row.bed, text.encode())

    def alarm(self, event: AlarmEvent) -> NewMessage:
        """The ORU^R40 of an alarm transition."""
        control_id = new_control_id()
        text = alarm_message(event, self._identity, control_id, self._now())
        return NewMessage(control_id, "alarm", event.alarm.bed, text.encode())
