"""HL7 output throughput against a bare MLLP sender, in the same run.

One MLLP receiver on 127.0.0.1 (in this process) parses nothing and answers every message
``AA`` with its control id. Against it, one after the other, with the same PCD-01 messages
(a monitor reading, ~1 kB framed) and one message in flight:

- ``bare MLLP sender``: a loop that writes a prebuilt frame and waits for its ACK; no
  storage: the ceiling of one-in-flight MLLP over loopback here.
- ``HL7 path, live``: readings encoded (PCD-01) and put in the forwarding queue (SQLite, WAL,
  ``synchronous=FULL``) while the sender drains it: each message stored before it is sent
  and deleted after its AA.
- ``HL7 path, replay``: the queue filled first (receiver away), then drained.
- ``encode only``: PCD-01 messages built from readings, µs each (no I/O).

The machine is shared: only the ratios within one run mean anything.

Usage: ``python -m bench.hl7_throughput [--messages N]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from edge.backoff import Backoff
from edge.forward.queue import ForwardQueue
from edge.hl7.identity import Hl7Identity
from edge.hl7.mllp import MllpDecoder, frame, parse_ack
from edge.hl7.output import Hl7Encoder
from edge.hl7.sample import SAMPLE_AT, sample_readings
from edge.hl7.sender import MllpSender

IDENTITY = Hl7Identity(facility="BENCH", eui64="0123456789ABCDEF", point_of_care="INF")
ACK_HEAD = b"MSH|^~\\&|RECEIVER|HOSP|||20250101100006+0000||ACK^R01^ACK|A|P|2.6\rMSA|AA|"


class Receiver:
    """Answers every message AA; ``count`` messages so far."""

    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()
        self.expect = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = MllpDecoder()
        try:
            while data := await reader.read(65536):
                for message in decoder.feed(data):
                    control_id = message.split(b"|", 10)[9]
                    writer.write(b"\x0b" + ACK_HEAD + control_id + b"\r\x1c\x0d")
                    self.count += 1
                    if self.count >= self.expect:
                        self.done.set()
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


def messages(count: int) -> list[tuple[str, str]]:
    """(control id, PCD-01 text) of ``count`` monitor readings."""
    vitals, _ = sample_readings()
    out = []
    for n in range(count):
        reading = vitals.model_copy(update={"ts": SAMPLE_AT + timedelta(seconds=n)})
        message = Hl7Encoder(IDENTITY).reading(reading)
        out.append((message.control_id, message.payload.decode()))
    return out


async def bare(receiver: Receiver, texts: list[tuple[str, str]]) -> float:
    """Messages/s of a bare one-in-flight MLLP sender."""
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    decoder = MllpDecoder()
    frames = [frame(text) for _, text in texts]
    start = time.perf_counter()
    for data, (control_id, _) in zip(frames, texts, strict=True):
        writer.write(data)
        await writer.drain()
        while True:
            replies = decoder.feed(await reader.read(4096))
            if replies:
                assert parse_ack(replies[-1]).control_id == control_id
                break
    elapsed = time.perf_counter() - start
    writer.close()
    return len(frames) / elapsed


async def path(receiver: Receiver, count: int, folder: Path, *, replay: bool) -> float:
    """Messages/s through encoder, queue and sender (live, or a replay of a full queue)."""
    vitals, _ = sample_readings()
    readings = [
        vitals.model_copy(update={"ts": SAMPLE_AT + timedelta(seconds=n)}) for n in range(count)
    ]
    encoder = Hl7Encoder(IDENTITY)
    queue = ForwardQueue("bench", folder / f"q-{replay}.sqlite", count * 2, 100)
    await queue.open()
    writer = asyncio.create_task(queue.run_writer())
    sender = MllpSender(
        f"mllp://127.0.0.1:{receiver.port}", queue, backoff=Backoff(0.01, 0.05, 0.01)
    )
    receiver.count, receiver.expect = 0, count
    receiver.done.clear()
    if replay:
        queue.put([encoder.reading(r) for r in readings])
        while queue.depth != count or queue._pending:
            await asyncio.sleep(0.01)
    start = time.perf_counter()
    sending = asyncio.create_task(sender.run())
    if not replay:
        for n in range(0, count, 50):  # as the bus hands them over: a batch at a time
            queue.put([encoder.reading(r) for r in readings[n : n + 50]])
            await asyncio.sleep(0)
    await receiver.done.wait()
    while queue.depth:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - start
    sender.finish()
    await sending
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await queue.close()
    return count / elapsed


def encode_us(count: int) -> float:
    """µs to build one PCD-01 message from a reading."""
    vitals, _ = sample_readings()
    encoder = Hl7Encoder(IDENTITY)
    start = time.perf_counter()
    for _ in range(count):
        encoder.reading(vitals)
    return (time.perf_counter() - start) / count * 1e6


async def main(count: int = 2000) -> str:
    """Run every variant; a Markdown table."""
    receiver = Receiver()
    await receiver.start()
    try:
        texts = messages(count)
        receiver.expect = count
        bare_rate = await bare(receiver, texts)
        with tempfile.TemporaryDirectory() as tmp:
            live = await path(receiver, count, Path(tmp), replay=False)
            replay = await path(receiver, count, Path(tmp), replay=True)
    finally:
        await receiver.stop()
    size = len(frame(texts[0][1]))
    rows = [
        "| variant | messages/s | vs bare |",
        "|---|---|---|",
        f"| bare MLLP sender (one in flight, no storage) | {bare_rate:,.0f} | 1.00 |",
        f"| HL7 path, live (encode, store, send, delete) | {live:,.0f} | {live / bare_rate:.2f} |",
        f"| HL7 path, replay of a full queue | {replay:,.0f} | {replay / bare_rate:.2f} |",
        "",
        f"{count} PCD-01 monitor messages of {size} bytes framed; encoding one takes "
        f"{encode_us(min(count, 2000)):.0f} µs.",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    print(asyncio.run(main(parser.parse_args().messages)))
