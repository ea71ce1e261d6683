"""Group commit: readings spread over a few ms share one outbox transaction; an alarm
transition is committed at once, without waiting for the linger; nothing is lost at close."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from drivers.readings import VitalsReading
from edge.alarms.models import AlarmEvent
from edge.bus import Bus
from edge.items import OutputItem
from edge.publish.messages import MessageClass
from edge.publish.outbox import NewMessage, Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import ConfigLogPayload, EnvelopeFactory
from edge.publish.topics import Topics
from tests.web.edges import hypertension


class CountingOutbox(Outbox):
    """The real outbox, counting its write transactions."""

    puts: list[int]
    stored: asyncio.Event

    async def put(self, messages: Sequence[NewMessage]) -> None:
        self.puts.append(len(messages))
        await super().put(messages)
        self.stored.set()


def reading(n: int) -> VitalsReading:
    return VitalsReading(device_id=f"monitor-{n}", bed=f"bed-{n}", ts=datetime.now(UTC))


async def started(tmp_path: Path) -> tuple[CountingOutbox, Bus[OutputItem]]:
    outbox = CountingOutbox(tmp_path / "outbox.sqlite", 10_000, 3600)
    outbox.puts, outbox.stored = [], asyncio.Event()
    await outbox.open()
    return outbox, Bus()


def writer_for(outbox: Outbox, linger_s: float) -> OutboxWriter:
    topics = Topics("infusion-edge/v1", "north")
    return OutboxWriter(outbox, topics, EnvelopeFactory("edge-a"), linger_s=linger_s)


async def test_readings_within_the_linger_share_one_commit(tmp_path: Path) -> None:
    outbox, bus = await started(tmp_path)
    items = bus.subscribe("outbox")
    task = asyncio.create_task(writer_for(outbox, 0.2).run(items))
    for n in range(5):  # spread over ~40 ms, well inside the 200 ms linger
        await bus.publish(reading(n))
        await asyncio.sleep(0.01)
    await bus.close()
    await task
    assert outbox.puts == [5]
    taken = await outbox.take(100)
    assert [json.loads(m.payload)["seq"] for m in taken] == [1, 2, 3, 4, 5]
    await outbox.close()


async def test_an_alarm_is_committed_at_once_with_what_waited_before_it(tmp_path: Path) -> None:
    outbox, bus = await started(tmp_path)
    items = bus.subscribe("outbox")
    task = asyncio.create_task(writer_for(outbox, 30.0).run(items))
    try:
        await bus.publish(reading(1))
        alarm = hypertension("bed-1")
        await bus.publish(AlarmEvent(alarm=alarm, transition="raised", at=alarm.raised_at))
        async with asyncio.timeout(2):  # far less than the 30 s linger
            await outbox.stored.wait()
        taken = await outbox.take(100)
        assert taken[0].topic.endswith("/monitor-1/telemetry")
        assert any(m.topic.endswith(alarm.alarm_id) for m in taken)  # on disk, durable
        assert outbox.puts == [len(taken)]
    finally:
        await bus.close()
        await task
        await outbox.close()


async def test_a_lone_reading_waits_no_longer_than_the_linger(tmp_path: Path) -> None:
    outbox, bus = await started(tmp_path)
    items = bus.subscribe("outbox")
    task = asyncio.create_task(writer_for(outbox, 0.05).run(items))
    try:
        started_at = asyncio.get_running_loop().time()
        await bus.publish(reading(1))
        async with asyncio.timeout(2):
            await outbox.stored.wait()
        waited = asyncio.get_running_loop().time() - started_at
        assert 0.04 <= waited < 1.0
        assert outbox.puts == [1]
    finally:
        await bus.close()
        await task
        await outbox.close()


async def test_the_bus_wait_with_a_deadline_loses_nothing() -> None:
    bus: Bus[int] = Bus()
    items = bus.subscribe("test")
    assert await items.get_batch_within(10, 0.01) == []
    await bus.publish(1)
    await bus.publish(2)
    assert await items.get_batch_within(10, 0.01) == [1, 2]
    await bus.publish(3)
    await bus.close()
    assert await items.get_batch_within(10, 0.01) == [3]
    assert await items.get_batch_within(10, 0.01) is None


async def test_a_lazy_subscriber_sees_every_item_in_order_waking_once_per_burst() -> None:
    bus: Bus[int] = Bus()
    lazy = bus.subscribe("metrics", lazy_s=0.2)
    seen: list[tuple[int, float]] = []

    async def consume() -> None:
        async for item in lazy:
            seen.append((item, asyncio.get_running_loop().time()))

    task = asyncio.create_task(consume())
    await bus.publish(0)
    await asyncio.sleep(0.01)  # the consumer took item 0 and now waits 0.2 s
    for n in range(1, 6):
        await bus.publish(n)
        await asyncio.sleep(0.01)
    await bus.close()
    await task
    assert [n for n, _ in seen] == list(range(6))
    burst = [t for n, t in seen if n >= 1]
    assert burst[0] - seen[0][1] >= 0.15  # items 1-5 waited for the consumer's next look
    assert burst[-1] - burst[0] < 0.05  # and were taken together


async def test_a_message_stored_beside_the_bus_waits_for_earlier_seq_numbers(
    tmp_path: Path,
) -> None:
    """A config change stored while a batch lingers is numbered and stored after it."""
    outbox, bus = await started(tmp_path)
    items = bus.subscribe("outbox")
    envelopes = EnvelopeFactory("edge-a")
    writer = OutboxWriter(outbox, Topics("infusion-edge/v1", "north"), envelopes, linger_s=0.3)
    task = asyncio.create_task(writer.run(items))
    await bus.publish(reading(1))
    await asyncio.sleep(0.05)  # the batch holds seq 1 and lingers

    def config_message() -> list[NewMessage]:
        seq = envelopes.fields(ConfigLogPayload, datetime.now(UTC))["seq"]
        payload = json.dumps({"seq": seq}).encode()
        return [NewMessage("infusion-edge/v1/north/config-log", payload, MessageClass.ALARM)]

    await writer.store(config_message)
    await bus.close()
    await task
    taken = await outbox.take(100)
    assert [json.loads(m.payload)["seq"] for m in taken] == [1, 2]
    assert taken[1].topic.endswith("/config-log")
    await outbox.close()
