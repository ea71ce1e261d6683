"""Server-Sent Events over a real uvicorn server: a snapshot then live changes, exact replay
after a reconnect with ``Last-Event-ID``, a snapshot when the id cannot be replayed,
heartbeats, and streams ended at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.mosquitto import Mosquitto
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import (
    PASSWORDS,
    SseEvent,
    eventually,
    merge_bed,
    sse_events,
    web_config,
)
from tests.web.serving import Served, served

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def logged_in(server: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        credentials = {"name": "viewer.lee", "password": PASSWORDS["viewer.lee"]}
        assert (await client.post("/api/login", json=credentials)).status_code == 200
        yield client


async def read(client: httpx.AsyncClient, count: int, last_event_id: str = "") -> list[SseEvent]:
    """The first ``count`` events (heartbeats included) of a new stream."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    got: list[SseEvent] = []
    async with (
        asyncio.timeout(15),
        client.stream("GET", "/api/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in sse_events(response):
            got.append(event)
            if len(got) == count:
                break
    return got


async def test_a_snapshot_then_live_changes(mosquitto: Mosquitto) -> None:
    alarm = hypertension("bed-1")
    async with (
        served(web_config(mosquitto.url)) as server,
        logged_in(server) as client,
        fake_edge(mosquitto.port) as edge,
    ):
        await eventually(lambda: bool(server.dashboard.state.edges))
        reader = asyncio.create_task(read(client, 3))
        await eventually(lambda: server.dashboard.journal.last >= 1)
        await asyncio.sleep(0.2)
        await edge.alarm(alarm)
        snapshot, bed, shown = await reader
    assert snapshot.event == "snapshot"
    assert snapshot.json()["edges"][0]["edge_id"] == "edge-a"
    assert snapshot.json()["settings"] == {"stale_after_s": 30.0, "nibp_stale_after_s": 900.0}
    assert (bed.event, shown.event) == ("bed", "alarm")
    assert shown.json()["alarm_id"] == alarm.alarm_id
    numbers = [int((e.id or "").rpartition("-")[2]) for e in (snapshot, bed, shown)]
    assert numbers[0] < numbers[1] == numbers[2] - 1


async def test_a_reconnecting_page_gets_exactly_what_it_missed(mosquitto: Mosquitto) -> None:
    first, missed = hypertension("bed-1"), hypertension("bed-2", priority="medium")
    async with (
        served(web_config(mosquitto.url)) as server,
        logged_in(server) as client,
        fake_edge(mosquitto.port) as edge,
    ):
        await edge.alarm(first)
        await eventually(lambda: len(server.dashboard.state.alarms) == 1)
        [snapshot] = await read(client, 1)
        await edge.alarm(missed)  # while the page is away
        await edge.end_alarm(first)
        await eventually(
            lambda: list(server.dashboard.state.alarms) != [f"test-site/{first.alarm_id}"]
        )
        await eventually(lambda: len(server.dashboard.state.alarms) == 1)
        replayed = await read(client, 3, last_event_id=snapshot.id or "")
    assert [e.event for e in replayed] == ["bed", "alarm", "alarm_removed"]
    assert replayed[1].json()["alarm_id"] == missed.alarm_id
    assert replayed[2].json()["key"] == f"test-site/{first.alarm_id}"


async def test_an_id_that_cannot_be_replayed_gets_a_snapshot(mosquitto: Mosquitto) -> None:
    async with served(web_config(mosquitto.url)) as server, logged_in(server) as client:
        journal = server.dashboard.journal
        for stale_id in ("another-process-7", f"{journal.epoch}-99999", "garbage"):
            [event] = await read(client, 1, last_event_id=stale_id)
            assert event.event == "snapshot", stale_id
            assert event.id == journal.event_id(journal.last)


async def test_a_quiet_stream_sends_heartbeats(mosquitto: Mosquitto) -> None:
    config = web_config(mosquitto.url, stream_heartbeat_s=0.2)
    async with served(config) as server, logged_in(server) as client:
        snapshot, heartbeat = await read(client, 2)
    assert (snapshot.event, heartbeat.event) == ("snapshot", "heartbeat")
    assert heartbeat.id is None
    assert heartbeat.json()["feed"]["connected"] is True


async def test_stopping_the_server_ends_open_streams_promptly(mosquitto: Mosquitto) -> None:
    opened = asyncio.Event()

    async def follow(client: httpx.AsyncClient, url: str) -> int:
        count = 0
        async with client.stream("GET", f"{url}/api/events") as response:
            async for _ in sse_events(response):
                count += 1
                opened.set()
        return count

    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=10) as client:
        async with served(web_config(mosquitto.url)) as server:
            credentials = {"name": "viewer.lee", "password": PASSWORDS["viewer.lee"]}
            await client.post(f"{server.url}/api/login", json=credentials)
            follower = asyncio.create_task(follow(client, server.url))
            async with asyncio.timeout(10):
                await opened.wait()
            started = loop.time()
        assert loop.time() - started < 5  # served() stops the server, the stream still open
        async with asyncio.timeout(5):
            assert await follower >= 1  # the stream ended cleanly


async def test_a_burst_of_readings_reaches_the_page_as_the_newest_bed(
    mosquitto: Mosquitto,
) -> None:
    async with (
        served(web_config(mosquitto.url)) as server,
        logged_in(server) as client,
        fake_edge(mosquitto.port) as edge,
        asyncio.timeout(15),
        client.stream("GET", "/api/events") as response,
    ):
        events = sse_events(response)
        assert (await anext(events)).event == "snapshot"
        await edge.vitals("bed-1", sbp=120.0, dbp=80.0)
        await edge.pump("bed-1", rate=50.0, volume=0.0)  # a new device: the whole bed again
        page: dict[str, Any] = {}
        kinds, volumes = [], []
        async for event in events:
            if event.event in ("bed", "bed_delta"):
                kinds.append(event.event)
                page = event.json() if event.event == "bed" else merge_bed(page, event.json())
                volumes += [pump["values"]["volume"]["value"] for pump in page["pumps"]]
                if volumes[-1:] == [0.0] and kinds[-1] == "bed":
                    break
        for volume in range(1, 6):  # within a few ms: less than one bed tick (0.5 s)
            await edge.pump("bed-1", rate=50.0, volume=float(volume))
        async for event in events:
            if event.event in ("bed", "bed_delta"):
                kinds.append(event.event)
                delta = event.json()
                assert set(delta) == {"key", "pumps"}, delta  # only the pump changed
                page = merge_bed(page, delta)
                volumes.append(page["pumps"][0]["values"]["volume"]["value"])
                if volumes[-1] == 5.0:
                    break
        assert page == server.dashboard.state.beds["test-site/bed-1"].to_json()
    assert len(volumes) < 7  # merged: at most one per bed and chunk
    assert volumes == sorted(volumes)
    assert kinds[-1] == "bed_delta"


async def test_a_replay_sends_the_beds_it_covers_whole(mosquitto: Mosquitto) -> None:
    async with (
        served(web_config(mosquitto.url)) as server,
        logged_in(server) as client,
        fake_edge(mosquitto.port) as edge,
    ):
        await edge.pump("bed-1", rate=50.0, volume=1.0)
        await eventually(lambda: server.dashboard.journal.last >= 1)
        [snapshot] = await read(client, 1)
        await edge.pump("bed-1", rate=50.0, volume=2.0)  # a delta for a live stream
        await eventually(lambda: server.dashboard.journal.last >= 2)
        replayed = await read(client, 1, last_event_id=snapshot.id or "")
    assert replayed[0].event == "bed"  # whole: the page may have missed part of a chunk
    assert replayed[0].json() == server.dashboard.state.beds["test-site/bed-1"].to_json()


async def test_a_client_that_asks_for_whole_beds_gets_no_deltas(mosquitto: Mosquitto) -> None:
    async with (
        served(web_config(mosquitto.url)) as server,
        logged_in(server) as client,
        fake_edge(mosquitto.port) as edge,
        asyncio.timeout(15),
    ):
        await edge.pump("bed-1", rate=50.0, volume=1.0)
        await eventually(lambda: server.dashboard.journal.last >= 1)
        got: dict[str, list[str]] = {}
        async with (
            client.stream("GET", "/api/events?beds=whole") as whole,
            client.stream("GET", "/api/events") as deltas,
        ):
            streams = {"whole": sse_events(whole), "deltas": sse_events(deltas)}
            for name, events in streams.items():
                assert (await anext(events)).event == "snapshot", name
            await edge.pump("bed-1", rate=50.0, volume=2.0)
            for name, events in streams.items():
                got[name] = [(await anext(events)).event]
    assert got == {"whole": ["bed"], "deltas": ["bed_delta"]}
