"""The bus consumer that turns readings, states and alarm events into stored MQTT messages.

It takes what the bus holds in batches and commits each batch in one outbox transaction, so
the disk flush is paid once per batch, not once per reading. Envelope ``seq`` numbers are
given here, in bus order.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.bus import Subscription
from edge.device_state import DeviceState
from edge.items import OutputItem
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.payloads import (
    AlarmLogPayload,
    AlarmPayload,
    DeviceStatePayload,
    Envelope,
    EnvelopeFactory,
    PumpTelemetry,
    SessionPayload,
    VitalsTelemetry,
)
from edge.publish.topics import Topics

__all__ = ["OutboxWriter"]

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Envelope)

BATCH_MAX = 500


class OutboxWriter:
    """Writes every bus item to the outbox as the message the contract names for it.

    ``telemetry_expiry_s`` becomes the MQTT 5 message expiry of telemetry: a reading older
    than that is of no use to a live consumer.
    """

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        envelopes: EnvelopeFactory,
        telemetry_expiry_s: int = 3600,
    ) -> None:
        self._outbox = outbox
        self._topics = topics
        self._envelopes = envelopes
        self._expiry_s = telemetry_expiry_s

    async def run(self, items: Subscription[OutputItem]) -> None:
        """Store every item until the bus closes."""
        while batch := await items.get_batch(BATCH_MAX):
            await self._outbox.put([m for item in batch for m in self.messages_for(item)])

    def messages_for(self, item: OutputItem) -> list[NewMessage]:
        """The messages for one bus item, each with the next envelope ``seq``."""
        if isinstance(item, DeviceState):
            return [self._device_state(item)]
        if isinstance(item, AlarmEvent):
            return self._alarm(item)
        if isinstance(item, SessionEvent):
            return [self._session(item)]
        return [self._telemetry(item)]

    def _payload(self, model: type[E], ts: datetime, item: BaseModel) -> bytes:
        return model.model_validate({**self._envelopes.fields(model, ts), **dict(item)}).to_json()

    def _device_state(self, state: DeviceState) -> NewMessage:
        return NewMessage(
            self._topics.device_state(state.bed, state.device_id),
            self._payload(DeviceStatePayload, state.since, state),
            MessageClass.STATE,
            retain=True,
        )

    def _alarm(self, event: AlarmEvent) -> list[NewMessage]:
        """The retained alarm topic (emptied once ended) and the alarm log entry."""
        alarm = event.alarm
        current = b"" if alarm.state == "ended" else self._payload(AlarmPayload, event.at, alarm)
        return [
            NewMessage(
                self._topics.alarm(alarm.bed, alarm.alarm_id),
                current,
                MessageClass.ALARM,
                retain=True,
            ),
            NewMessage(
                self._topics.alarm_log(),
                self._payload(AlarmLogPayload, event.at, event),
                MessageClass.ALARM,
            ),
        ]

    def _session(self, event: SessionEvent) -> NewMessage:
        session = event.session
        return NewMessage(
            self._topics.session(session.bed),
            self._payload(SessionPayload, event.at, session),
            MessageClass.STATE,
            retain=True,
        )

    def _telemetry(self, reading: PumpReading | VitalsReading) -> NewMessage:
        model = PumpTelemetry if isinstance(reading, PumpReading) else VitalsTelemetry
        payload = model.model_validate(
            {**self._envelopes.fields(model, reading.ts), **dict(reading)}
        )
        return NewMessage(
            self._topics.telemetry(reading.bed, reading.device_id),
            payload.to_json(),
            MessageClass.TELEMETRY,
            expiry_s=self._expiry_s,
        )
