"""Helpers of the dashboard tests: a config with users, waiting for a condition, reading
Server-Sent Events off a real HTTP stream."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from edge.config import Config
from edge.web.dashboard import Dashboard
from edge.web.passwords import hash_password

__all__ = [
    "ACK_SECRET",
    "DASHBOARD_ID",
    "PASSWORDS",
    "Running",
    "SseEvent",
    "eventually",
    "sse_events",
    "until_ready",
    "web_config",
]

PASSWORDS = {"nurse.kim": "kim's long password", "viewer.lee": "lee's long password"}
SECRET = "s" * 40
ACK_SECRET = "the test dashboard's acknowledgement key"
DASHBOARD_ID = "dashboard@dash-1"  # the default: dashboard@{edge_id}
POLL_S = 0.02


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)


def web_config(mqtt_url: str, **http: Any) -> Config:
    """A dashboard config on the broker at ``mqtt_url`` with a nurse and a viewer, signing
    acknowledgements as :data:`DASHBOARD_ID` with :data:`ACK_SECRET`; no history unless
    ``history`` is given."""
    users = [
        {"name": "nurse.kim", "role": "nurse", "password_hash": _hash(PASSWORDS["nurse.kim"])},
        {"name": "viewer.lee", "role": "viewer", "password_hash": _hash(PASSWORDS["viewer.lee"])},
    ]
    settings = {
        "users": users,
        "session_secret": SECRET,
        "ack_secret": ACK_SECRET,
        "port": 8080,
        "history": {"enabled": False},
        **http,
    }
    return Config(site="dash-site", edge_id="dash-1", mqtt={"url": mqtt_url}, http=settings)


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, polling every 20 ms, until ``condition()`` holds; ``TimeoutError`` after
    ``timeout`` seconds."""
    for _ in range(int(timeout / POLL_S)):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"condition not met within {timeout} s")


async def until_ready(client: httpx.AsyncClient, server: asyncio.Task[None]) -> None:
    """Wait until the dashboard that ``server`` runs answers ``/readyz`` with 200 (10 s at
    most); fail at once if ``server`` ended."""
    for _ in range(200):
        assert not server.done(), server
        with contextlib.suppress(httpx.ConnectError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the dashboard did not become ready")


@dataclass(frozen=True)
class SseEvent:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """The events of an SSE response, as the browser's EventSource parses them."""
    event, event_id, data = "message", None, list[str]()
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield SseEvent(event, event_id, "\n".join(data))
            event, event_id, data = "message", None, []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "id":
            event_id = value
        elif name == "data":
            data.append(value)


@dataclass
class Running:
    app: Starlette
    dashboard: Dashboard
    client: httpx.AsyncClient

    async def login(self, name: str, client: httpx.AsyncClient | None = None) -> httpx.Response:
        return await (client or self.client).post(
            "/api/login", json={"name": name, "password": PASSWORDS[name]}
        )

    def another_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )


def _merged(held: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    merged = dict(held)
    for name, value in delta.items():
        both = isinstance(value, dict) and isinstance(held.get(name), dict)
        merged[name] = _merged(held[name], value) if both else value
    return merged


def merge_bed(held: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``held`` (a whole bed) with a ``bed_delta`` merged in, as the page does it."""
    bed = dict(held)
    for name, value in delta.items():
        if name in ("pumps", "devices"):
            bed[name] = [
                _merged(item, value[item["device_id"]]) if item["device_id"] in value else item
                for item in held[name]
            ]
        elif isinstance(value, dict) and isinstance(held.get(name), dict):
            bed[name] = _merged(held[name], value)
        else:
            bed[name] = value
    return bed
