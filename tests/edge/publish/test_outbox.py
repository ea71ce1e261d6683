"""The outbox on a real SQLite file: durable, ordered, bounded as the design says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.publish.outbox import MessageClass, NewMessage, Outbox


def message(n: int, cls: MessageClass = MessageClass.TELEMETRY) -> NewMessage:
    return NewMessage(f"t/{cls.name}/{n}", str(n).encode(), cls)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_messages_survive_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, max_messages=1000, max_age_s=3600)
    await outbox.open()
    await outbox.put([message(n) for n in range(10)])
    await outbox.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = Outbox(path, max_messages=1000, max_age_s=3600)
    await reopened.open()
    try:
        assert reopened.depth == 10
        taken = await reopened.take(4)
        assert [m.payload for m in taken] == [b"0", b"1", b"2", b"3"]
        await reopened.delete([m.id for m in taken])
        assert [m.payload for m in await reopened.take(100)][:2] == [b"4", b"5"]
        assert reopened.depth == 6
    finally:
        await reopened.close()


async def test_full_outbox_drops_oldest_telemetry_then_state_then_alarms(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=5, max_age_s=3600)
    await outbox.open()
    try:
        await outbox.put(
            [message(0, MessageClass.ALARM), message(1), message(2, MessageClass.STATE)]
        )
        await outbox.put([message(3), message(4), message(5), message(6, MessageClass.ALARM)])
        assert outbox.depth == 5
        assert outbox.dropped[MessageClass.TELEMETRY] == 2
        kept = [m.topic for m in await outbox.take(10)]
        assert kept == ["t/ALARM/0", "t/STATE/2", "t/TELEMETRY/4", "t/TELEMETRY/5", "t/ALARM/6"]
        await outbox.put([message(n, MessageClass.ALARM) for n in range(7, 11)])
        assert outbox.dropped[MessageClass.TELEMETRY] == 4
        assert outbox.dropped[MessageClass.STATE] == 1
        assert outbox.dropped[MessageClass.ALARM] == 1  # only once nothing else was left
        outbox.rewind()  # read what the disk kept, as after a reconnection
        assert (await outbox.take(10))[0].topic == "t/ALARM/6"
    finally:
        await outbox.close()


async def test_old_telemetry_ages_out_but_alarms_do_not(tmp_path: Path) -> None:
    clock = FakeTime()
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=100, max_age_s=60, now=clock)
    await outbox.open()
    try:
        await outbox.put([message(1), message(2, MessageClass.ALARM)])
        clock.now += 61
        await outbox.put([message(3)])
        assert [m.topic for m in await outbox.take(10)] == ["t/ALARM/2", "t/TELEMETRY/3"]
        assert outbox.dropped[MessageClass.TELEMETRY] == 1
        assert await outbox.oldest_age() == 61
    finally:
        await outbox.close()


async def test_deferred_messages_wait_their_turn(tmp_path: Path) -> None:
    clock = FakeTime()
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=100, max_age_s=3600, now=clock)
    await outbox.open()
    try:
        await outbox.put([message(1), message(2)])
        first = (await outbox.take(1))[0]
        await outbox.defer([first.id], 30)
        assert [m.payload for m in await outbox.take(10)] == [b"2"]
        clock.now += 31
        retried = await outbox.take(10)
        assert [(m.payload, m.attempts) for m in retried] == [(b"1", 1), (b"2", 0)]
    finally:
        await outbox.close()


async def test_deleting_more_ids_than_one_statement_binds(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, max_messages=5000, max_age_s=3600)
    await outbox.open()
    await outbox.put([message(n) for n in range(1300)])
    taken = await outbox.take(1300)
    await outbox.delete([m.id for m in taken[:1250]] + [999_999])  # an unknown id is ignored
    assert outbox.depth == 50
    # deletes commit without a flush; puts must still commit with one (2 = FULL)
    assert (
        await outbox._run(lambda: outbox._require().execute("PRAGMA synchronous").fetchone()[0])
        == 2
    )
    await outbox.put([message(1300)])  # the next durable commit flushes the deletes too
    await outbox.close()
    reopened = Outbox(path, max_messages=5000, max_age_s=3600)
    await reopened.open()
    try:
        assert reopened.depth == 51
        assert [m.payload for m in await reopened.take(2)] == [b"1250", b"1251"]
    finally:
        await reopened.close()


async def test_marked_delivered_are_never_taken_again_and_go_with_the_next_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, max_messages=100, max_age_s=3600)
    await outbox.open()
    await outbox.put([message(n) for n in range(5)])
    taken = await outbox.take(3)
    outbox.mark_delivered([m.id for m in taken])
    assert outbox.depth == 2  # counted as gone at once
    assert [m.payload for m in await outbox.take(10)] == [b"3", b"4"]
    outbox.mark_delivered([taken[0].id + 3])  # "3", then the outbox closes
    await outbox.close()
    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT payload FROM outbox")] == [b"4"]
