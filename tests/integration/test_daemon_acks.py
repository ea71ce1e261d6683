"""Acknowledgements that prove their origin, end to end: the daemon (a subprocess) on a real
Mosquitto with a monitor on a pty. Unsigned, forged, tampered, moved, stale and replayed
commands are refused, each counted in ``/metrics`` by reason and written to the audit trail,
and the retained alarm a subscriber sees stays as it was; a nurse's acknowledgement through the
daemon's own dashboard (signed with its key made at start) works, and the retained alarm, the
alarm-log topic and the alarm log file name the nurse and the dashboard."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from edge.alarms.log import AlarmLog
from edge.web.passwords import hash_password
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.acks import ACKNOWLEDGEMENTS, station_ack
from tests.integration.daemon_process import DaemonProcess, running_daemon
from tests.integration.test_daemon_alarms import transitions, vitals
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto, free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

ROOT = "infusion-edge/v1/test-site/#"
OWN_DASHBOARD = "dashboard@test-edge"
PASSWORD = "kim's long password"


def acks_metric(text: str) -> dict[str, float]:
    pattern = r'^infusion_edge_mqtt_acks_total\{result="(\w+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}


def current(subscriber: Subscriber, alarm_id: str) -> dict[str, Any]:
    """The latest retained state of ``alarm_id`` the subscriber saw."""
    payload = subscriber.on(f"/alarms/{alarm_id}")[-1].payload
    parsed: dict[str, Any] = json.loads(payload)
    return parsed


async def refused(edge: DaemonProcess, reason: str, after: int) -> dict[str, Any]:
    return await edge.wait_for(
        lambda e: e.get("logger") == "edge.audit" and e.get("reason") == reason, after=after
    )


async def test_only_a_signed_acknowledgement_changes_the_alarm(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    port = free_port()
    users = [{"name": "nurse.kim", "role": "nurse", "password_hash": hash_password(PASSWORD)}]
    config = write_config(
        tmp_path,
        [textline_device("monitor-1", monitor.path)],
        mosquitto.url,
        http={"port": port, "users": users, "session_secret": "s" * 40},
        acknowledgements=ACKNOWLEDGEMENTS,
    )
    feeder = Feeder(monitor, vitals(166, 96))  # medium hypertension: SBP >= 160
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        feeding(feeder),
        running_daemon(config) as edge,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as web,
        aiomqtt.Client("127.0.0.1", mosquitto.port) as attacker,
    ):
        await subscriber.wait_until(lambda: len(transitions(subscriber)) >= 1)
        alarm_id = transitions(subscriber)[0]["alarm"]["alarm_id"]
        ack_topic = f"infusion-edge/v1/test-site/beds/bed-1/alarms/{alarm_id}/ack"
        await subscriber.wait_until(lambda: bool(subscriber.on(f"/alarms/{alarm_id}")))

        old = datetime.now(UTC) - timedelta(seconds=120)
        attacks = {
            "unsigned": b'{"by": "nurse.ghost"}',
            "unknown_dashboard": station_ack(
                "bed-1", alarm_id, secret="an intruder's own key, long enough", dashboard="evil"
            ),
            "bad_signature": station_ack("bed-1", alarm_id).replace(b"nurse.kim", b"nurse.ghost"),
            "stale": station_ack("bed-1", alarm_id, at=old),
        }
        moved = station_ack("bed-1", alarm_id.replace("hypertension", "spo2_low"))
        for reason, payload in attacks.items():
            mark = len(edge.lines)
            await attacker.publish(ack_topic, payload, qos=1)
            record = await refused(edge, reason, mark)
            assert record["msg"] == "acknowledgement refused"
            assert (record["bed"], record["alarm"]) == ("bed-1", alarm_id)
        mark = len(edge.lines)
        await attacker.publish(ack_topic, moved, qos=1)  # signed for another alarm
        await refused(edge, "bad_signature", mark)
        metrics = acks_metric((await web.get("/metrics")).text)
        assert metrics == {
            "accepted": 0,
            "unsigned": 1,
            "unknown_dashboard": 1,
            "bad_signature": 2,
            "stale": 1,
            "replayed": 0,
            "malformed": 0,
        }
        shown = current(subscriber, alarm_id)
        assert (shown["state"], shown["acknowledged_by"]) == ("active", None)
        assert [t["transition"] for t in transitions(subscriber)] == ["raised"]

        # The nurse acknowledges on the daemon's own dashboard, which signs with its key.
        login = {"name": "nurse.kim", "password": PASSWORD}
        assert (await web.post("/api/login", json=login)).status_code == 200
        for _ in range(100):
            if (await web.get("/api/alarms")).json()["alarms"]:
                break
            await asyncio.sleep(0.1)
        response = await web.post(f"/api/alarms/{alarm_id}/ack", json={})
        assert response.status_code == 202, response.text
        assert response.json()["dashboard"] == OWN_DASHBOARD
        await subscriber.wait_until(lambda: current(subscriber, alarm_id)["state"] != "active")
        shown = current(subscriber, alarm_id)
        assert shown["state"] == "acknowledged"
        assert (shown["acknowledged_by"], shown["acknowledged_via"]) == (
            "nurse.kim",
            OWN_DASHBOARD,
        )
        await subscriber.wait_until(lambda: len(transitions(subscriber)) == 2)
        logged = transitions(subscriber)[-1]
        assert logged["transition"] == "acknowledged"
        assert logged["alarm"]["acknowledged_via"] == OWN_DASHBOARD
        signed = subscriber.on(f"/alarms/{alarm_id}/ack")[-1].payload  # as any listener sees it

        # A higher priority breaks through: unacknowledged again. Replaying the nurse's
        # command, sniffed off the broker, does not acknowledge it a second time.
        feeder.line = vitals(204, 100)
        await subscriber.wait_until(lambda: current(subscriber, alarm_id)["priority"] == "high")
        mark = len(edge.lines)
        await attacker.publish(ack_topic, signed, qos=1)
        await refused(edge, "replayed", mark)
        metrics = acks_metric((await web.get("/metrics")).text)
        assert (metrics["accepted"], metrics["replayed"]) == (1, 1)
        shown = current(subscriber, alarm_id)
        assert (shown["state"], shown["acknowledged_by"]) == ("active", None)
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()

    with AlarmLog(tmp_path / "alarm-log.sqlite") as log:
        history = log.history(alarm_id)
    acknowledged = [e.alarm for e in history if e.transition == "acknowledged"]
    assert [(a.acknowledged_by, a.acknowledged_via) for a in acknowledged] == [
        ("nurse.kim", OWN_DASHBOARD)
    ]
