"""A fake MQTT 5 broker on loopback that advertises a Receive Maximum and enforces it.

Mosquitto sends its Receive Maximum (``max_inflight_messages``) in the CONNACK but accepts
more QoS 1 publishes in flight; brokers such as HiveMQ and EMQX disconnect a client that
exceeds it (DISCONNECT, reason 0x93 "Receive Maximum exceeded"). This one does the same:
CONNACK with the Receive Maximum property (0x21), SUBACK and PINGRESP built, and each
connection served, by :mod:`tests.silent_broker`'s helpers, and PUBACKs sent in rounds every
``ack_every_s`` (so that unacknowledged publishes pile up as on a busy broker). It records
the most QoS 1 publishes it ever had unacknowledged on one connection and every
disconnection it made.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.silent_broker import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBSCRIBE,
    packet,
    serve_packets,
    suback,
)

__all__ = ["StrictBroker"]

RECEIVE_MAXIMUM_EXCEEDED = 0x93


@dataclass
class StrictBroker:
    """The fake broker on ``127.0.0.1:port``; ``async with`` serves it for the block."""

    port: int
    receive_maximum: int = 10
    ack_every_s: float = 0.01
    most_in_flight: int = 0  # the most unacknowledged QoS 1 publishes seen on a connection
    acknowledged: list[str] = field(default_factory=list)  # topics, in order
    refusals: int = 0  # connections dropped for exceeding the Receive Maximum
    connects: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> StrictBroker:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        pending: list[tuple[bytes, str]] = []  # (packet id, topic) not yet acknowledged
        acker = asyncio.create_task(self._acknowledge(pending, writer))

        def answer(first: int, body: bytes) -> bool:
            kind = first >> 4
            if kind == CONNECT:
                self.connects += 1
                properties = b"\x21" + self.receive_maximum.to_bytes(2, "big")
                writer.write(packet(CONNACK, b"\x00\x00" + bytes([3]) + properties))
            elif kind == SUBSCRIBE:
                writer.write(suback(body, mqtt5=True))
            elif kind == PINGREQ:
                writer.write(PINGRESP)
            elif kind == PUBLISH and (first >> 1) & 0x03 == 1:
                topic_length = int.from_bytes(body[:2], "big")
                topic = body[2 : 2 + topic_length].decode()
                pending.append((body[2 + topic_length : 4 + topic_length], topic))
                self.most_in_flight = max(self.most_in_flight, len(pending))
                if len(pending) > self.receive_maximum:
                    self.refusals += 1
                    writer.write(packet(DISCONNECT << 4, bytes([RECEIVE_MAXIMUM_EXCEEDED, 0])))
                    return False
            return kind != DISCONNECT

        try:
            await serve_packets(reader, writer, answer)
        finally:
            acker.cancel()
            self._tasks.discard(task)

    async def _acknowledge(
        self, pending: list[tuple[bytes, str]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await asyncio.sleep(self.ack_every_s)
            done, pending[:] = list(pending), []
            for packet_id, topic in done:
                writer.write(packet(PUBACK, packet_id))
                self.acknowledged.append(topic)
