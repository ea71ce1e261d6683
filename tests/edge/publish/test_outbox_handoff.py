"""The outbox's hand-off: messages stored after the publisher caught up are handed out without
reading them back, exactly once and in order; the disk stays the truth after a rewind, a
deferral that comes due, or a publisher that fell behind."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from edge.publish import outbox as outbox_module
from edge.publish.outbox import MessageClass, NewMessage, Outbox


def message(n: int) -> NewMessage:
    return NewMessage(f"t/{n}", str(n).encode(), MessageClass.TELEMETRY)


def numbers(messages: list[outbox_module.OutboxMessage]) -> list[int]:
    return [int(m.payload) for m in messages]


async def test_puts_racing_takes_are_each_taken_once_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 100_000, 3600)
    await outbox.open()
    rng = random.Random(7)
    taken: list[int] = []
    try:
        n = 0
        for _ in range(200):  # bounded: 200 rounds of a put racing a take
            size = rng.randint(1, 5)
            put = outbox.put([message(n + i) for i in range(size)])
            n += size
            took, _ = await asyncio.gather(outbox.take(rng.randint(1, 8)), put)
            taken += numbers(took)
            outbox.mark_delivered([m.id for m in took])
        while batch := await outbox.take(50):
            taken += numbers(batch)
            outbox.mark_delivered([m.id for m in batch])
        assert taken == list(range(n))
    finally:
        await outbox.close()


async def test_a_rewind_reads_what_was_handed_out_and_not_delivered_again(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 1000, 3600)
    await outbox.open()
    try:
        assert await outbox.take(10) == []  # caught up: hand-off from now on
        await outbox.put([message(1), message(2)])
        first = await outbox.take(10)
        assert numbers(first) == [1, 2]
        outbox.mark_delivered([first[0].id])
        await outbox.put([message(3)])
        outbox.rewind()  # a new connection: message 2 was never acknowledged
        assert numbers(await outbox.take(10)) == [2, 3]
    finally:
        await outbox.close()


async def test_a_deferred_message_comes_back_while_handing_off(tmp_path: Path) -> None:
    now = [1000.0]
    outbox = Outbox(tmp_path / "o.sqlite", 1000, 3600, now=lambda: now[0])
    await outbox.open()
    try:
        await outbox.take(10)
        await outbox.put([message(1)])
        refused = await outbox.take(10)
        await outbox.defer([m.id for m in refused], 30)
        await outbox.put([message(2)])
        assert numbers(await outbox.take(10)) == [2]
        assert await outbox.take(10) == []
        now[0] += 31
        assert numbers(await outbox.take(10)) == [1, 2]  # from disk: 2 not acknowledged yet
    finally:
        await outbox.close()


async def test_a_publisher_far_behind_reads_the_disk_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 10_000, 3600)
    await outbox.open()
    limit = outbox_module.HANDOFF_MAX
    try:
        await outbox.take(10)
        await outbox.put([message(n) for n in range(limit - 1)])
        await outbox.put([message(n) for n in range(limit - 1, limit + 9)])  # past the cap
        taken: list[int] = []
        while batch := await outbox.take(500):
            taken += numbers(batch)
            outbox.mark_delivered([m.id for m in batch])
        assert taken == list(range(limit + 9))
    finally:
        await outbox.close()


async def test_takes_go_on_after_what_is_in_flight_and_a_rewind_starts_over(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 1000, 3600)
    await outbox.open()
    try:
        await outbox.put([message(n) for n in range(250)])
        first, second = await outbox.take(100), await outbox.take(100)  # both in flight
        assert numbers(first) + numbers(second) == list(range(200))
        outbox.mark_delivered([m.id for m in first])
        assert numbers(await outbox.take(100)) == list(range(200, 250))
        outbox.rewind()  # the connection dropped before the second batch was acknowledged
        assert numbers(await outbox.take(500)) == list(range(100, 250))
    finally:
        await outbox.close()
