"""Publish throughput through the outbox against a bare aiomqtt loop, and replay after an outage.

Both run in the same process against the same Mosquitto (started here on a free loopback port)
with the same telemetry payloads, QoS 1:

- ``bare aiomqtt``: ``client.publish`` with ``WINDOW`` publishes in flight (gathered in
  batches), no storage: the ceiling for this client library.
- ``outbox, live``: a producer stores messages in batches (as the outbox writer does) while the
  publisher drains the outbox: every message is on disk before it is sent and deleted after its
  PUBACK.
- ``outbox, replay``: the outbox filled while the broker was unreachable, then drained at once.

Usage: ``python -m bench.publish [--messages N]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from edge.config import MqttConfig
from edge.publish.mqtt import WINDOW, Publisher
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.payloads import EnvelopeFactory
from edge.publish.topics import Topics
from tests.mosquitto import Mosquitto

TOPICS = Topics("infusion-edge/v1", "bench")
PRODUCER_BATCH = 50


def payload(n: int) -> bytes:
    """A telemetry-sized JSON payload (~450 bytes)."""
    body = {
        "schema": "infusion-edge.telemetry/1",
        "edge_id": "bench",
        "session": "0" * 32,
        "seq": n,
        "ts": "2026-11-24T10:00:00Z",
        "kind": "vitals",
        "device_id": f"m-{n % 200}",
        "bed": f"bed-{n % 200}",
        "observations": [
            {"code": "MDC_PRESS_BLD_NONINV_SYS", "value": 128, "unit": "mm[Hg]", "state": "valid"},
            {"code": "MDC_PRESS_BLD_NONINV_DIA", "value": 84, "unit": "mm[Hg]", "state": "valid"},
            {"code": "MDC_ECG_HEART_RATE", "value": 72, "unit": "/min", "state": "valid"},
        ],
    }
    return json.dumps(body).encode()


def message(n: int) -> NewMessage:
    return NewMessage(
        TOPICS.telemetry(f"bed-{n % 200}", f"m-{n % 200}"),
        payload(n),
        MessageClass.TELEMETRY,
        expiry_s=3600,
    )


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bare_aiomqtt(port: int, count: int) -> tuple[float, float]:
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=WINDOW) as client:
        client.pending_calls_threshold = 10 * WINDOW
        started, cpu0 = time.perf_counter(), cpu_s()
        for base in range(0, count, WINDOW):
            await asyncio.gather(
                *(
                    client.publish(message(n).topic, payload(n), qos=1)
                    for n in range(base, min(count, base + WINDOW))
                )
            )
        return time.perf_counter() - started, cpu_s() - cpu0


def publisher_for(outbox: Outbox, url: str) -> Publisher:
    return Publisher(
        MqttConfig(url=url),
        "bench",
        TOPICS,
        outbox,
        EnvelopeFactory("bench"),
        "bench",
        datetime.now(UTC),
    )


async def drained(outbox: Outbox, publisher: Publisher, count: int) -> None:
    while publisher.counters.delivered < count:
        await asyncio.sleep(0.005)


async def outbox_live(url: str, directory: Path, count: int) -> tuple[float, float]:
    outbox = Outbox(directory / "live.sqlite", max_messages=count * 2, max_age_s=3600)
    await outbox.open()
    publisher = publisher_for(outbox, url)
    task = asyncio.create_task(publisher.run(), name="publisher")
    try:
        while not publisher.counters.connected:
            await asyncio.sleep(0.01)
        started, cpu0 = time.perf_counter(), cpu_s()
        for base in range(0, count, PRODUCER_BATCH):
            await outbox.put([message(n) for n in range(base, min(count, base + PRODUCER_BATCH))])
        await drained(outbox, publisher, count)
        return time.perf_counter() - started, cpu_s() - cpu0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await outbox.close()


async def outbox_replay(url: str, directory: Path, count: int) -> tuple[float, float, float]:
    outbox = Outbox(directory / "replay.sqlite", max_messages=count * 2, max_age_s=3600)
    await outbox.open()
    store_started = time.perf_counter()
    for base in range(0, count, PRODUCER_BATCH):
        await outbox.put([message(n) for n in range(base, min(count, base + PRODUCER_BATCH))])
    store_s = time.perf_counter() - store_started
    publisher = publisher_for(outbox, url)
    started, cpu0 = time.perf_counter(), cpu_s()
    task = asyncio.create_task(publisher.run(), name="publisher")
    try:
        await drained(outbox, publisher, count)
        return time.perf_counter() - started, cpu_s() - cpu0, store_s
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await outbox.close()


async def main(count: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker = Mosquitto(directory / "broker")
        broker.start()
        try:
            bare_s, bare_cpu = await bare_aiomqtt(broker.port, count)
            live_s, live_cpu = await outbox_live(broker.url, directory, count)
            replay_s, replay_cpu, store_s = await outbox_replay(broker.url, directory, count)
        finally:
            broker.stop()
    rows = [
        ("bare aiomqtt, QoS 1, 100 in flight", count / bare_s, bare_cpu / count * 1e6, 1.0),
        (
            "outbox, live (store + publish + delete)",
            count / live_s,
            live_cpu / count * 1e6,
            bare_s / live_s,
        ),
        (
            "outbox, replay after an outage",
            count / replay_s,
            replay_cpu / count * 1e6,
            bare_s / replay_s,
        ),
    ]
    lines = [
        f"{count} messages of ~{len(payload(0))} bytes, QoS 1, one process, Mosquitto on loopback",
        "",
        "| path | messages/s | CPU µs/message (this process) | vs bare aiomqtt |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {rate:,.0f} | {cpu:.0f} | {ratio:.2f} |" for name, rate, cpu, ratio in rows),
        "",
        f"Storing the replay backlog (batches of {PRODUCER_BATCH}, synchronous=FULL): "
        f"{count / store_s:,.0f} messages/s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    print(asyncio.run(main(parser.parse_args().messages)))
