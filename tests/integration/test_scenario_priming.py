"""The rise over the session's baseline near infusion minute 35, black-box in real time.

The rise-over-baseline scenario's cuff at minute 39 (about 151/87 on a baseline of about
106/66) is +40 systolic over the baseline and under every absolute limit: only a daemon that
knows the session's baseline raises ``hypertension`` for it. The simulators (IntelliVue
monitor and B. Braun rack over TCP, ``infusion-edge simulate --start-min 38.4``) start 36 s
before that cuff; minutes 0..38.4 are primed into the daemon's alarm log in virtual time
(``tests.scenario_priming``: the same scenario through the real drivers into a real engine);
``infusion-edge run`` restores the session from it, as after a restart, and then sees the cuff
in real time, with a real Mosquitto and a subscriber. The nurse then acknowledges the alarm
as a dashboard does (a signed command on the ack topic).
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from drivers.sim.scenario import load_scenario
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.acks import ACKNOWLEDGEMENTS, STATION, station_ack
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import write_config
from tests.integration.test_simulators import REPO, finish, first_line, start_simulate
from tests.mosquitto import Mosquitto
from tests.scenario_priming import prime_alarm_log, wall_of_minute_zero

pytestmark = pytest.mark.integration

SCENARIO = REPO / "config" / "scenarios" / "rise-over-baseline.yaml"
ROOT = "infusion-edge/v1/test-site/#"
LOG = "infusion-edge/v1/test-site/alarm-log"
START_MIN = 38.4  # 36 s before the cuff at minute 39
RISE_CUFF_MIN = 39.0
RISE_CUFF_S = (RISE_CUFF_MIN - START_MIN) * 60  # real s from the simulators' start: 36
LATENCY_S = 10.0  # the cuff shows in the next 1 s poll; engine, outbox, broker; load
ORDER = {
    "drug": "Ketamine",
    "concentration_mg_per_ml": 1.0,
    "dose_mg_per_kg": 0.5,
    "weight_kg": 70,
    "duration_min": 40,
}


def hypertension(subscriber: Subscriber) -> list[dict[str, Any]]:
    entries = [m.json() for m in subscriber.messages if m.topic == LOG]
    return [e for e in entries if e["alarm"]["rule"] == "hypertension"]


async def start(driver: str) -> tuple[Any, str]:
    simulator = await start_simulate(
        "--driver", driver, "--scenario", str(SCENARIO), "--tcp", "0",
        "--start-min", str(START_MIN),
    )  # fmt: skip
    return simulator, await first_line(simulator)


@pytest.mark.timeout(120)
async def test_a_primed_baseline_raises_the_rise_over_baseline_in_real_time(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    started = datetime.now(UTC)
    monitor, monitor_port = await start("intellivue")
    pumps, pumps_port = await start("bbraun_bcc")
    try:
        devices = [
            {"id": "monitor-1", "bed": "bed-1", "driver": "intellivue", "port": monitor_port},
            {"id": "pump-11", "bed": "bed-1", "driver": "bbraun_bcc", "port": pumps_port,
             "address": "11"},
        ]  # fmt: skip
        config = write_config(
            tmp_path, devices, mosquitto.url, beds={"bed-1": {"order": ORDER}},
            acknowledgements=ACKNOWLEDGEMENTS,
        )  # fmt: skip
        primed = prime_alarm_log(
            load_scenario(SCENARIO), config, START_MIN, wall_of_minute_zero(started, START_MIN)
        )
        session = primed.engine.sessions.get("bed-1")
        assert session is not None
        assert session.phase == "infusion"
        assert session.baseline_systolic is not None
        assert session.baseline_systolic < 111
        assert primed.alarm_events() == []  # nothing before the rise
        async with (
            subscribed(mosquitto.port, ROOT) as subscriber,
            running_daemon(config) as edge,
            aiomqtt.Client("127.0.0.1", mosquitto.port) as station,
        ):
            left_s = RISE_CUFF_S - (datetime.now(UTC) - started).total_seconds()
            await subscriber.wait_until(
                lambda: len(hypertension(subscriber)) >= 1, left_s + LATENCY_S
            )
            raised = hypertension(subscriber)[0]
            alarm_id = raised["alarm"]["alarm_id"]
            topic = f"infusion-edge/v1/test-site/beds/bed-1/alarms/{alarm_id}/ack"
            await station.publish(topic, station_ack("bed-1", alarm_id), qos=1)
            await subscriber.wait_until(lambda: len(hypertension(subscriber)) >= 2, LATENCY_S)
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
    finally:
        results = [await finish(process, signal.SIGTERM) for process in (monitor, pumps)]
    assert all(code == 0 for code, _ in results), results

    alarm = raised["alarm"]
    assert (raised["transition"], alarm["priority"]) == ("raised", "medium")
    base = round(session.baseline_systolic)
    assert f"40 over the baseline {base}" in alarm["message"], alarm["message"]
    measured = datetime.fromisoformat(alarm["raised_at"])
    assert abs((measured - wall_of_minute_zero(started, START_MIN)).total_seconds() / 60 - 39) < 0.2
    acked = hypertension(subscriber)[1]
    assert acked["transition"] == "acknowledged"
    assert (acked["alarm"]["acknowledged_by"], acked["alarm"]["acknowledged_via"]) == (
        "nurse.kim",
        STATION,
    )
    assert len(hypertension(subscriber)) == 2
