"""The MLLP sender against a receiver on 127.0.0.1 that answers AA, AE, AR, nothing, or
closes the connection: nothing lost, order kept, refusals kept and counted; a receiver down
for a while and back gets everything."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import trustme

from edge.backoff import Backoff
from edge.config import Hl7Config
from edge.forward.queue import ForwardQueue, NewMessage
from edge.hl7.identity import new_control_id
from edge.hl7.pcd01 import reading_message
from edge.hl7.sender import MllpSender, tls_context
from tests.edge.hl7.messages import IDENTITY, T0, vitals
from tests.edge.hl7.receiver import Answer, Receiver, eventually


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An MLLP receiver listening on 127.0.0.1 (answering AA unless told otherwise), stopped
    after the test however it ended."""
    started = Receiver()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def _messages(count: int) -> list[NewMessage]:
    out = []
    for i in range(count):
        control_id = f"{i:04d}-{new_control_id()[:8]}"
        reading = vitals(T0 + timedelta(seconds=i))
        text = reading_message(reading, IDENTITY, control_id, reading.ts)
        out.append(NewMessage(control_id, "observation", "chair-1", text.encode()))
    return out


@asynccontextmanager
async def sending(
    tmp_path: Path, receiver: Receiver, count: int, ack_timeout_s: float = 0.3
) -> AsyncIterator[tuple[ForwardQueue, MllpSender, list[str]]]:
    queue = ForwardQueue("hl7_queue", tmp_path / "q.sqlite", 10_000, 100)
    await queue.open()
    messages = _messages(count)
    queue.put(messages)
    sender = MllpSender(
        receiver.url,
        queue,
        ack_timeout_s=ack_timeout_s,
        connect_timeout_s=1.0,
        backoff=Backoff(initial=0.05, cap=0.2, floor=0.01),
    )
    writer = asyncio.create_task(queue.run_writer())
    running = asyncio.create_task(sender.run())
    try:
        yield queue, sender, [m.control_id for m in messages]
    finally:
        sender.finish()
        for task in (running, writer):
            task.cancel()
        await asyncio.gather(running, writer, return_exceptions=True)
        await queue.close()


async def _drained(
    queue: ForwardQueue, sender: MllpSender, total: int, timeout: float = 15.0
) -> None:
    """Every one of ``total`` messages left the queue and was counted by the sender (the
    queue's count falls in its disk thread, a moment before the sender counts)."""
    counters = sender.counters

    def settled() -> bool:
        return queue.depth == 0 and counters.delivered + counters.refused == total

    await eventually(settled, timeout)


def _script(answers: dict[tuple[int, int], Answer], ids: list[str]) -> Callable[[str, int], Answer]:
    """Answers by (message index, arrival count); AA otherwise."""

    def answer(control_id: str, count: int) -> Answer:
        index = next((i for i, c in enumerate(ids) if c == control_id), -1)
        return answers.get((index, count), "AA")

    return answer


async def test_everything_accepted_in_order(tmp_path: Path, receiver: Receiver) -> None:
    async with sending(tmp_path, receiver, 30) as (queue, sender, ids):
        await _drained(queue, sender, len(ids))
        assert receiver.received == ids
        assert sender.counters.delivered == 30
        # every message parsed by python-hl7 on the far side: a PCD-01 for chair-1
        message = receiver.messages[ids[0]]
        assert str(message.segment("MSH")[9]) == "ORU^R01^ORU_R01"
        assert "chair-1" in str(message.segment("PV1")[3])


async def test_refusals_are_kept_counted_and_not_resent(tmp_path: Path, receiver: Receiver) -> None:
    async with sending(tmp_path, receiver, 10) as (queue, sender, ids):
        receiver.answer = _script({(2, 1): "AE", (6, 1): "AR"}, ids)
        await _drained(queue, sender, len(ids))
        assert receiver.received == ids  # each once: refused ones are not sent again
        assert receiver.accepted() == [c for i, c in enumerate(ids) if i not in (2, 6)]
        assert (sender.counters.delivered, sender.counters.refused) == (8, 2)
        refused = await queue.refused()
        assert [(r.control_id, r.code) for r in refused] == [(ids[6], "AR"), (ids[2], "AE")]
        assert refused[0].detail == "PID-3 missing"
        assert refused[0].payload.startswith(b"MSH|")


