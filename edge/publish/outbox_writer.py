"""The bus consumer that turns readings and states into stored MQTT messages.

It takes what the bus holds in batches and commits each batch in one outbox transaction, so
the disk flush is paid once per batch, not once per reading. Envelope ``seq`` numbers are
given here, in bus order.
"""

from __future__ import annotations

import logging

from drivers.readings import PumpReading, VitalsReading
from edge.bus import Subscription
from edge.device_state import DeviceState
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.payloads import (
    DeviceStatePayload,
    EnvelopeFactory,
    PumpTelemetry,
    VitalsTelemetry,
)
from edge.publish.topics import Topics
from edge.session import BusItem

__all__ = ["OutboxWriter"]

log = logging.getLogger(__name__)

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

    async def run(self, items: Subscription[BusItem]) -> None:
        """Store every item until the bus closes."""
        while batch := await items.get_batch(BATCH_MAX):
            await self._outbox.put([self.message_for(item) for item in batch])

    def message_for(self, item: BusItem) -> NewMessage:
        """The message for one bus item, with the next envelope ``seq``."""
        if isinstance(item, DeviceState):
            state = DeviceStatePayload.model_validate(
                {**self._envelopes.fields(DeviceStatePayload, item.since), **dict(item)}
            )
            return NewMessage(
                self._topics.device_state(item.bed, item.device_id),
                state.to_json(),
                MessageClass.STATE,
                retain=True,
            )
        return self._telemetry(item)

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
