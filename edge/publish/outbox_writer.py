"""The bus consumer that turns readings, states and alarm events into stored MQTT messages.

It takes what the bus holds in batches and commits each batch in one outbox transaction, so
the disk flush is paid once per batch, not once per reading. Readings arrive spread over the
second, so a batch waits up to ``linger_s`` (a few ms) after its first item for more, a group
commit; a batch with an alarm transition in it is committed at once, without the wait.
Envelope ``seq`` numbers are given here, in bus order, and stored in that order: messages
built outside the bus (a config change) go through :meth:`OutboxWriter.store`, which takes its
numbers only when no batch holding earlier ones is still waiting for its commit.

Alarms: a transition sets the alarm's retained topic to its new state; an alarm that ends is
published in state ``ended``, then emptied (the broker forgets it). The writer follows which
alarms are open (an :class:`AlarmRefresh` sets the whole set; the stage sends one at start,
before any event) and publishes the edge's retained digest after every transition that opens
or ends one, so the digest is never behind the alarm topics it accounts for. A refresh
republishes every open alarm (``ts`` = the refresh time, a fresh ``seq``) and then the
digest, and then each bed's latest treatment session (those written since the start, and
those the first refresh restores from the alarm log; ``ts`` stays the time of its last
change, so the history keeps one snapshot; a fresh ``seq``), as
``STATE`` messages: redundant copies, dropped before any alarm transition when the outbox is
full. A retained copy the broker lost, or replaced with an older one (a bridge's backlog can
deliver one late), is thus right again within a refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import Alarm, AlarmEvent, SessionEvent
from edge.bus import Subscription
from edge.device_state import DeviceState
from edge.items import AlarmRefresh, BedRemoved, DeviceRemoved, OutputItem
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.payloads import (
    AlarmDigestPayload,
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
LINGER_S = 0.002  # s a batch waits for more items before its commit (never with an alarm)


class OutboxWriter:
    """Writes every bus item to the outbox as the message the contract names for it.

    ``telemetry_expiry_s`` becomes the MQTT 5 message expiry of telemetry: a reading older
    than that is of no use to a live consumer. ``labels`` (bed -> display label) go into each
    bed's session payload.
    """

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        envelopes: EnvelopeFactory,
        telemetry_expiry_s: int = 3600,
        labels: Mapping[str, str] | None = None,
        linger_s: float = LINGER_S,
    ) -> None:
        self._outbox = outbox
        self._labels = dict(labels or {})  # bed -> display label, carried in the session
        self._topics = topics
        self._envelopes = envelopes
        self._expiry_s = telemetry_expiry_s
        self._linger_s = linger_s
        self._storing = asyncio.Lock()  # held from a batch's first seq to its commit
        self._open: dict[str, str] = {}  # alarm id -> bed, of the alarms that have not ended
        self._sessions: dict[str, SessionEvent] = {}  # bed -> its latest session change

    async def run(self, items: Subscription[OutputItem]) -> None:
        """Store every item until the bus closes: one outbox transaction per group."""
        loop = asyncio.get_running_loop()
        while batch := await items.get_batch(BATCH_MAX):
            async with self._storing:
                messages = self._messages(batch)
                deadline = loop.time() + self._linger_s
                closed, urgent = False, _urgent(messages)
                while len(messages) < BATCH_MAX and not urgent:
                    remaining = deadline - loop.time()
                    more = (
                        await items.get_batch_within(BATCH_MAX, remaining) if remaining > 0 else []
                    )
                    if not more:
                        closed = more is None
                        break
                    added = self._messages(more)
                    messages += added
                    urgent = _urgent(added)
                await self._outbox.put(messages)
            if closed:
                return

    async def store(self, build: Callable[[], Sequence[NewMessage]]) -> None:
        """Store the messages ``build`` makes (taking envelope ``seq`` numbers) after any batch
        with earlier numbers, so the outbox holds every message in ``seq`` order."""
        async with self._storing:
            await self._outbox.put(build())

    def _messages(self, batch: list[OutputItem]) -> list[NewMessage]:
        return [m for item in batch for m in self.messages_for(item)]

    def messages_for(self, item: OutputItem) -> list[NewMessage]:
        """The messages for one bus item, each with the next envelope ``seq``."""
        if isinstance(item, DeviceState):
            return [self._device_state(item)]
        if isinstance(item, AlarmEvent):
            return self._alarm(item)
        if isinstance(item, SessionEvent):
            self._sessions[item.session.bed] = item
            return [self._session(item)]
        if isinstance(item, AlarmRefresh):
            return self._refresh(item)
        if isinstance(item, DeviceRemoved):  # its retained state cleared on the broker
            topic = self._topics.device_state(item.bed, item.device_id)
            return [NewMessage(topic, b"", MessageClass.STATE, retain=True)]
        if isinstance(item, BedRemoved):  # its session cleared, and no longer refreshed
            self._sessions.pop(item.bed, None)
            topic = self._topics.session(item.bed)
            return [NewMessage(topic, b"", MessageClass.STATE, retain=True)]
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
        """The retained alarm topic (``ended``, then emptied, once ended), the alarm log
        entry, and the digest when the set of open alarms changed."""
        alarm = event.alarm
        messages = [self._alarm_state(alarm, event.at, MessageClass.ALARM)]
        if alarm.state == "ended":
            topic = self._topics.alarm(alarm.bed, alarm.alarm_id)
            messages.append(NewMessage(topic, b"", MessageClass.ALARM, retain=True))
        messages.append(
            NewMessage(
                self._topics.alarm_log(),
                self._payload(AlarmLogPayload, event.at, event),
                MessageClass.ALARM,
            )
        )
        if self._track(alarm):
            messages.append(self._digest(event.at, MessageClass.ALARM))
        return messages

    def _track(self, alarm: Alarm) -> bool:
        """Follow the open set; whether ``alarm`` changed it."""
        if alarm.state == "ended":
            return self._open.pop(alarm.alarm_id, None) is not None
        if alarm.alarm_id in self._open:
            return False
        self._open[alarm.alarm_id] = alarm.bed
        return True

    def _refresh(self, refresh: AlarmRefresh) -> list[NewMessage]:
        """Every open alarm again, then the digest of exactly those, then every bed's latest
        session."""
        self._open = {alarm.alarm_id: alarm.bed for alarm in refresh.alarms}
        for restored in refresh.sessions:  # after a restart: unless a newer one came since
            self._sessions.setdefault(restored.session.bed, restored)
        messages = [self._alarm_state(a, refresh.at, MessageClass.STATE) for a in refresh.alarms]
        messages.append(self._digest(refresh.at, MessageClass.STATE))
        messages += [self._session(event) for event in self._sessions.values()]
        return messages

    def _alarm_state(self, alarm: Alarm, ts: datetime, cls: MessageClass) -> NewMessage:
        return NewMessage(
            self._topics.alarm(alarm.bed, alarm.alarm_id),
            self._payload(AlarmPayload, ts, alarm),
            cls,
            retain=True,
        )

    def _digest(self, ts: datetime, cls: MessageClass) -> NewMessage:
        fields = self._envelopes.fields(AlarmDigestPayload, ts)
        open_alarms = [{"alarm_id": key, "bed": bed} for key, bed in self._open.items()]
        payload = AlarmDigestPayload.model_validate({**fields, "open": open_alarms})
        topic = self._topics.alarm_digest(self._envelopes.edge_id)
        return NewMessage(topic, payload.to_json(), cls, retain=True)

    def _session(self, event: SessionEvent) -> NewMessage:
        session = event.session
        fields = {**self._envelopes.fields(SessionPayload, event.at), **dict(session)}
        label = self._labels.get(session.bed)
        payload = SessionPayload.model_validate(fields | ({"label": label} if label else {}))
        return NewMessage(
            self._topics.session(session.bed),
            payload.to_json(),
            MessageClass.STATE,
            retain=True,
        )

    def _telemetry(self, reading: PumpReading | VitalsReading) -> NewMessage:
        # The reading was validated by its codec: its own JSON (``ts`` included, the
        # envelope's ``ts``) follows the envelope's fields, each encoded once.
        model = PumpTelemetry if isinstance(reading, PumpReading) else VitalsTelemetry
        payload = (
            self._envelopes.json_head(model) + reading.__pydantic_serializer__.to_json(reading)[1:]
        )
        return NewMessage(
            self._topics.telemetry(reading.bed, reading.device_id),
            payload,
            MessageClass.TELEMETRY,
            expiry_s=self._expiry_s,
        )


def _urgent(messages: list[NewMessage]) -> bool:
    """Whether ``messages`` hold an alarm transition: committed without waiting for more."""
    return any(m.cls is MessageClass.ALARM for m in messages)
