"""Acknowledgement: a nurse's POST goes over MQTT, signed with the dashboard's key, to the edge
that owns the alarm, whose new state comes back to every page; a viewer, a stranger, a lost
broker and a dashboard without a key are refused, and every attempt is audited."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from edge.web.app import create_app, dashboard_of
from edge.web.auth import NO_ACK_KEY
from tests.mosquitto import Mosquitto
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import DASHBOARD_ID, Running, eventually, web_config

pytestmark = pytest.mark.integration

AUDIT = "edge.web.audit"


def audited(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == AUDIT and r.getMessage() == message]


async def test_a_nurse_acknowledges_over_mqtt_and_the_edge_answers(
    running: Running, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    alarm = hypertension("bed-1")
    await running.login("nurse.kim")
    async with fake_edge(mosquitto.port, acks=True) as edge:
        await edge.alarm(alarm)
        await eventually(lambda: bool(running.dashboard.state.alarms))
        response = await running.client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
        assert response.status_code == 202, response.text
        assert response.json()["by"] == "nurse.kim"
        await eventually(
            lambda: running.dashboard.state.sorted_alarms()[0]["state"] == "acknowledged"
        )
        [command] = edge.acks
        assert command.by == "nurse.kim"
        assert command.dashboard == DASHBOARD_ID
        assert edge.refused == []
        shown = (await running.client.get("/api/alarms")).json()["alarms"][0]
        assert shown["acknowledged_by"] == "nurse.kim"
        assert shown["acknowledged_via"] == DASHBOARD_ID
        again = await running.client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
        assert again.json()["status"] == "already acknowledged"
        assert len(edge.acks) == 1
    [record] = audited(caplog, "alarm acknowledged")
    assert (record.user, record.bed, record.alarm) == (  # type: ignore[attr-defined]
        "nurse.kim",
        "bed-1",
        alarm.alarm_id,
    )


async def test_refused_acknowledgements_are_audited(
    running: Running, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    alarm = hypertension("bed-1")
    async with fake_edge(mosquitto.port, acks=True) as edge:
        await edge.alarm(alarm)
        await eventually(lambda: bool(running.dashboard.state.alarms))
        path = f"/api/alarms/{alarm.alarm_id}/ack"
        assert (await running.client.post(path, json={})).status_code == 401
        await running.login("viewer.lee")
        assert (await running.client.post(path, json={})).status_code == 403
        await running.login("nurse.kim")
        assert (await running.client.post("/api/alarms/nope/ack", json={})).status_code == 404
        assert (await running.client.post(path, content=b"{}")).status_code == 415
        assert edge.acks == []
    reasons = [r.reason for r in audited(caplog, "acknowledgement refused")]  # type: ignore[attr-defined]
    assert reasons == [
        "log in to acknowledge",
        "a viewer may not acknowledge alarms",
        "no such alarm is shown (it may have ended)",
        "send application/json",
    ]


async def test_an_alarm_id_in_two_sites_needs_the_site(
    running: Running, mosquitto: Mosquitto
) -> None:
    alarm = hypertension("bed-1")
    await running.login("nurse.kim")
    async with (
        fake_edge(mosquitto.port, "north", "edge-n", acks=True) as north,
        fake_edge(mosquitto.port, "south", "edge-s", acks=True) as south,
    ):
        await north.alarm(alarm)
        await south.alarm(alarm)
        await eventually(lambda: len(running.dashboard.state.alarms) == 2)
        path = f"/api/alarms/{alarm.alarm_id}/ack"
        assert (await running.client.post(path, json={})).status_code == 409
        assert (await running.client.post(path, json={"site": "south"})).status_code == 202
        await eventually(lambda: len(south.acks) == 1)
        assert north.acks == []


async def test_without_the_broker_the_nurse_is_told_to_acknowledge_at_the_bedside(
    running: Running, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    alarm = hypertension("bed-1")
    await running.login("nurse.kim")
    async with fake_edge(mosquitto.port) as edge:
        await edge.alarm(alarm)
        await eventually(lambda: bool(running.dashboard.state.alarms))
    mosquitto.stop()
    await eventually(lambda: not running.dashboard.feed.connected)
    assert (await running.client.get("/readyz")).status_code == 503
    response = await running.client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
    assert response.status_code == 503
    assert "acknowledge at the bedside" in response.json()["error"]
    assert audited(caplog, "acknowledgement refused")
    mosquitto.start()
    await eventually(lambda: running.dashboard.feed.connected, timeout=20)


async def test_a_dashboard_without_a_key_cannot_acknowledge_and_says_why(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    app = create_app(web_config(mosquitto.url, ack_secret=None))
    dashboard = dashboard_of(app)
    assert dashboard is not None
    alarm = hypertension("bed-1")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
        fake_edge(mosquitto.port, acks=True) as edge,
    ):
        running = Running(app, dashboard, client)
        await eventually(lambda: dashboard.feed.connected)
        me = (await running.login("nurse.kim")).json()
        assert (me["can_acknowledge"], me["cannot_acknowledge_because"]) == (False, NO_ACK_KEY)
        await edge.alarm(alarm)
        await eventually(lambda: bool(dashboard.state.alarms))
        response = await client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
        assert response.status_code == 503
        assert response.json() == {"error": NO_ACK_KEY}
        await asyncio.sleep(0.3)
        assert edge.acks == []
        assert edge.refused == []
    [refused] = audited(caplog, "acknowledgement refused")
    assert refused.reason == NO_ACK_KEY  # type: ignore[attr-defined]
