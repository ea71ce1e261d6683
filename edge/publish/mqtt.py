"""The publisher: the one task that owns the MQTT client and drains the outbox.

Connect (TLS and credentials from config) with a retained ``lost`` will, publish the retained
``online`` status, then publish what the outbox holds, oldest first, up to ``WINDOW`` messages
in flight, deleting each only after its PUBACK. A message the broker refuses (MQTT 5 reason
code >= 0x80) is logged, counted and kept, to be tried again later; it is never counted as
delivered. On a lost connection: reconnect with capped, jittered backoff. A publish (the status
included) not acknowledged within ``mqtt.ack_timeout_s`` is a stall: the connection is dropped
and made again with the backoff, the stall counted; what was not acknowledged stays in the
outbox and is published again (at least once). The edge counts as connected only once the
broker acknowledged its ``online`` status, so a broker that accepts connections but never
acknowledges never reads as connected. On ``finish()``: flush the outbox, publish the retained
``offline`` status and disconnect cleanly.
Acknowledgement commands arriving on ``.../alarms/{alarm_id}/ack`` are checked by the
:class:`~edge.publish.ack_verifier.AckVerifier` (signature, dashboard, time, nonce), counted by
verdict, and only the accepted ones go to ``on_ack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt

from edge.backoff import Backoff
from edge.config import MqttConfig
from edge.publish.ack_signing import Verdict
from edge.publish.ack_verifier import AckVerifier
from edge.publish.confirm import Confirmations, ConnectionLostError, Outgoing, StalledError
from edge.publish.connection import connected
from edge.publish.outbox import Outbox, OutboxMessage
from edge.publish.payloads import AckCommand, EnvelopeFactory, StatusPayload
from edge.publish.topics import AckTopic, Topics
from edge.tasks import run_until_first_exits

__all__ = ["AckHandler", "Publisher", "PublisherCounters"]

log = logging.getLogger(__name__)

WINDOW = 100  # messages per batch; two batches may be in flight
REFUSED_RETRY_S = 30.0  # a refused message is tried again after this long
IDLE_POLL_S = 1.0  # look for deferred messages at least this often
GOODBYE_TIMEOUT_S = 2.0
RECONNECT_BACKOFF_S = (0.5, 5.0)  # first and longest wait between connection attempts
# A short cap: after a broker outage the backlog (and any alarm in it) flows again within
# about 5 s of the broker's return instead of up to 30 s; one client retrying every few
# seconds costs the broker nothing.

AckHandler = Callable[[AckTopic, AckCommand], Awaitable[None]]


@dataclass(slots=True)
class PublisherCounters:
    """What the publisher did since start; read by metrics and tests."""

    connected: bool = False  # connected, and the broker acknowledged the ``online`` status
    connects: int = 0
    connect_failures: int = 0
    stalls: int = 0  # connections dropped because a publish was not acknowledged in time
    delivered: int = 0
    refused: int = 0
    acks: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    last_error: str | None = None


class Publisher:
    """Owns the MQTT connection of one edge."""

    def __init__(
        self,
        config: MqttConfig,
        edge_id: str,
        topics: Topics,
        outbox: Outbox,
        envelopes: EnvelopeFactory,
        version: str,
        started_at: datetime,
        on_ack: AckHandler | None = None,
        backoff: Backoff | None = None,
        verifier: AckVerifier | None = None,
    ) -> None:
        if on_ack is not None and verifier is None:
            raise ValueError("an acknowledgement handler needs a verifier")
        self._config = config
        self._edge_id = edge_id
        self._topics = topics
        self._outbox = outbox
        self._envelopes = envelopes
        self._version = version
        self._started_at = started_at
        self._on_ack = on_ack
        self._verifier = verifier
        initial, cap = RECONNECT_BACKOFF_S
        self._backoff = backoff or Backoff(initial=initial, cap=cap)
        self._finishing = asyncio.Event()
        self.counters = PublisherCounters()

    def readiness(self) -> bool | str:
        """``True`` while connected, else why not (for ``/readyz``), e.g. "no PUBACK for 10 s"."""
        if self.counters.connected:
            return True
        return self.counters.last_error or "not connected yet"

    def finish(self) -> None:
        """Ask ``run()`` to flush the outbox, say ``offline`` and return."""
        self._finishing.set()
        self._outbox.new_messages.set()

    async def run(self) -> None:
        """Connect, publish and reconnect until ``finish()`` completes or cancellation."""
        while True:
            connects = self.counters.connects
            try:
                await self._connected_session()
            except aiomqtt.MqttError as exc:
                self._note_error(exc, established=self.counters.connects > connects)
            else:
                return
            finally:
                self.counters.connected = False
            if self._finishing.is_set():
                log.warning("broker unreachable at shutdown; the outbox keeps what is undelivered")
                return
            await asyncio.sleep(self._backoff.next_delay())

    def _note_error(self, exc: BaseException, established: bool) -> None:
        message = str(exc) or type(exc).__name__
        level = logging.DEBUG if message == self.counters.last_error else logging.WARNING
        extra = {"error": message, "url": self._config.url}
        if isinstance(exc, StalledError):
            log.log(
                level, "broker stalled: a publish was not acknowledged; reconnecting", extra=extra
            )
        elif established:
            log.warning("broker connection lost", extra={"error": message})
        else:
            self.counters.connect_failures += 1
            log.log(level, "cannot connect to broker", extra=extra)
        self.counters.last_error = message

    async def _connected_session(self) -> None:
        async with self._connection() as client:
            confirmations = Confirmations(
                client, self._config.protocol == "5", self._config.ack_timeout_s
            )
            self.counters.connects += 1
            try:
                await self._publish_status(confirmations, "online")
                self.counters.connected = True
                self._backoff.reset()
                log.info("broker connected", extra={"url": self._config.url})
                jobs = [("mqtt.drain", self._drain(confirmations))]
                if self._on_ack is not None:
                    jobs.append(("mqtt.acks", self._receive_acks(client)))
                await run_until_first_exits(*jobs)
            except StalledError:
                self.counters.connected = False  # before the disconnection, which takes a while
                self.counters.stalls += 1
                raise
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                    await self._publish_status(confirmations, "offline")
            log.info("broker disconnected cleanly")

    def _connection(self) -> contextlib.AbstractAsyncContextManager[aiomqtt.Client]:
        lost = self._status_payload("lost")
        return connected(
            self._config,
            self._config.client_id or f"infusion-edge-{self._edge_id}",
            will=aiomqtt.Will(self._topics.status(self._edge_id), lost, qos=1, retain=True),
            max_inflight_messages=2 * WINDOW,  # two batches
        )

    def _status_payload(self, state: str) -> bytes:
        payload = StatusPayload.model_validate(
            {
                **self._envelopes.status_fields(StatusPayload, datetime.now(UTC)),
                "state": state,
                "version": self._version,
                "started_at": self._started_at,
            }
        )
        return payload.to_json()

    async def _publish_status(self, confirmations: Confirmations, state: str) -> None:
        topic = self._topics.status(self._edge_id)
        code = await confirmations.publish(topic, self._status_payload(state), 1, retain=True)
        if code is not None and code.is_failure:
            self.counters.refused += 1
            log.error("broker refused the edge status", extra={"reason": str(code), "topic": topic})

    async def _drain(self, confirmations: Confirmations) -> None:
        """Publish the outbox until ``finish()`` was asked and the outbox is empty.

        A full batch means a backlog: the next one is taken and published while it is in
        flight (two batches at most, never while the outbox is faulted). A short batch took
        everything there was: once it is acknowledged, and unless something was stored since,
        wait for new messages instead of asking the disk again (one outbox operation per
        batch). The first take of a connection reads the disk: what an earlier connection had
        in flight and never saw acknowledged is published again, in order."""
        self._outbox.rewind()
        in_flight: asyncio.Task[None] | None = None
        try:
            while True:
                self._outbox.new_messages.clear()
                batch = await self._outbox.take(WINDOW)
                if len(batch) == WINDOW and not self._outbox.faulted:
                    previous, in_flight = in_flight, self._start_batch(confirmations, batch)
                    if previous is not None:
                        await previous
                    continue
                if in_flight is not None:
                    previous, in_flight = in_flight, None
                    await previous
                if batch:
                    await self._publish_batch(confirmations, batch)
                elif self._finishing.is_set():
                    return
                if not self._outbox.new_messages.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(IDLE_POLL_S):
                            await self._outbox.new_messages.wait()
        finally:
            if in_flight is not None:
                in_flight.cancel()
                await asyncio.gather(in_flight, return_exceptions=True)

    def _start_batch(
        self, confirmations: Confirmations, batch: list[OutboxMessage]
    ) -> asyncio.Task[None]:
        return asyncio.create_task(self._publish_batch(confirmations, batch), name="mqtt.batch")

    async def _publish_batch(
        self, confirmations: Confirmations, batch: list[OutboxMessage]
    ) -> None:
        now = time.time()
        results = await confirmations.publish_many(
            [
                Outgoing(
                    m.topic,
                    m.payload,
                    m.qos,
                    m.retain,
                    None if m.expiry_s is None else int(m.expiry_s - (now - m.created)),
                )
                for m in batch
            ]
        )
        delivered, refused = [], []
        failure: BaseException | None = None
        for message, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result  # kept in the outbox, published again
            elif result is not None and result.is_failure:
                refused.append(message)
                log.error(
                    "broker refused a message; kept in the outbox",
                    extra={"topic": message.topic, "reason": str(result)},
                )
            else:
                delivered.append(message.id)
        self._outbox.mark_delivered(delivered)
        self.counters.delivered += len(delivered)
        if refused:
            self.counters.refused += len(refused)
            await self._outbox.defer([m.id for m in refused], REFUSED_RETRY_S)
        if failure is not None:
            raise failure

    async def _receive_acks(self, client: aiomqtt.Client) -> None:
        assert self._on_ack is not None
        assert self._verifier is not None
        await client.subscribe(self._topics.ack_filter(), qos=1)
        async for message in client.messages:
            target = self._topics.parse_ack(str(message.topic))
            if target is None:
                continue
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            checked = self._verifier.check(target, data)
            self.counters.acks[checked.verdict] += 1
            if checked.command is not None:
                await self._on_ack(target, checked.command)
        raise ConnectionLostError("the broker's message stream ended")
