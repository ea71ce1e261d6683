"""Serving: ``run_dashboard`` (``infusion-edge dashboard``) serves until SIGTERM and stops
cleanly; a port in use is a plain ``OSError`` before anything starts."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest

from edge.startup import StartupError
from edge.web import listen, run_dashboard
from tests.mosquitto import Mosquitto, free_port
from tests.web.helpers import until_ready, web_config

pytestmark = pytest.mark.integration


async def test_run_dashboard_serves_until_sigterm(mosquitto: Mosquitto) -> None:
    port = free_port()
    config = web_config(mosquitto.url, port=port)
    task = asyncio.create_task(run_dashboard(config), name="dashboard")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        await until_ready(client, task)
        assert (await client.get("/")).status_code == 200
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(10):
        await task
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_a_port_in_use_is_refused_before_serving(mosquitto: Mosquitto) -> None:
    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"127.0.0.1:{port} is already in use; change"):
            await run_dashboard(web_config(mosquitto.url, port=port))
    finally:
        taken.close()
