"""HL7 end to end: ``infusion-edge run`` reads a monitor and a pump on real ptys and sends
PCD-01 and PCD-04 over MLLP to a receiver on 127.0.0.1; the receiver goes away, the daemon
stops with messages unsent, and a new run delivers them (stored before sent)."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.edge.hl7.receiver import Receiver, eventually
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_alarms import vitals
from tests.integration.test_daemon_pty import (
    Feeder,
    feeding,
    pump_line,
    textline_device,
    write_config,
)
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

VISIT = "V0042"


def _types(receiver: Receiver) -> list[str]:
    return [str(receiver.messages[c].segment("MSH")[9]) for c in receiver.accepted()]


def _is_pump(receiver: Receiver, control_id: str) -> bool:
    return "MDC_DEV_PUMP_INFUS_MDS" in str(receiver.messages[control_id]["OBX"][0][3])


async def test_daemon_sends_pcd01_and_pcd04_and_keeps_what_it_could_not_send(
    tmp_path: Path, monitor: PtyDevice, pump: PtyDevice
) -> None:
    receiver = Receiver()
    await receiver.start()
    queue_path = tmp_path / "hl7-queue.sqlite"
    config = write_config(
        tmp_path,
        [
            textline_device("monitor-1", monitor.path, eui64="00112233445566FF"),
            textline_device("pump-1", pump.path),
        ],
        beds={"bed-1": {"visit_number": VISIT}},
        hl7={
            "url": receiver.url,
            "observations": "every_reading",
            "queue_path": str(queue_path),
            "ack_timeout_s": 2,
        },
    )
    feeders = Feeder(monitor, vitals(122, 78)), Feeder(pump, pump_line(3.0), period=0.5)
    try:
        async with feeding(*feeders), running_daemon(config) as edge:
            await eventually(lambda: "ORU^R01^ORU_R01" in _types(receiver), 20)
            await eventually(lambda: any(_is_pump(receiver, c) for c in receiver.accepted()), 20)
            feeders[0].line = vitals(166, 96)  # hypertension, medium
            await eventually(lambda: "ORU^R40^ORU_R40" in _types(receiver), 20)
            alarm = next(
                receiver.messages[c]
                for c in receiver.accepted()
                if str(receiver.messages[c].segment("MSH")[9]) == "ORU^R40^ORU_R40"
            )
            assert str(alarm["OBX"][0][3]) == "196648^MDC_EVT_HI^MDC"
            phases = {str(s[3][0][1]): str(s[5]) for s in alarm["OBX"]}
            assert phases["MDC_ATTR_EVENT_PHASE"] == "start"
            assert phases["MDC_ATTR_ALARM_PRIORITY"] == "PM"
            assert str(alarm.segment("PV1")[3]) == "^^bed-1"
            assert str(alarm.segment("PID")[3]).startswith(VISIT)
            observations = [
                receiver.messages[c]
                for c in receiver.accepted()
                if str(receiver.messages[c].segment("MSH")[9]) == "ORU^R01^ORU_R01"
            ]
            monitor_rows = [m for m in observations if "MDC_DEV_MON" in str(m["OBX"][0][3])]
            assert str(monitor_rows[0]["OBX"][0][18]).startswith("00112233445566FF")
            codes = {str(s[3][0][1]) for s in monitor_rows[-1]["OBX"]}
            assert {"MDC_PRESS_BLD_NONINV_SYS", "MDC_ECG_HEART_RATE"} <= codes
            pumped = [m for m in observations if "MDC_DEV_PUMP_INFUS_MDS" in str(m["OBX"][0][3])]
            assert {str(s[3][0][1]) for s in pumped[-1]["OBX"]} >= {
                "MDC_FLOW_FLUID_PUMP",
                "MDC_DRUG_NAME_TYPE",
            }
            # the receiver goes away; readings go on into the queue
            await receiver.stop()
            sent = len(receiver.accepted())
            await edge.wait_for(lambda e: e.get("msg") == "HL7 receiver unreachable", 20)
            await edge.wait_for(lambda e: e.get("msg") == "reading", after=len(edge.lines))
            edge.signal(signal.SIGTERM)
            assert await edge.wait(20) == 0, edge.output()
            assert all(VISIT not in line for line in edge.raw)  # never in a log line
        with sqlite3.connect(queue_path) as db:
            rows = db.execute("SELECT control_id FROM queue ORDER BY id").fetchall()
        waiting = [row[0] for row in rows]
        assert waiting
        # a new run, the receiver back: everything stored is delivered, in order
        await receiver.start()
        async with running_daemon(config) as edge:
            await eventually(lambda: len(receiver.accepted()) >= sent + len(waiting), 30)
            edge.signal(signal.SIGTERM)
            assert await edge.wait(20) == 0, edge.output()
        assert receiver.accepted()[sent : sent + len(waiting)] == waiting
    finally:
        await receiver.stop()


async def test_a_new_visit_number_reaches_the_next_messages_by_a_reload_without_a_restart(
    tmp_path: Path, monitor: PtyDevice
) -> None:
    receiver = Receiver()
    await receiver.start()
    config = write_config(
        tmp_path,
        [textline_device("monitor-1", monitor.path)],
        beds={"bed-1": {"visit_number": VISIT}},
        hl7={
            "url": receiver.url,
            "observations": "every_reading",
            "queue_path": str(tmp_path / "hl7-queue.sqlite"),
        },
    )
    try:
        async with feeding(Feeder(monitor, vitals(122, 78))), running_daemon(config) as edge:
            await eventually(lambda: len(receiver.accepted()) >= 2, 20)
            settings = yaml.safe_load(config.read_text())
            settings["beds"]["bed-1"]["visit_number"] = "V0043"  # the next patient in the chair
            config.write_text(yaml.safe_dump(settings))
            edge.signal(signal.SIGHUP)
            reloaded = await edge.wait_for(lambda e: e.get("msg") == "config reloaded", 20)
            assert "visit number changed: bed-1" in reloaded["changes"]
            before = len(receiver.accepted())
            await eventually(lambda: len(receiver.accepted()) >= before + 3, 20)
            visits = [str(receiver.messages[c].segment("PID")[3]) for c in receiver.accepted()]
            # one in flight at the reload may carry either number; then only the new one
            assert visits[0].startswith(VISIT)
            assert all(v.startswith("V0043") for v in visits[before + 1 :])
            edge.signal(signal.SIGTERM)
            assert await edge.wait(20) == 0, edge.output()
            assert all(VISIT not in line and "V0043" not in line for line in edge.raw)
    finally:
        await receiver.stop()
