"""Link recovery in real time, black box: ``infusion-edge simulate`` processes on a pty and on
TCP, ``infusion-edge run``, a Mosquitto, and a subscriber on the alarm log.

Three devices with the default 10 s timeout, each with its own fault, run at once:

- an IntelliVue monitor on a pty whose port disappears for 7 s (pty closed, symlink removed):
  back well before its timeout, so ``device_offline`` is never raised;
- a B. Braun pump on TCP (``poll_period_s: 1``) whose listener is gone for 14 s: raised, and
  ended within 2 s of the first reading after the port came back;
- an IntelliVue monitor on TCP that falls silent for 12 s with the connection open (the cable
  pulled at the monitor): readings resume, after a new association, within 2 s (plus the
  stated latency) of the monitor answering again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import REPO_ROOT, DaemonProcess, running_daemon
from tests.integration.test_daemon_pty import reading, write_config
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = "infusion-edge/v1/test-site/#"
LOG = "infusion-edge/v1/test-site/alarm-log"
FAULT_AT_S = 21.0  # scenario s (speed 1: real s from the simulator's start)
LATENCY_S = 1.0  # s: log pipes, the outbox, the broker and the subscriber, under CI load


def scenario(fault: dict[str, Any]) -> dict[str, Any]:
    """A steady session: vitals at baseline, one pump infusing from the start, one fault."""
    return {
        "name": "link-recovery",
        "description": "steady values, one wire fault",
        "duration_min": 10,
        "seed": 1,
        "vitals": {
            "hr": {"baseline": 72},
            "spo2": {"baseline": 98},
            "rr": {"baseline": 14},
            "sbp": {"baseline": 120},
            "dbp": {"baseline": 80},
        },
        "pumps": [
            {
                "slot": "11",
                "drug": "NaCl",
                "program": [{"at_min": 0, "action": "start", "rate_ml_h": 100, "vtbi_ml": 500}],
            }
        ],
        "faults": [{"at_min": FAULT_AT_S / 60, **fault}],
    }


@dataclass
class Simulator:
    """One ``infusion-edge simulate`` process; its stderr lines stamped with the loop's time."""

    process: asyncio.subprocess.Process
    port: str = ""
    stderr: list[tuple[float, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self) -> None:
        assert self.process.stderr is not None
        loop = asyncio.get_running_loop()
        async for raw in self.process.stderr:
            self.stderr.append((loop.time(), raw.decode(errors="replace")))
            self.changed.set()

    async def wire(self, state: str, timeout: float = 60.0) -> float:
        """The loop time at which the simulator logged its wire ``state`` (``clean``,
        ``silent``, ``disconnected``) first."""
        async with asyncio.timeout(timeout):
            while True:
                for at, line in self.stderr:
                    if f"wire {state}" in line:
                        return at
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def simulating(
    tmp_path: Path, name: str, driver: str, *where: str, fault: dict[str, Any]
) -> AsyncIterator[Simulator]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario(fault)))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge.cli", "simulate", "--driver", driver,
        "--scenario", str(path), *where,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )  # fmt: skip
    simulator = Simulator(process)
    follower = asyncio.create_task(simulator.follow(), name=f"{name}-stderr")
    try:
        assert process.stdout is not None
        async with asyncio.timeout(15):
            simulator.port = (await process.stdout.readline()).decode().strip()
        assert simulator.port, "the simulator announced no port"
        yield simulator
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        await follower


def offline_transitions(subscriber: Subscriber, device: str) -> list[str]:
    entries = [m.json() for m in subscriber.messages if m.topic == LOG]
    return [
        e["transition"]
        for e in entries
        if e["alarm"]["rule"] == "device_offline" and e["alarm"]["device_id"] == device
    ]


async def resumed_after_fault(
    edge: DaemonProcess, sim: Simulator, device: str, fault: str
) -> tuple[float, float]:
    """(when the wire was clean again, when the device's first reading after the fault
    arrived), in loop time. No reading can come during the fault: the first one that arrived
    a second into it or later is the first after it."""
    started = await sim.wire(fault)
    back = await sim.wire("clean")
    await edge.wait_for(reading(device), after=edge.index_after(started + 1.0), timeout=30)
    resumed = edge.arrived[edge.index_after(started + 1.0) :]
    lines = edge.lines[len(edge.lines) - len(resumed) :]
    first = next(at for at, line in zip(resumed, lines, strict=True) if reading(device)(line))
    return back, first


