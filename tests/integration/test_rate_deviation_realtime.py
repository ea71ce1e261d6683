"""A free flow in real time, black box: ``infusion-edge simulate`` plays a B. Braun rack over
TCP, ``infusion-edge run`` polls it every second, and a subscriber on a real Mosquitto sees
``rate_deviation`` raised high within the rule's delay (60 s) after the detection (30 s at
50 mL/h and a 1 s poll), plus the time a poll, the alarm stage and the publish take."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.edge.publish.broker_client import subscribed
from tests.integration.daemon_process import DaemonProcess, running_daemon
from tests.integration.test_daemon_alarms import transitions
from tests.integration.test_daemon_pty import write_config
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

ROOT = "infusion-edge/v1/test-site/#"
ONSET_S = 90.0  # the free flow starts 90 s into the scenario: past the estimator's start-up
DETECTION_S = 30.0  # > 25 % at 50 mL/h and a 1 s poll (docs/biomed/alarms.md: 15 s)
DELAY_S = 60.0  # rate_deviation high
LATENCY_S = 8.0  # a poll, a loaded machine's scheduling, the stage and the publish

FREE_FLOW = """
name: free-flow
description: 52.5 mL/h, then +30 % from 90 s for 150 s
duration_min: 10
vitals:
  hr: {baseline: 72}
  spo2: {baseline: 98}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
pumps:
  - slot: "11"
    drug: Ketamine
    program: [{at_min: 0, action: start, rate_ml_h: 52.5, vtbi_ml: 50}]
faults:
  - {kind: rate_drift, at_min: 1.5, duration_s: 150, factor: 1.3, slot: "11"}
"""


async def simulator_port(simulator: DaemonProcess) -> str:
    """The ``socket://`` line the simulator prints once it listens."""
    async with asyncio.timeout(15):
        while True:
            found = [line for line in simulator.raw if line.startswith("socket://")]
            if found:
                return found[0]
            await asyncio.sleep(0.05)


@pytest.mark.timeout(300)
async def test_a_free_flow_is_raised_high_within_detection_and_delay(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    scenario = tmp_path / "free-flow.yaml"
    scenario.write_text(FREE_FLOW)
    simulator = DaemonProcess(
        "simulate", "--driver", "bbraun_bcc", "--scenario", str(scenario), "--tcp", "0"
    )
    await simulator.start()
    started = time.monotonic()  # the scenario clock, give or take the process start
    try:
        port = await simulator_port(simulator)
        pump = {
            "id": "pump-1",
            "bed": "bed-1",
            "driver": "bbraun_bcc",
            "port": port,
            "address": "11",
            "options": {"poll_period_s": 1},
        }
        config = write_config(tmp_path, [pump], mosquitto.url)
        async with subscribed(mosquitto.port, ROOT) as subscriber, running_daemon(config):
            deadline = ONSET_S + DETECTION_S + DELAY_S + LATENCY_S
            await subscriber.wait_until(
                lambda: bool(transitions(subscriber, "rate_deviation")),
                timeout=deadline - (time.monotonic() - started),
            )
            arrived = time.monotonic() - started
            raised = transitions(subscriber, "rate_deviation")[0]
    finally:
        await simulator.stop()
    assert raised["transition"] == "raised"
    assert raised["alarm"]["priority"] == "high"
    assert raised["alarm"]["value"] > 25
    assert "against 52.5 mL/h programmed" in raised["alarm"]["message"]
    assert ONSET_S + DELAY_S <= arrived <= deadline
