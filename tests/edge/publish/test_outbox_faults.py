"""The outbox when its disk fails, on real SQLite files: a disk that refuses writes (SQLite's
``max_page_count``, a directory that cannot be made) sends messages to the bounded memory
tier, with the outbox's priorities; they go to disk, in order, when it takes writes again. A
corrupt or truncated file is moved aside and a fresh one begun."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from edge.publish.memory_tier import MemoryTier
from edge.publish.outbox import MessageClass, NewMessage, Outbox, OutboxMessage

T, S, A = MessageClass.TELEMETRY, MessageClass.STATE, MessageClass.ALARM


def message(n: int, cls: MessageClass = T) -> NewMessage:
    return NewMessage(f"t/{cls.name}/{n}", os.urandom(200) + str(n).encode(), cls)


def numbers(messages: Sequence[OutboxMessage]) -> list[str]:
    return [m.topic.rsplit("/", 1)[1] for m in messages]


async def disk_full(outbox: Outbox, full: bool = True) -> None:
    """SQLite's per-connection page limit on the outbox's own connection: at its current size
    (full: no page more), or back to SQLite's default."""

    def set_limit() -> None:
        db = outbox._require()
        pages = db.execute("PRAGMA page_count").fetchone()[0] if full else 1073741823
        db.execute(f"PRAGMA max_page_count={pages}")

    await outbox._run(set_limit)


def test_memory_tier_drops_oldest_telemetry_then_state_and_alarms_last() -> None:
    dropped = dict.fromkeys(MessageClass, 0)
    tier = MemoryTier(4, dropped)
    tier.put([message(0, A), message(1), message(2, S), message(3)], created=1.0)
    tier.put([message(4), message(5, A)], created=2.0)
    assert numbers(tier.all()) == ["0", "2", "4", "5"]
    assert dropped == {T: 2, S: 0, A: 0}
    tier.put([message(n, A) for n in range(6, 9)], created=3.0)
    assert numbers(tier.all()) == ["5", "6", "7", "8"]
    assert dropped == {T: 3, S: 1, A: 1}  # an alarm only once nothing else was left
    assert all(m.id < 0 for m in tier.all())


def test_memory_tier_take_skips_deferred_and_deliver_removes() -> None:
    tier = MemoryTier(100, dict.fromkeys(MessageClass, 0))
    tier.put([message(n) for n in range(5)], created=1.0)
    first = tier.take(2, now=10.0)
    assert numbers(first) == ["0", "1"]
    tier.defer([first[0].id], until=20.0)
    assert numbers(tier.take(10, now=10.0)) == ["1", "2", "3", "4"]
    again = tier.take(1, now=20.0)[0]
    assert (numbers([again]), again.attempts) == (["0"], 1)
    tier.deliver([m.id for m in tier.take(3, now=30.0)])
    assert numbers(tier.all()) == ["3", "4"]


async def test_a_full_disk_keeps_messages_in_memory_and_moves_them_to_disk_on_recovery(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=100_000, max_age_s=3600)
    await outbox.open()
    try:
        await outbox.put([message(n) for n in range(5)])
        await disk_full(outbox)
        await outbox.put([message(n) for n in range(5, 200)])
        await outbox.put([message(200, A)])
        assert outbox.state.fault is not None
        assert outbox.state.fault.kind == "full"
        assert outbox.faulted
        assert outbox.memory_depth == 196
        assert outbox.depth == 201
        taken = await outbox.take(7)  # what was on disk first, then memory
        assert numbers(taken) == ["0", "1", "2", "3", "4", "5", "6"]
        assert [m.id > 0 for m in taken] == [True] * 5 + [False] * 2
        outbox.mark_delivered([m.id for m in taken])
        assert outbox.depth == 194
        await outbox.retry()  # still full: nothing changes, nothing raised
        assert outbox.faulted
        assert numbers(await outbox.take(2)) == ["7", "8"]
        everything = await outbox.take(1000)
        outbox.mark_delivered([m.id for m in everything])
        assert outbox.memory_depth == 0
        await outbox.retry()  # nothing left in memory, but the disk is still full
        assert outbox.faulted
        await outbox.put([message(n) for n in range(7, 200)] + [message(200, A)])
        assert outbox.memory_depth == 194

        await disk_full(outbox, full=False)
        await outbox.retry()
        assert not outbox.faulted
        assert outbox.memory_depth == 0
        await outbox.put([message(201)])
        rest = await outbox.take(1000)
        assert numbers(rest) == [str(n) for n in range(7, 202)]
        assert all(m.id > 0 for m in rest)
        assert outbox.depth == 195
    finally:
        await outbox.close()
    with sqlite3.connect(tmp_path / "o.sqlite") as db:  # durable now, delivered rows deleted
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 195


