"""Publish confirmations with the broker's reason code.

aiomqtt 2.x's ``publish()`` returns normally even when an MQTT 5 broker refuses a message in
its PUBACK (reason code >= 0x80, e.g. 0x87 not authorized). Here each publish gets a future
resolved by the underlying paho client's ``on_publish`` callback with that reason code, and
failed by its ``on_disconnect``. Under MQTT 3.1.1 a refusal cannot be seen at all: the broker
acknowledges and drops, so delivery must be proven end to end.

A publish whose acknowledgement does not come within ``ack_timeout_s`` raises
:class:`StalledError`: a broker that accepts the connection but stops acknowledging is a broken
connection, whatever its TCP socket and keep-alive say.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = [
    "Confirmations",
    "ConnectionLostError",
    "Outgoing",
    "PublishFailedError",
    "PublishResult",
    "StalledError",
]

PublishResult = ReasonCode | None | BaseException
"""A publish's outcome: the PUBACK's reason code, ``None`` for QoS 0, or why it failed."""


class Outgoing(NamedTuple):
    """One message for :meth:`Confirmations.publish_many`; ``expiry_s`` MQTT 5 only."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    expiry_s: int | None = None


class ConnectionLostError(aiomqtt.MqttError):
    """The connection went down while a publish waited for its acknowledgement."""


class StalledError(ConnectionLostError):
    """The broker did not acknowledge a publish within the deadline (seconds in ``timeout_s``)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"no PUBACK for {timeout_s:g} s")
        self.timeout_s = timeout_s


class PublishFailedError(aiomqtt.MqttError):
    """The client could not even queue the message (not connected, queue full)."""


class _PackedOnce(Properties):
    """PUBLISH properties that are never changed after they are made, so they are packed
    once: paho packs the properties of every publish (a walk over every property name)."""

    def pack(self) -> bytes:
        packed: bytes | None = self.__dict__.get("_packed")
        if packed is None:
            packed = super().pack()  # type: ignore[no-untyped-call]
            object.__setattr__(self, "_packed", packed)  # paho's __setattr__ takes names only
        return packed


@functools.lru_cache(maxsize=4096)
def _expiry(seconds: int) -> Properties:
    """PUBLISH properties with a message expiry of ``seconds``; shared, paho only reads them."""
    properties = _PackedOnce(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.MessageExpiryInterval = seconds
    return properties


class Confirmations:
    """Publishes on one connected aiomqtt client and returns each PUBACK's reason code."""

    def __init__(self, client: aiomqtt.Client, mqtt5: bool, ack_timeout_s: float) -> None:
        self._paho: paho.Client = client._client  # the documented way to reach reason codes
        self._mqtt5 = mqtt5
        self._ack_timeout_s = ack_timeout_s
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[ReasonCode | None]] = {}
        self._early: dict[int, ReasonCode | None] = {}
        self._previous_on_disconnect = self._paho.on_disconnect
        self._paho.on_publish = self._on_publish
        self._paho.on_disconnect = self._on_disconnect

    def _on_publish(
        self, _client: Any, _userdata: Any, mid: int, reason_code: ReasonCode, _props: Any
    ) -> None:
        future = self._pending.pop(mid, None)
        if future is None:
            self._early[mid] = reason_code  # acknowledged before publish() registered it
        elif not future.done():
            future.set_result(reason_code)

    def _on_disconnect(self, *args: Any) -> None:
        self.fail_all(ConnectionLostError("connection to the broker lost"))
        if self._previous_on_disconnect is not None:
            self._previous_on_disconnect(*args)

    def fail_all(self, exc: BaseException) -> None:
        """Fail every publish still waiting for its acknowledgement."""
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(exc)

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> ReasonCode | None:
        """Publish and wait for the acknowledgement; its reason code (``None`` for QoS 0).

        Raises :class:`ConnectionLostError`, :class:`StalledError` (no acknowledgement within
        ``ack_timeout_s``) or :class:`PublishFailedError`.
        """
        outcome = await self.publish_many([Outgoing(topic, payload, qos, retain, expiry_s)])
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishResult]:
        """Publish ``messages`` in order, then wait for their acknowledgements under one
        deadline (``ack_timeout_s`` from the last publish): each one's reason code (``None``
        for QoS 0) or exception (:class:`ConnectionLostError`, :class:`StalledError`,
        :class:`PublishFailedError`), in order. One wait for the batch, no task per message."""
        results: list[PublishResult | asyncio.Future[ReasonCode | None]] = [
            self._send(m) for m in messages
        ]
        waiting = [(i, r) for i, r in enumerate(results) if isinstance(r, asyncio.Future)]
        try:
            async with asyncio.timeout(self._ack_timeout_s):
                for index, future in waiting:
                    try:
                        results[index] = await future
                    except ConnectionLostError as exc:
                        results[index] = exc
        except TimeoutError:
            stalled = StalledError(self._ack_timeout_s)
            for index, future in waiting:
                if not isinstance(results[index], asyncio.Future):
                    continue
                if future.done() and not future.cancelled():
                    results[index] = future.exception() or future.result()
                else:
                    future.cancel()
                    results[index] = stalled
            self._pending = {m: f for m, f in self._pending.items() if not f.done()}
        return [r for r in results if not isinstance(r, asyncio.Future)]

    def _send(self, m: Outgoing) -> PublishResult | asyncio.Future[ReasonCode | None]:
        """Hand ``m`` to paho: its result when known at once, else a future for its PUBACK."""
        expiry_s = m.expiry_s
        properties = _expiry(max(1, expiry_s)) if self._mqtt5 and expiry_s is not None else None
        info = self._paho.publish(m.topic, m.payload, m.qos, m.retain, properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return PublishFailedError(f"cannot publish: {paho.error_string(info.rc)}")
        if m.qos == 0:
            return None
        if info.mid in self._early:
            return self._early.pop(info.mid)
        future: asyncio.Future[ReasonCode | None] = self._loop.create_future()
        self._pending[info.mid] = future
        return future
