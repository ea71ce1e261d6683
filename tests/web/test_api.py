"""The JSON API through the ASGI app, with the dashboard subscribed to a real broker and a
simulated edge publishing the contract's payloads."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mosquitto import Mosquitto
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import Running, eventually

pytestmark = pytest.mark.integration


async def test_health_and_readiness(running: Running) -> None:
    assert (await running.client.get("/healthz")).json() == {"status": "ok"}
    ready = await running.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"dashboard_broker": True}}


async def test_beds_and_alarms_come_from_the_broker(running: Running, mosquitto: Mosquitto) -> None:
    await running.login("viewer.lee")
    alarm = hypertension("bed-1", sbp=204)
    async with fake_edge(mosquitto.port) as edge:
        await edge.session("bed-1")
        await edge.device_state("bed-1", "monitor-1", "online")
        await edge.vitals("bed-1", 204, 100)
        await edge.pump("bed-1", rate=52.5, volume=12.3)
        await edge.alarm(alarm)
        await eventually(lambda: bool(running.dashboard.state.alarms))
        await eventually(lambda: "pump-1" in running.dashboard.state.beds["test-site/bed-1"].pumps)

    beds = (await running.client.get("/api/beds")).json()
    [bed] = beds["beds"]
    assert bed["key"] == "test-site/bed-1"
    assert bed["edge_id"] == "edge-a"
    assert bed["vitals"]["sbp"]["value"] == 204
    assert bed["vitals"]["sbp"]["unit"] == "mm[Hg]"
    assert bed["vitals"]["hr"]["value"] == 84
    assert bed["session"]["phase"] == "infusion"
    [pump] = bed["pumps"]
    assert pump["drug"] == "Ketamine"
    assert pump["values"]["rate"]["value"] == 52.5
    assert [d["connection"] for d in bed["devices"]] == ["online", None]
    assert beds["edges"][0]["edge_id"] == "edge-a"

    [shown] = (await running.client.get("/api/alarms")).json()["alarms"]
    assert shown["alarm_id"] == alarm.alarm_id
    assert shown["site"] == "test-site"
    assert shown["priority"] == "high"
    assert shown["state"] == "active"


async def test_alarms_are_ordered_by_priority_then_newest_first(
    running: Running, mosquitto: Mosquitto
) -> None:
    await running.login("viewer.lee")
    low = hypertension("bed-1", priority="low")
    medium_old = hypertension("bed-2", priority="medium")
    high = hypertension("bed-3", priority="high")
    medium_new = hypertension("bed-4", priority="medium")
    async with fake_edge(mosquitto.port) as edge:
        for alarm in (low, medium_old, high, medium_new):
            await edge.alarm(alarm)
        await eventually(lambda: len(running.dashboard.state.alarms) == 4)
    alarms = (await running.client.get("/api/alarms")).json()["alarms"]
    expected = [high, medium_new, medium_old, low]
    assert [a["alarm_id"] for a in alarms] == [a.alarm_id for a in expected]


async def test_an_ended_alarm_leaves_the_list(running: Running, mosquitto: Mosquitto) -> None:
    await running.login("nurse.kim")
    alarm = hypertension("bed-1")
    async with fake_edge(mosquitto.port) as edge:
        await edge.alarm(alarm)
        await eventually(lambda: bool(running.dashboard.state.alarms))
        await edge.end_alarm(alarm)
        await eventually(lambda: not running.dashboard.state.alarms)
    assert (await running.client.get("/api/alarms")).json()["alarms"] == []


async def test_looking_needs_a_login(running: Running) -> None:
    for path in ("/api/beds", "/api/alarms", "/api/events"):
        response = await running.client.get(path)
        assert response.status_code == 401, path
        assert response.json() == {"error": "log in to see the dashboard"}


async def test_the_page_says_it_is_a_secondary_display(running: Running) -> None:
    page = await running.client.get("/")
    assert page.status_code == 200
    assert "Secondary display" in page.text
    assert "the bedside device remains the primary alarm" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/app.css"):
        assert (await running.client.get(asset)).status_code == 200


async def test_extra_routes_and_ready_checks(mosquitto: Mosquitto) -> None:
    import httpx
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from edge.web.app import create_app
    from tests.web.helpers import web_config

    async def metrics(request: Request) -> PlainTextResponse:
        return PlainTextResponse("infusion_edge_up 1\n")

    app = create_app(
        web_config(mosquitto.url),
        extra_routes=[Route("/metrics", metrics)],
        ready_checks={"devices": lambda: False},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/metrics")).text == "infusion_edge_up 1\n"
        ready = await client.get("/readyz")  # lifespan not running: the feed is not connected
        assert ready.status_code == 503
        checks: dict[str, Any] = ready.json()["checks"]
        assert checks == {"dashboard_broker": False, "devices": False}
