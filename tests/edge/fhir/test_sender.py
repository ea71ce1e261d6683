"""The FHIR sender against a server on 127.0.0.1 answering 2xx, 4xx, 5xx, 429 and too late:
nothing lost, order kept, refusals kept and not resent, auth sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from edge.backoff import Backoff
from edge.fhir.output import FhirEncoder
from edge.fhir.resources import FhirIdentity
from edge.fhir.sender import FhirSender
from edge.forward.queue import ForwardQueue
from tests.edge.fhir.server import FhirAnswer, FhirServer, fhir_server
from tests.edge.hl7.messages import T0, vitals
from tests.edge.hl7.receiver import eventually

ENCODER = FhirEncoder(FhirIdentity("clinic"))


@asynccontextmanager
async def sending(
    tmp_path: Path, server: FhirServer, count: int, **kwargs: object
) -> AsyncIterator[tuple[ForwardQueue, FhirSender, list[str]]]:
    from datetime import timedelta

    queue = ForwardQueue("fhir_queue", tmp_path / "q.sqlite", 10_000, 100)
    await queue.open()
    messages = [ENCODER.reading(vitals(T0 + timedelta(seconds=i))) for i in range(count)]
    queue.put(messages)
    sender = FhirSender(
        server.url,
        queue,
        timeout_s=0.5,
        backoff=Backoff(0.05, 0.2, 0.01),
        **kwargs,  # type: ignore[arg-type]
    )
    writer = asyncio.create_task(queue.run_writer())
    running = asyncio.create_task(sender.run())
    try:
        yield queue, sender, [f"urn:uuid:{m.control_id}" for m in messages]
    finally:
        sender.finish()
        for task in (running, writer):
            task.cancel()
        await asyncio.gather(running, writer, return_exceptions=True)
        await queue.close()


def _script(
    answers: dict[tuple[int, int], FhirAnswer], ids: list[str]
) -> Callable[[str, int], FhirAnswer]:
    def answer(bundle_id: str, count: int) -> FhirAnswer:
        index = ids.index(bundle_id) if bundle_id in ids else -1
        return answers.get((index, count), "ok")

    return answer


async def test_bundles_go_in_order_with_the_bearer_token(tmp_path: Path) -> None:
    server = FhirServer()
    async with fhir_server(server):
        headers = {"Content-Type": "application/fhir+json", "Authorization": "Bearer t0ken"}
        async with sending(tmp_path, server, 10, headers=headers) as (queue, sender, ids):
            # the queue's count falls in its disk thread, before the sender counts the delivery
            await eventually(lambda: queue.depth == 0 and sender.counters.delivered == 10)
            assert server.accepted == ids
            assert set(server.authorization) == {"Bearer t0ken"}
            assert sender.counters.delivered == 10


async def test_refusals_are_kept_and_errors_resent(tmp_path: Path) -> None:
    server = FhirServer()
    async with fhir_server(server):
        auth = httpx.BasicAuth("edge", "s3cret")
        async with sending(tmp_path, server, 10, auth=auth) as (queue, sender, ids):
            server.answer = _script(
                {
                    (1, 1): "bad",
                    (3, 1): "error",
                    (4, 1): "busy",
                    (6, 1): "unauthorized",
                    (8, 1): "slow",
                },
                ids,
            )
            await eventually(lambda: queue.depth == 0)
            assert server.accepted == [c for i, c in enumerate(ids) if i not in (1, 6)]
            assert server.received.count(ids[1]) == 1  # a refusal is not resent
            assert server.received.count(ids[3]) == 2
            assert server.received.count(ids[4]) == 2
            assert server.received.count(ids[8]) >= 2  # the client gave up; sent again
            refused = await queue.refused()
            assert [(r.code, r.detail) for r in refused] == [
                ("401", "said unauthorized"),
                ("400", "said bad"),
            ]
            assert sender.counters.refused == 2
            assert sender.counters.ack_timeouts >= 1
            assert server.authorization[0] is not None
            assert server.authorization[0].startswith("Basic ")


async def test_server_down_for_a_while_then_back_gets_everything(tmp_path: Path) -> None:
    server = FhirServer()
    async with sending(tmp_path, server, 8) as (queue, sender, ids):
        await eventually(lambda: sender.counters.connect_failures >= 3, 5)
        assert queue.depth == 8
        async with fhir_server(server):
            await eventually(lambda: queue.depth == 0)
            assert server.accepted == ids
