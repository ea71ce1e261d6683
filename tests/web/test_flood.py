"""Connection floods over a real uvicorn server: idle and slow sockets are closed by the request
deadline and the keep-alive limit, a flood beyond the connection cap pushes out idle sockets
and not the nurse, event streams are capped per client and in total while short requests keep
working, and an open stream is not cut by the request deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.mosquitto import Mosquitto
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import PASSWORDS, eventually, sse_events, web_config
from tests.web.serving import Served, served

pytestmark = pytest.mark.integration

Socket = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _metrics(request: Request) -> Response:
    return PlainTextResponse("up 1\n")


METRICS = [Route("/metrics", _metrics, methods=["GET"])]


@contextlib.asynccontextmanager
async def idle_sockets(port: int, count: int) -> AsyncIterator[list[Socket]]:
    """``count`` connections to ``port`` that never send a byte, closed on exit."""
    sockets: list[Socket] = []
    try:
        for _ in range(count):
            sockets.append(await asyncio.open_connection("127.0.0.1", port))
        yield sockets
    finally:
        for _, writer in sockets:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _, w in sockets), return_exceptions=True)


async def closed_by_server(reader: asyncio.StreamReader, within: float = 10.0) -> bool:
    """Read until the server closes (``True``) or ``within`` seconds pass (``False``)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


@contextlib.asynccontextmanager
async def logged_in(server: Served, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        login = {"name": name, "password": PASSWORDS[name]}
        assert (await client.post("/api/login", json=login)).status_code == 200
        yield client


async def short_requests_work(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/api/me"):
        assert (await client.get(path)).status_code == 200, path


async def test_idle_and_slow_sockets_are_closed_while_a_nurse_is_served(
    mosquitto: Mosquitto,
) -> None:
    alarm = hypertension("bed-1")
    config = web_config(mosquitto.url, request_timeout_s=1.0)
    async with (
        served(config, extra_routes=METRICS) as server,
        fake_edge(mosquitto.port, acks=True) as edge,
        idle_sockets(server.port, 300) as sockets,
    ):
        slow_reader, slow = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            async with asyncio.timeout(20), logged_in(server, "nurse.kim") as nurse:
                await short_requests_work(nurse)
                await edge.alarm(alarm)
                await eventually(lambda: bool(server.dashboard.state.alarms))
                response = await nurse.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
                assert response.status_code == 202, response.text
            sent = 0
            with contextlib.suppress(ConnectionError):
                for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                    slow.write(bytes([byte]))  # one byte every 0.1 s: never done in time
                    await slow.drain()
                    await asyncio.sleep(0.1)
                    sent += 1
            assert sent < 100
            assert await closed_by_server(slow_reader)
        finally:
            slow.close()
            with contextlib.suppress(ConnectionError):
                await slow.wait_closed()
        closed = await asyncio.gather(*(closed_by_server(r) for r, _ in sockets))
    assert all(closed), closed.count(False)


async def test_a_flood_beyond_the_cap_pushes_out_idle_sockets_not_the_nurse(
    mosquitto: Mosquitto,
) -> None:
    config = web_config(mosquitto.url, request_timeout_s=30.0, max_connections=64, max_streams=16)
    async with (
        served(config, extra_routes=METRICS) as server,
        idle_sockets(server.port, 200) as sockets,
    ):
        async with asyncio.timeout(20), logged_in(server, "nurse.kim") as nurse:
            await short_requests_work(nurse)
        closed = await asyncio.gather(*(closed_by_server(r, within=5) for r, _ in sockets))
    assert 200 - 64 <= sum(closed) < 200  # evicted, long before the 30 s request deadline


async def test_streams_beyond_the_caps_are_refused_while_short_requests_work(
    mosquitto: Mosquitto,
) -> None:
    config = web_config(mosquitto.url, max_streams_per_client=2, max_streams=3)
    async with (
        served(config, extra_routes=METRICS) as server,
        logged_in(server, "viewer.lee") as first,
        logged_in(server, "viewer.lee") as second,  # another login: another client
        contextlib.AsyncExitStack() as streams,
    ):
        for _ in range(2):
            response = await streams.enter_async_context(first.stream("GET", "/api/events"))
            assert response.status_code == 200
        refused = await first.get("/api/events")
        assert refused.status_code == 429
        assert refused.json() == {"error": "too many event streams for this client (at most 2)"}
        assert refused.headers["connection"] == "close"
        kept = await streams.enter_async_context(second.stream("GET", "/api/events"))
        assert kept.status_code == 200
        refused = await second.get("/api/events")
        assert refused.status_code == 503
        assert refused.json() == {"error": "too many event streams on this dashboard (at most 3)"}
        await short_requests_work(second)
        async with logged_in(server, "nurse.kim") as nurse:
            await short_requests_work(nurse)
        assert server.dashboard.streams.open == 3
        await kept.aclose()  # a slot comes back when a stream ends
        await eventually(lambda: server.dashboard.streams.open == 2)
        again = await streams.enter_async_context(second.stream("GET", "/api/events"))
        assert again.status_code == 200


async def test_anonymous_viewers_are_counted_by_address(mosquitto: Mosquitto) -> None:
    config = web_config(mosquitto.url, view_requires_login=False, max_streams_per_client=2)
    async with (
        served(config) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as one,
        httpx.AsyncClient(base_url=server.url, timeout=10) as other,
        contextlib.AsyncExitStack() as streams,
    ):
        for client in (one, other):
            response = await streams.enter_async_context(client.stream("GET", "/api/events"))
            assert response.status_code == 200
        assert (await one.get("/api/events")).status_code == 429  # both from 127.0.0.1


async def test_an_idle_keep_alive_connection_is_closed_after_its_limit(
    mosquitto: Mosquitto,
) -> None:
    config = web_config(mosquitto.url, keep_alive_s=1, request_timeout_s=30.0)
    async with served(config) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert b"connection: close" not in head.lower()
            assert await closed_by_server(reader, within=4)  # keep_alive_s, not the deadline
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def test_an_open_stream_outlives_the_request_deadline(mosquitto: Mosquitto) -> None:
    config = web_config(mosquitto.url, request_timeout_s=0.5, stream_heartbeat_s=0.2)
    async with served(config) as server, logged_in(server, "viewer.lee") as client:
        kinds: list[str] = []
        async with asyncio.timeout(15), client.stream("GET", "/api/events") as response:
            async for event in sse_events(response):
                kinds.append(event.event)
                if len(kinds) == 10:  # about 2 s, four request deadlines
                    break
    assert kinds == ["snapshot"] + ["heartbeat"] * 9


def test_streams_must_leave_connections_to_short_requests() -> None:
    with pytest.raises(ValidationError, match="at least 32 of max_connections"):
        web_config("mqtt://127.0.0.1:1883", max_connections=100, max_streams=90)
    assert web_config("mqtt://127.0.0.1:1883", max_connections=100, max_streams=68)
