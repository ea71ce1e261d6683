"""The forwarding queue on a real SQLite file: stored before sent, in order, removed only
when accepted, refused ones kept, bounded, a corrupt file set aside."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from edge.forward.queue import ForwardQueue, NewMessage
from tests.edge.hl7.receiver import eventually


def _messages(prefix: str, count: int, kind: str = "observation") -> list[NewMessage]:
    return [
        NewMessage(f"{prefix}{i:04d}", kind, "chair-1", f"MSH|{i}\r".encode()) for i in range(count)
    ]


@asynccontextmanager
async def opened(path: Path, **kwargs: int) -> AsyncIterator[ForwardQueue]:
    queue = ForwardQueue(
        "hl7_queue",
        path,
        kwargs.get("max_messages", 1000),
        kwargs.get("max_refused", 10),
        memory_max_messages=kwargs.get("memory_max", 10_000),
    )
    await queue.open()
    writer = asyncio.create_task(queue.run_writer())
    try:
        yield queue
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await queue.close()


async def _stored(queue: ForwardQueue, count: int) -> None:
    await eventually(lambda: queue.depth == count and not queue._pending, 5)


async def test_messages_are_taken_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    async with opened(path) as queue:
        queue.put(_messages("A", 5))
        await _stored(queue, 5)
        first = await queue.next()
        assert first.control_id == "A0000"
        assert await queue.delivered(first)
        assert queue.depth == 4
    # on disk, not in memory: a new process finds the rest, in order
    rows = sqlite3.connect(path).execute("SELECT control_id FROM queue ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["A0001", "A0002", "A0003", "A0004"]
    async with opened(path) as queue:
        assert queue.depth == 4
        taken = []
        for _ in range(4):
            message = await queue.next()
            taken.append(message.control_id)
            await queue.delivered(message)
        assert taken == ["A0001", "A0002", "A0003", "A0004"]
        assert queue.depth == 0
        assert queue.oldest_age() == 0.0


async def test_next_waits_for_a_stored_message(tmp_path: Path) -> None:
    async with opened(tmp_path / "q.sqlite") as queue:
        waiting = asyncio.create_task(queue.next())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        queue.put(_messages("B", 1))
        message = await asyncio.wait_for(waiting, 5)
        assert message.control_id == "B0000"


async def test_refused_messages_are_kept_apart_and_bounded(tmp_path: Path) -> None:
    async with opened(tmp_path / "q.sqlite", max_refused=10) as queue:
        queue.put(_messages("R", 12))
        await _stored(queue, 12)
        for _ in range(12):
            message = await queue.next()
            assert await queue.refuse(message, "AE", "PID-3 missing")
        assert queue.depth == 0
        refused = await queue.refused(100)
        assert len(refused) == 10  # the bound: the oldest two went
        assert refused[0].control_id == "R0011"
        assert refused[-1].control_id == "R0002"
        assert (refused[0].code, refused[0].detail) == ("AE", "PID-3 missing")
        assert refused[0].payload == b"MSH|11\r"


async def test_past_the_bound_the_oldest_observations_go_and_alarms_stay(tmp_path: Path) -> None:
    async with opened(tmp_path / "q.sqlite", max_messages=100) as queue:
        queue.put(_messages("ALM", 5, "alarm"))
        queue.put(_messages("OBS", 200))
        await _stored(queue, 100)
        assert queue.dropped == {"observation": 105, "alarm": 0}
        taken = []
        while queue.depth:
            message = await queue.next()
            taken.append(message.control_id)
            await queue.delivered(message)
        assert taken[:5] == [f"ALM{i:04d}" for i in range(5)]
        assert taken[5:] == [f"OBS{i:04d}" for i in range(105, 200)]


async def test_a_corrupt_file_is_set_aside_and_a_fresh_one_works(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    async with opened(path) as queue:
        names = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir()])
        assert [name[:17] for name in names].count("q.sqlite.corrupt-") == 1
        assert queue.faulted  # for corrupt_notice_s, so an engineer hears of it
        queue.put(_messages("C", 3))
        await _stored(queue, 3)
        assert (await queue.next()).control_id == "C0000"


async def test_a_disk_that_refuses_keeps_messages_in_memory_and_sends_none(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the folder should be")
    async with opened(blocker / "q.sqlite", memory_max=50) as queue:
        assert queue.faulted
        queue.put(_messages("M", 60))
        assert queue.depth == 50
        assert queue.dropped["observation"] == 10
        with_timeout = asyncio.create_task(queue.next())
        await asyncio.sleep(0.1)
        assert not with_timeout.done()  # not stored, so never sent
        with_timeout.cancel()
        await asyncio.gather(with_timeout, return_exceptions=True)


async def test_messages_in_memory_reach_the_disk_once_it_takes_them(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.write_text("a file where the folder should be")
    async with opened(folder / "q.sqlite") as queue:
        queue.put(_messages("D", 3))
        assert queue.faulted
        folder.unlink()
        folder.mkdir()
        await queue.retry()
        assert not queue.faulted
        await _stored(queue, 3)
        assert (await queue.next()).control_id == "D0000"
