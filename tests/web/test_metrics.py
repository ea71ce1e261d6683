"""The dashboard's own metrics on ``/metrics`` of ``infusion-edge dashboard``
(:func:`edge.web.run_dashboard`) with a real Mosquitto and an edge publishing to it: what it
shows, the invalid messages it refused, logins by result, event streams open and refused, and
whether it hears the broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.web import run_dashboard
from edge.web.metrics import DASHBOARD_METRICS
from tests.mosquitto import Mosquitto, free_port
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import PASSWORDS, until_ready, web_config

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Every sample on ``/metrics``, by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(f"infusion_edge_{name}", tuple(sorted(labels.items())))]


async def until(client: httpx.AsyncClient, check: object, limit_s: float = 10.0) -> Samples:
    """Scrape every 0.1 s until ``check(samples)`` holds; the samples then."""
    assert callable(check)
    async with asyncio.timeout(limit_s):
        while True:
            samples = await scrape(client)
            if check(samples):
                return samples
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def dashboard_alone(mosquitto: Mosquitto) -> AsyncIterator[httpx.AsyncClient]:
    """``infusion-edge dashboard`` on a free port (one event stream per login), and a client."""
    port = free_port()
    config = web_config(mosquitto.url, port=port, max_streams_per_client=1)
    task = asyncio.create_task(run_dashboard(config), name="dashboard")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await until_ready(client, task)
            yield client
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(10):
            await task


async def test_the_dashboard_alone_reports_what_it_shows_and_who_tried_to_log_in(
    mosquitto: Mosquitto,
) -> None:
    async with dashboard_alone(mosquitto) as client:
        first = await scrape(client)
        names = {name for name, _ in first}
        for spec in DASHBOARD_METRICS:  # every series from the start
            suffix = "_total" if spec.kind == "counter" else ""
            assert f"infusion_edge_{spec.name}{suffix}" in names
        assert value(first, "dashboard_broker_connected") == 1
        assert value(first, "dashboard_beds") == 0

        async with fake_edge(mosquitto.port) as edge:
            await edge.device_state("bed-1", "monitor-1", "online")
            await edge.vitals("bed-1", 124, 80)
            await edge.alarm(hypertension("bed-1"))
            topic = edge.topics.telemetry("bed-1", "monitor-1")
            await edge.client.publish(topic, b'{"not": "telemetry"}', qos=1)
            shown = await until(
                client,
                lambda s: (
                    value(s, "dashboard_beds") == 1
                    and value(s, "dashboard_messages_total", result="rejected") == 1
                ),
            )
        assert value(shown, "dashboard_edges", state="online") == 1
        assert value(shown, "dashboard_alarms", priority="high") == 1
        assert value(shown, "dashboard_alarms", priority="medium") == 0
        assert value(shown, "dashboard_messages_total", result="taken") >= 4

        wrong = await client.post("/api/login", json={"name": "nurse.kim", "password": "no"})
        assert wrong.status_code == 401
        right = await client.post(
            "/api/login", json={"name": "nurse.kim", "password": PASSWORDS["nurse.kim"]}
        )
        assert right.status_code == 200
        async with client.stream("GET", "/api/events") as stream:
            assert stream.status_code == 200
            refused = await client.get("/api/events")  # the same login: over its cap of 1
            assert refused.status_code == 429
            live = await scrape(client)
        assert value(live, "dashboard_logins_total", result="failed") == 1
        assert value(live, "dashboard_logins_total", result="accepted") == 1
        assert value(live, "dashboard_logins_total", result="locked") == 0
        assert value(live, "dashboard_streams") == 1
        assert value(live, "dashboard_streams_refused_total", status="429") == 1
        assert value(live, "dashboard_streams_refused_total", status="503") == 0
        after = await until(client, lambda s: value(s, "dashboard_streams") == 0)
        assert value(after, "dashboard_streams_refused_total", status="429") == 1

        mosquitto.stop()  # the broker goes away: the nurses' pages would show no live data
        await until(client, lambda s: value(s, "dashboard_broker_connected") == 0, 30)
        mosquitto.start()
        await until(client, lambda s: value(s, "dashboard_broker_connected") == 1, 30)
