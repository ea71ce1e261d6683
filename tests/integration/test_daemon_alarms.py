"""Alarms end to end: a monitor on a pty, the daemon, a real Mosquitto, a nurse's signed ack over
MQTT, and a restart in the middle that neither forgets the alarm nor raises it twice."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from drivers.textline.codec import encode_vitals
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.acks import ACKNOWLEDGEMENTS, STATION, station_ack
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

ROOT = "infusion-edge/v1/test-site/#"
LOG = "infusion-edge/v1/test-site/alarm-log"


def vitals(sbp: float, dbp: float) -> bytes:
    return encode_vitals({"SBP": sbp, "DBP": dbp, "HR": 80, "SPO2": 97, "RR": 14}).to_bytes()


def transitions(subscriber: Subscriber, rule: str = "hypertension") -> list[dict[str, Any]]:
    entries = [m.json() for m in subscriber.messages if m.topic == LOG]
    return [e for e in entries if e["alarm"]["rule"] == rule]


async def test_hypertension_is_raised_survives_a_restart_and_is_acknowledged_by_a_nurse(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    config = write_config(
        tmp_path,
        [textline_device("monitor-1", monitor.path)],
        mosquitto.url,
        acknowledgements=ACKNOWLEDGEMENTS,
    )
    feeder = Feeder(monitor, vitals(122, 78))
    async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(feeder):
        async with running_daemon(config) as edge:
            await edge.wait_for(lambda e: e.get("msg") == "reading")
            feeder.line = vitals(166, 96)  # medium: SBP >= 160
            await subscriber.wait_until(lambda: len(transitions(subscriber)) >= 1)
            raised = transitions(subscriber)[0]
            assert raised["transition"] == "raised"
            assert raised["alarm"]["priority"] == "medium"
            assert raised["alarm"]["kind"] == "physiological"
            assert raised["schema"] == "infusion-edge.alarm-log/1"
            alarm_id = raised["alarm"]["alarm_id"]
            await subscriber.wait_until(
                lambda: bool(subscriber.on(f"/beds/bed-1/alarms/{alarm_id}"))
            )
            current = subscriber.on(f"/beds/bed-1/alarms/{alarm_id}")[0]
            assert current.json()["state"] == "active"
            assert current.json()["schema"] == "infusion-edge.alarm/1"
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()

        async with running_daemon(config) as edge:  # restored from the alarm log, not raised again
            await edge.wait_for(lambda e: e.get("msg") == "alarms restored from the alarm log")
            feeder.line = vitals(204, 100)  # high at once: SBP >= 200
            await subscriber.wait_until(
                lambda: any(t["alarm"]["priority"] == "high" for t in transitions(subscriber))
            )
            assert [t["transition"] for t in transitions(subscriber)][:2] == [
                "raised",
                "priority_raised",
            ]
            assert {t["alarm"]["alarm_id"] for t in transitions(subscriber)} == {alarm_id}

            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as dashboard:
                await dashboard.publish(
                    f"infusion-edge/v1/test-site/beds/bed-1/alarms/{alarm_id}/ack",
                    station_ack("bed-1", alarm_id),
                    qos=1,
                )
            await subscriber.wait_until(
                lambda: any(t["transition"] == "acknowledged" for t in transitions(subscriber))
            )
            acknowledged = next(
                t for t in transitions(subscriber) if t["transition"] == "acknowledged"
            )
            assert acknowledged["alarm"]["acknowledged_by"] == "nurse.kim"
            assert acknowledged["alarm"]["acknowledged_via"] == STATION
            assert acknowledged["alarm"]["state"] == "acknowledged"

            feeder.line = vitals(128, 80)  # back below 170/105 and 150/95: the alarm ends
            await subscriber.wait_until(
                lambda: any(t["transition"] == "ended" for t in transitions(subscriber)), 20
            )
            await subscriber.wait_until(
                lambda: subscriber.on(f"/alarms/{alarm_id}")[-1].payload == b""
            )
            assert subscriber.on(f"/alarms/{alarm_id}")[-2].json()["state"] == "ended"
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
