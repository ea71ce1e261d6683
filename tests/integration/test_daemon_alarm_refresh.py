"""Alarm state heals itself, end to end: the daemon as a subprocess reading a monitor on a pty,
a real Mosquitto, its own dashboard's ``/api/alarms``. An attacker's empty retained message
erases an active alarm (or the bed's treatment session, or the edge's config in force) from
nobody's dashboard and from the broker only until the next refresh; after a restart on the
same alarm log every open alarm, and the bed's session, is published again."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import yaml

from drivers.textline.codec import encode_vitals
from edge.publish.connection import read_disconnect_reason
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto, free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

SITE = "infusion-edge/v1/test-site"
LOG = f"{SITE}/alarm-log"
DIGEST = f"{SITE}/edges/test-edge/alarms"
SESSION = f"{SITE}/beds/bed-1/session"
REFRESH_S = 2.0
SLACK_S = 4.0


def vitals(sbp: float, dbp: float) -> bytes:
    return encode_vitals({"SBP": sbp, "DBP": dbp, "HR": 80, "SPO2": 97, "RR": 14}).to_bytes()


def healing_config(directory: Path, monitor: PtyDevice, mqtt_url: str, http_port: int) -> Path:
    """The daemon with its dashboard open to look at, refreshing alarms every 2 s."""
    path = write_config(directory, [textline_device("monitor-1", monitor.path, timeout_s=2)])
    config = yaml.safe_load(path.read_text())
    config["mqtt"] = {"url": mqtt_url, "alarm_refresh_s": REFRESH_S}
    config["http"] = {"enabled": True, "port": http_port, "view_requires_login": False}
    path.write_text(yaml.safe_dump(config))
    return path


def raised(subscriber: Subscriber, rule: str) -> str:
    """The id of the first ``rule`` alarm raised on the alarm log, or ``""``."""
    for message in subscriber.messages:
        if message.topic == LOG and message.json()["transition"] == "raised":
            alarm = message.json()["alarm"]
            if alarm["rule"] == rule:
                return str(alarm["alarm_id"])
    return ""


async def shown(http: httpx.AsyncClient) -> set[str]:
    """The alarm ids on the dashboard's ``/api/alarms``."""
    response = await http.get("/api/alarms")
    assert response.status_code == 200, response.text
    return {alarm["alarm_id"] for alarm in response.json()["alarms"]}


async def eventually_shown(http: httpx.AsyncClient, ids: set[str], timeout: float) -> None:
    """Wait until every one of ``ids`` is on ``/api/alarms``, polling every 0.1 s."""
    for _ in range(int(timeout / 0.1)):
        if ids <= await shown(http):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not all of {sorted(ids)} shown within {timeout} s")


async def retained(port: int, settle_s: float = 1.0) -> dict[str, Any]:
    """What the broker retains under the site now, as a new subscriber gets it (JSON)."""
    found: dict[str, Any] = {}
    client = aiomqtt.Client("127.0.0.1", port, identifier=f"reader-{uuid.uuid4().hex[:8]}")
    try:
        async with client:
            await client.subscribe(f"{SITE}/#", qos=1)
            try:
                async with asyncio.timeout(settle_s):
                    async for message in client.messages:
                        if message.retain and isinstance(message.payload, bytes):
                            found[str(message.topic)] = message.payload
            except TimeoutError:
                pass
    finally:
        read_disconnect_reason(client)
    return {topic: json.loads(payload) for topic, payload in found.items() if payload}


