"""A fake MQTT broker on loopback that accepts connections but stops acknowledging publishes.

It speaks just enough MQTT 3.1.1 and 5 (the version read from each CONNECT) for a client to
believe it is connected: CONNACK to CONNECT, SUBACK (QoS 1 granted) to SUBSCRIBE, PINGRESP to
PINGREQ, and PUBACK to the first ``acknowledge`` QoS 1 PUBLISHes it receives (over all
connections); every later PUBLISH is swallowed without an answer. Packets are built by hand:

- fixed header: one byte ``type << 4 | flags``, then the remaining length (variable-length int);
- CONNACK: flags 0, reason 0 (v5: plus an empty property length);
- SUBACK: the packet id, (v5: an empty property length,) one granted QoS per topic filter;
- PUBACK: the packet id only (remaining length 2 means success in both versions);
- PINGRESP: ``0xD0 0x00``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SilentBroker", "packet", "read_packet", "serve_packets", "suback"]

CONNECT, PUBLISH, SUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 8, 12, 14
CONNACK, PUBACK, SUBACK = 0x20, 0x40, 0x90
PINGRESP = b"\xd0\x00"
MAX_PACKET = 1 << 20  # bytes: a longer packet closes the connection


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """The variable-length integer at ``offset`` and the offset after it."""
    value = 0
    for shift in range(4):
        byte = data[offset + shift]
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            return value, offset + shift + 1
    raise ValueError("malformed variable-length integer")


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _client_id(body: bytes, mqtt5: bool) -> str:
    """The client identifier of a CONNECT: after name, level, flags, keep-alive, properties."""
    offset = 10
    if mqtt5:
        properties, offset = _read_varint(body, offset)
        offset += properties
    length = int.from_bytes(body[offset : offset + 2], "big")
    return body[offset + 2 : offset + 2 + length].decode()


def suback(body: bytes, mqtt5: bool) -> bytes:
    packet_id, offset = body[:2], 2
    if mqtt5:
        properties, offset = _read_varint(body, offset)
        offset += properties
    filters = 0
    for _ in range(100):  # bounded: a test client subscribes to a few filters
        if offset >= len(body):
            break
        offset += 2 + int.from_bytes(body[offset : offset + 2], "big") + 1  # filter, options
        filters += 1
    return packet(SUBACK, packet_id + (b"\x00" if mqtt5 else b"") + b"\x01" * filters)


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One packet: its first byte and its body."""
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > MAX_PACKET:
        raise ValueError("packet too long")
    return first, await reader.readexactly(length)


async def serve_packets(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Callable[[int, bytes], bool],
) -> None:
    """Hand each packet of one connection (its first byte and body) to ``handle``, which
    writes its answers and says whether to go on; flush after each. A client that goes away or
    speaks nonsense is dropped; the connection is closed however the loop ends."""
    try:
        for _ in range(1_000_000):  # bounded: far more packets than any test sends
            first, body = await read_packet(reader)
            if not handle(first, body):
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
        pass  # the client went away or spoke nonsense: drop it
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await writer.wait_closed()


@dataclass
class SilentBroker:
    """The fake broker on ``127.0.0.1:port``; ``async with`` serves it for the block."""

    port: int
    acknowledge: int = 0  # QoS 1 PUBLISHes acknowledged before it falls silent
    connects: list[tuple[str, int]] = field(default_factory=list)  # (client id, protocol level)
    acknowledged: list[str] = field(default_factory=list)  # topics of the acknowledged ones
    swallowed: list[str] = field(default_factory=list)  # topics of the others
    first_swallowed_at: float | None = None  # time.monotonic() of the first one swallowed
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> SilentBroker:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def connects_of(self, client_id: str) -> int:
        """How many times ``client_id`` connected."""
        return sum(1 for client, _ in self.connects if client == client_id)

    async def close(self) -> None:
        """Stop listening and drop every connection (the port is free again)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        if self._handlers:  # each ends as soon as its closed connection is read
            await asyncio.wait(list(self._handlers), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        mqtt5 = False

        def answer(first: int, body: bytes) -> bool:
            nonlocal mqtt5
            kind = first >> 4
            if kind == CONNECT:
                mqtt5 = body[6] == 5  # after the protocol name b"\0\4MQTT"
                self.connects.append((_client_id(body, mqtt5), body[6]))
                writer.write(packet(CONNACK, b"\x00\x00\x00" if mqtt5 else b"\x00\x00"))
            elif kind == SUBSCRIBE:
                writer.write(suback(body, mqtt5))
            elif kind == PINGREQ:
                writer.write(PINGRESP)
            elif kind == PUBLISH:
                self._on_publish(first, body, writer)
            return kind != DISCONNECT

        try:
            await serve_packets(reader, writer, answer)
        finally:
            self._writers.discard(writer)
            self._handlers.discard(handler)  # no await after this: the task ends here

    def _on_publish(self, first: int, body: bytes, writer: asyncio.StreamWriter) -> None:
        qos = (first >> 1) & 0x03
        topic_length = int.from_bytes(body[:2], "big")
        topic = body[2 : 2 + topic_length].decode()
        if qos == 1 and len(self.acknowledged) < self.acknowledge:
            self.acknowledged.append(topic)
            packet_id = body[2 + topic_length : 4 + topic_length]
            writer.write(packet(PUBACK, packet_id))
            return
        self.swallowed.append(topic)
        if self.first_swallowed_at is None:
            self.first_swallowed_at = time.monotonic()