async def test_silence_closing_and_garbage_resend_the_same_message(
    tmp_path: Path, receiver: Receiver
) -> None:
    async with sending(tmp_path, receiver, 12) as (queue, sender, ids):
        receiver.answer = _script(
            {(3, 1): "silent", (5, 1): "close", (5, 2): "close", (8, 1): "garbage"}, ids
        )
        await _drained(queue, sender, len(ids))
        assert receiver.accepted() == ids  # nothing lost, order kept
        assert receiver.received.count(ids[3]) == 2
        assert receiver.received.count(ids[5]) == 3
        assert receiver.received.count(ids[8]) == 2
        # what came in is in order, each resend right after the failed send
        assert list(dict.fromkeys(receiver.received)) == ids
        assert sender.counters.ack_timeouts >= 1
        assert sender.counters.bad_replies == 1
        assert receiver.connections >= 5


async def test_receiver_down_for_a_while_then_back_gets_everything(
    tmp_path: Path, receiver: Receiver
) -> None:
    await receiver.stop()  # the port is known, nobody listens
    async with sending(tmp_path, receiver, 20) as (queue, sender, ids):
        await eventually(lambda: sender.counters.connect_failures >= 3, 5)
        assert queue.depth == 20
        assert not sender.counters.connected
        await receiver.start()
        await _drained(queue, sender, len(ids))
        assert receiver.accepted() == ids


async def test_receiver_stops_midway_and_comes_back(tmp_path: Path, receiver: Receiver) -> None:
    stopped = asyncio.Event()

    def answer(control_id: str, count: int) -> Answer:
        if len(receiver.received) == 10 and not stopped.is_set():
            stopped.set()
            return "silent"
        return "AA"

    receiver.answer = answer
    async with sending(tmp_path, receiver, 25) as (queue, sender, ids):
        await asyncio.wait_for(stopped.wait(), 5)
        await receiver.stop()
        await asyncio.sleep(0.5)
        assert queue.depth == 16  # the unanswered one stays
        await receiver.start()
        await _drained(queue, sender, len(ids))
        assert receiver.accepted() == ids


async def test_finish_returns_once_the_queue_is_empty(tmp_path: Path, receiver: Receiver) -> None:
    queue = ForwardQueue("hl7_queue", tmp_path / "q.sqlite", 1000, 10)
    await queue.open()
    queue.put(_messages(5))
    writer = asyncio.create_task(queue.run_writer())
    sender = MllpSender(receiver.url, queue, backoff=Backoff(0.05, 0.2, 0.01))
    sender.finish()
    await asyncio.wait_for(sender.run(), 10)
    assert queue.depth == 0
    assert len(receiver.accepted()) == 5
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await queue.close()


async def test_tls_to_a_trusted_receiver_and_never_to_an_untrusted_one(tmp_path: Path) -> None:
    server_ca, other_ca = trustme.CA(), trustme.CA()
    receiver = Receiver()
    receiver.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(receiver.tls)
    trusted, untrusted = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    server_ca.cert_pem.write_to_path(str(trusted))
    other_ca.cert_pem.write_to_path(str(untrusted))
    await receiver.start()
    try:
        for ca_file, delivered in ((untrusted, False), (trusted, True)):
            hl7 = Hl7Config(url=receiver.url, tls={"ca_file": ca_file})
            queue = ForwardQueue("hl7_queue", tmp_path / f"q-{delivered}.sqlite", 100, 10)
            await queue.open()
            queue.put(_messages(3))
            writer = asyncio.create_task(queue.run_writer())
            sender = MllpSender(
                hl7.url, queue, tls=tls_context(hl7), backoff=Backoff(0.05, 0.2, 0.01)
            )
            running = asyncio.create_task(sender.run())
            try:
                if delivered:
                    await _drained(queue, sender, 3, 10)
                    assert sender.counters.delivered == 3
                else:
                    await eventually(lambda s=sender: s.counters.connect_failures >= 2, 10)  # type: ignore[misc]
                    assert queue.depth == 3
                    assert sender.counters.delivered == 0
            finally:
                running.cancel()
                writer.cancel()
                await asyncio.gather(running, writer, return_exceptions=True)
                await queue.close()
        assert len(receiver.accepted()) == 3
    finally:
        await receiver.stop()