async def test_an_erased_alarm_stays_on_the_dashboard_and_is_back_on_the_broker_in_time(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    http_port = free_port()
    config = healing_config(tmp_path, monitor, mosquitto.url, http_port)
    feeder = Feeder(monitor, vitals(204, 100))  # high hypertension, all along
    url = f"http://127.0.0.1:{http_port}"
    async with (
        subscribed(mosquitto.port, f"{SITE}/#") as subscriber,
        feeding(feeder),
        running_daemon(config) as edge,
        httpx.AsyncClient(base_url=url, timeout=5) as http,
    ):
        await subscriber.wait_until(lambda: bool(raised(subscriber, "hypertension")))
        alarm_id = raised(subscriber, "hypertension")
        topic = f"{SITE}/beds/bed-1/alarms/{alarm_id}"
        session_topic = SESSION  # the first cuff started one
        await subscriber.wait_until(lambda: bool(subscriber.on(session_topic)))
        await edge.wait_for(lambda line: "dashboard and /metrics listening" in line["msg"])
        await eventually_shown(http, {alarm_id}, 15)

        config_topic = f"{SITE}/edges/test-edge/config"
        await subscriber.wait_until(lambda: bool(subscriber.on(config_topic)))
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="attacker") as rogue:
            await rogue.publish(topic, b"", qos=1, retain=True)
            await rogue.publish(session_topic, b"", qos=1, retain=True)
            await rogue.publish(config_topic, b"", qos=1, retain=True)
        await subscriber.wait_until(lambda: any(m.payload == b"" for m in subscriber.on(topic)))
        erased_at = next(i for i, m in enumerate(subscriber.messages) if m.payload == b"")

        loop = asyncio.get_running_loop()
        deadline = loop.time() + REFRESH_S + SLACK_S
        while loop.time() < deadline:  # never gone from the dashboard
            assert alarm_id in await shown(http)
            await asyncio.sleep(0.1)
        back = [m for m in subscriber.messages[erased_at:] if m.topic == topic and m.payload]
        assert back, "the alarm was not republished within the refresh interval"
        assert back[0].json()["state"] == "active"
        now = await retained(mosquitto.port)
        assert now[topic]["state"] == "active"
        assert [a["alarm_id"] for a in now[DIGEST]["open"]] == [alarm_id]
        assert now[session_topic]["phase"] == "baseline"
        first = subscriber.on(session_topic)[0].json()
        assert now[session_topic]["ts"] == first["ts"]  # the change's time, not the refresh's
        loaded = subscriber.on(config_topic)[0].json()
        assert now[config_topic]["config_hash"] == loaded["config_hash"]  # the limits in force
        assert now[config_topic]["loaded_at"] == loaded["loaded_at"]
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()


async def test_after_a_restart_every_restored_alarm_is_published_again(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    http_port = free_port()
    config = healing_config(tmp_path, monitor, mosquitto.url, http_port)
    feeder = Feeder(monitor, vitals(204, 100))
    async with (
        subscribed(mosquitto.port, f"{SITE}/#") as subscriber,
        running_daemon(config) as edge,
    ):
        async with feeding(feeder):  # high hypertension (latching) ...
            await subscriber.wait_until(lambda: bool(raised(subscriber, "hypertension")))
            await subscriber.wait_until(lambda: bool(subscriber.on(SESSION)))  # the first cuff
        # ... then silence: the monitor goes offline (2 s)
        await subscriber.wait_until(lambda: bool(raised(subscriber, "device_offline")))
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()
    ids = {raised(subscriber, "hypertension"), raised(subscriber, "device_offline")}
    session_ts = subscriber.on(SESSION)[-1].json()["ts"]
    # The broker loses what it retained (a new broker, a wiped disk).
    mosquitto.stop()
    (mosquitto.directory / "mosquitto.db").unlink(missing_ok=True)
    mosquitto.start()
    assert not any("/alarms/" in topic for topic in await retained(mosquitto.port, 0.5))

    async with (
        running_daemon(config) as edge,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as http,
    ):
        await edge.wait_for(lambda line: line["msg"] == "alarms restored from the alarm log")
        await edge.wait_for(lambda line: "dashboard and /metrics listening" in line["msg"])
        await eventually_shown(http, ids, 15)
        now = await retained(mosquitto.port)
        for alarm_id in ids:
            assert now[f"{SITE}/beds/bed-1/alarms/{alarm_id}"]["state"] == "active"
        assert {a["alarm_id"] for a in now[DIGEST]["open"]} == ids
        assert now[SESSION]["phase"] == "baseline"
        assert now[SESSION]["ts"] == session_ts  # its change's time, restored from the log
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()