async def test_the_memory_tier_is_bounded_and_counts_its_drops(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 100_000, 3600, memory_max_messages=100)
    await outbox.open()
    try:
        await disk_full(outbox)
        await outbox.put([message(0, A), message(1, S)] + [message(n) for n in range(2, 200)])
        assert outbox.memory_depth == 100
        assert outbox.dropped == {T: 100, S: 0, A: 0}
        kept = await outbox.take(3)
        assert numbers(kept) == ["0", "1", "102"]
    finally:
        await outbox.close()


async def test_a_directory_that_cannot_be_made_is_retried(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the directory should be")
    outbox = Outbox(blocker / "outbox.sqlite", 1000, 3600)
    await outbox.open()  # no exception: the outbox works in memory
    try:
        assert outbox.state.fault is not None
        assert outbox.state.fault.kind == "unavailable"
        await outbox.put([message(0, A), message(1)])
        assert numbers(await outbox.take(10)) == ["0", "1"]
        await outbox.retry()
        assert outbox.faulted
        blocker.unlink()
        await outbox.retry()
        assert not outbox.faulted
        assert numbers(await outbox.take(10)) == ["0", "1"]
    finally:
        await outbox.close()
    assert (blocker / "outbox.sqlite").exists()


def set_aside_files(directory: Path) -> list[Path]:
    return list(directory.glob("outbox.sqlite.corrupt-*"))


def corrupt_random(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def corrupt_truncated(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB)")
    db.executemany("INSERT INTO outbox (payload) VALUES (?)", [(os.urandom(300),)] * 3000)
    db.commit()
    db.close()
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize("damage", [corrupt_random, corrupt_truncated], ids=["random", "truncated"])
async def test_a_corrupt_outbox_is_moved_aside_and_a_fresh_one_begun(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite"
    damage(path)
    original = path.read_bytes()
    outbox = Outbox(path, 1000, 3600, corrupt_notice_s=60)
    await outbox.open()
    try:
        aside = set_aside_files(tmp_path)
        assert len(aside) == 1
        assert aside[0].read_bytes() == original
        moved = [r for r in caplog.records if r.getMessage().startswith("corrupt file moved")]
        assert moved
        assert moved[0].moved_to == str(aside[0])  # type: ignore[attr-defined]
        assert outbox.state.fault is None  # the fresh file works ...
        assert outbox.faulted  # ... and storage_fault says history was lost, for a while
        await outbox.put([message(0, A)])
        assert outbox.memory_depth == 0
        assert numbers(await outbox.take(10)) == ["0"]
    finally:
        await outbox.close()


async def test_a_file_corrupted_while_running_is_replaced_and_ids_go_on(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, 1000, 3600, corrupt_notice_s=60)
    await outbox.open()
    try:
        await outbox.put([message(n) for n in range(50)])
        taken = await outbox.take(50)
        last_id = taken[-1].id

        def wreck() -> None:
            outbox._require().close()
            path.write_bytes(os.urandom(64 * 1024))
            outbox._file.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

        await outbox._run(wreck)
        await outbox.put([message(50, A)])  # fails, moves the file aside, starts fresh
        assert set_aside_files(tmp_path)
        outbox.mark_delivered([m.id for m in taken])  # late acks for the old file
        fresh = await outbox.take(10)
        assert numbers(fresh) == ["50"]
        assert fresh[0].id > last_id
    finally:
        await outbox.close()
