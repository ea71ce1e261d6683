"""The dashboard served by uvicorn on a loopback port inside the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute

from edge.config import Config
from edge.web.app import create_app, dashboard_of
from edge.web.dashboard import Dashboard
from edge.web.server import listen, serve
from tests.web.helpers import eventually

__all__ = ["Served", "served"]


@dataclass
class Served:
    url: str
    port: int
    dashboard: Dashboard


@contextlib.asynccontextmanager
async def served(
    config: Config, port: int = 0, extra_routes: Sequence[BaseRoute] = ()
) -> AsyncIterator[Served]:
    """The dashboard of ``config`` on 127.0.0.1:``port`` (0: a free one), subscribed, with
    ``extra_routes`` beside its own."""
    sock = listen("127.0.0.1", port)
    port = sock.getsockname()[1]
    app = create_app(config, extra_routes=extra_routes)
    dashboard = dashboard_of(app)
    assert dashboard is not None
    task = asyncio.create_task(serve(config, app, sock=sock), name="test-dashboard")
    try:
        await eventually(lambda: dashboard.feed.connected)
        yield Served(f"http://127.0.0.1:{port}", port, dashboard)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