async def unplugged_briefly(edge: DaemonProcess, sim: Simulator, alarms: Subscriber) -> None:
    """(a) The port is gone for 7 s: readings resume in time, no ``device_offline``."""
    back, resumed = await resumed_after_fault(edge, sim, "monitor-a", "disconnected")
    assert resumed - back < 1.0 + LATENCY_S  # the next attempt within a second, associated


async def unplugged_past_the_timeout(
    edge: DaemonProcess, sim: Simulator, alarms: Subscriber
) -> None:
    """(b) The port is gone for 14 s: raised; ended within 2 s of the first reading."""
    back, resumed = await resumed_after_fault(edge, sim, "pump-b", "disconnected")
    assert "raised" in offline_transitions(alarms, "pump-b")
    assert resumed - back < 1.0 + 1.0 + LATENCY_S  # the next attempt, then the next poll
    await alarms.wait_until(lambda: "ended" in offline_transitions(alarms, "pump-b"), 10)
    assert asyncio.get_running_loop().time() - resumed < 2.0


async def cable_pulled_at_the_monitor(
    edge: DaemonProcess, sim: Simulator, alarms: Subscriber
) -> None:
    """(c) Silent for 12 s with the port open: readings resume within 2 s of the monitor
    answering again, after a new association."""
    speaks, resumed = await resumed_after_fault(edge, sim, "monitor-c", "silent")
    assert "raised" in offline_transitions(alarms, "monitor-c")
    assert resumed - speaks < 2.0 + LATENCY_S  # the next association request, answered
    await alarms.wait_until(lambda: "ended" in offline_transitions(alarms, "monitor-c"), 10)
    assert asyncio.get_running_loop().time() - resumed < 2.0


async def test_short_unplugs_stay_quiet_long_ones_end_at_once_and_silence_reassociates(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    link = tmp_path / "ttyMONITOR-A"
    async with (
        simulating(
            tmp_path, "a", "intellivue", "--pty", "--link", str(link),
            fault={"kind": "disconnect", "duration_s": 7, "device": "monitor"},
        ) as sim_a,
        simulating(
            tmp_path, "b", "bbraun_bcc", "--tcp", "0",
            fault={"kind": "disconnect", "duration_s": 14, "device": "pumps"},
        ) as sim_b,
        simulating(
            tmp_path, "c", "intellivue", "--tcp", "0",
            fault={"kind": "silence", "duration_s": 12, "device": "monitor"},
        ) as sim_c,
    ):  # fmt: skip
        devices: list[dict[str, Any]] = [
            {"id": "monitor-a", "bed": "bed-a", "driver": "intellivue", "port": str(link)},
            {
                "id": "pump-b",
                "bed": "bed-b",
                "driver": "bbraun_bcc",
                "port": sim_b.port,
                "address": "11",
                "options": {"poll_period_s": 1},
            },
            {"id": "monitor-c", "bed": "bed-c", "driver": "intellivue", "port": sim_c.port},
        ]
        beds: dict[str, Any] = {"bed-a": {}, "bed-b": {}, "bed-c": {}}
        config = write_config(tmp_path, devices, mosquitto.url, beds=beds)
        async with subscribed(mosquitto.port, ROOT) as alarms, running_daemon(config) as edge:
            for device in ("monitor-a", "pump-b", "monitor-c"):
                await edge.wait_for(reading(device), timeout=20)
            async with asyncio.TaskGroup() as group:  # in parallel; one failing stops all
                group.create_task(unplugged_briefly(edge, sim_a, alarms))
                group.create_task(unplugged_past_the_timeout(edge, sim_b, alarms))
                group.create_task(cable_pulled_at_the_monitor(edge, sim_c, alarms))
            assert offline_transitions(alarms, "monitor-a") == [], edge.output()
