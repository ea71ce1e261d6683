"""The clinical outputs never stand in the way of alarms: ``infusion-edge run`` with a real
Mosquitto, an HL7 receiver that is not there and a FHIR server that fails, then recovers.
Alarms reach MQTT all along; the FHIR bundles arrive once the server works; the HL7 messages
wait in their queue."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.edge.fhir.server import FhirAnswer, FhirServer, fhir_server
from tests.edge.hl7.receiver import eventually
from tests.edge.publish.broker_client import subscribed
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_alarms import LOG, ROOT, transitions, vitals
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto, free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration


async def test_alarms_flow_while_hl7_is_down_and_fhir_fails_then_fhir_catches_up(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    answer: list[FhirAnswer] = ["error"]
    server = FhirServer(lambda _bundle, _n: answer[0])
    hl7_queue = tmp_path / "hl7.sqlite"
    config = write_config(
        tmp_path,
        [textline_device("monitor-1", monitor.path)],
        mosquitto.url,
        hl7={
            "url": f"mllp://127.0.0.1:{free_port()}",
            "queue_path": str(hl7_queue),
            "observations": "every_reading",
        },
        fhir={
            "base_url": server.url,
            "queue_path": str(tmp_path / "fhir.sqlite"),
            "observations": "every_reading",
            "bearer_token": "t0ken",
            "timeout_s": 2,
        },
    )
    feeder = Feeder(monitor, vitals(122, 78))
    async with (
        fhir_server(server),
        subscribed(mosquitto.port, ROOT) as subscriber,
        feeding(feeder),
        running_daemon(config) as edge,
    ):
        await edge.wait_for(lambda e: e.get("msg") == "reading")
        feeder.line = vitals(166, 96)
        await subscriber.wait_until(lambda: len(transitions(subscriber)) >= 1)
        assert transitions(subscriber)[0]["transition"] == "raised"
        assert subscriber.on(LOG)
        await eventually(lambda: len(server.received) >= 3, 20)
        assert not server.accepted  # failing so far: nothing lost, all kept
        answer[0] = "ok"
        await eventually(
            lambda: any(
                e["resource"].get("category", [{}])[0].get("coding", [{}])[0].get("code") == "alarm"
                for b in server.accepted
                for e in server.bundles[b]["entry"]
            ),
            30,
        )
        for bundle_id in server.accepted[:5]:
            Bundle.model_validate(server.bundles[bundle_id])
        assert set(server.authorization) == {"Bearer t0ken"}
        edge.signal(signal.SIGTERM)
        assert await edge.wait(20) == 0, edge.output()
    with sqlite3.connect(hl7_queue) as db:
        kinds = {row[0] for row in db.execute("SELECT DISTINCT kind FROM queue")}
    assert kinds == {"observation", "alarm"}  # stored, waiting for the HL7 receiver
