"""Fixtures of the dashboard tests: the app with its lifespan running against a real broker,
and an HTTP client through the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from edge.web.app import create_app, dashboard_of
from tests.mosquitto import Mosquitto
from tests.web.helpers import Running, eventually, web_config


@pytest.fixture
async def running(mosquitto: Mosquitto) -> AsyncIterator[Running]:
    """The dashboard on the test's broker, subscribed, with a client that is not logged in."""
    app = create_app(web_config(mosquitto.url))
    dashboard = dashboard_of(app)
    assert dashboard is not None
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        await eventually(lambda: dashboard.feed.connected)
        yield Running(app, dashboard, client)
