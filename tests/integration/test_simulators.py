"""End to end: the real host conversations read simulators served on real ptys and on TCP.

Every simulator here runs in the test's event loop behind a real port and is read through
:func:`drivers.link.open_link`, as the daemon reads hardware; the ``simulate`` command runs
as a subprocess. Scenarios are sped up so each test takes a few seconds; network is loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.base import Conversation, DeviceTarget, NoOptions
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.errors import LinkError
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.link import Link, open_link
from drivers.readings import PumpReading, VitalsReading
from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario, parse_scenario
from drivers.sim.serve import Port, PtyPort, TcpPort, serve
from drivers.sim.timeline import Timeline
from drivers.textline.driver import DRIVER as TEXTLINE
from tests.drivers.sim.host import Host

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NORMAL = REPO / "config" / "scenarios" / "normal-ketamine.yaml"
VOL, RATE = "MDC_VOL_FLUID_DELIV", "MDC_FLOW_FLUID_PUMP"
VITALS = {
    "MDC_ECG_HEART_RATE": "hr",
    "MDC_PULS_OXIM_PULS_RATE": "pr",
    "MDC_PULS_OXIM_SAT_O2": "spo2",
    "MDC_RESP_RATE": "rr",
}


def scenario_with(**changes: Any) -> Timeline:
    """normal-ketamine.yaml with top-level keys replaced."""
    data = yaml.safe_load(NORMAL.read_text())
    data.update(changes)
    return Timeline(parse_scenario(yaml.safe_dump(data)))


async def wait_until(done: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"condition not met in {timeout_s} s"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(simulation: Simulation, port: Port) -> AsyncIterator[list[str]]:
    """Serve in the background; yields the paths/URLs announced so far (one at least)."""
    announced: list[str] = []
    task = asyncio.create_task(serve(simulation, port, announced.append), name="test.serve")
    try:
        await wait_until(lambda: announced or task.done())
        yield announced
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def bcc_host(*slots: str) -> BccConversation:
    targets = [DeviceTarget(f"pump-{slot}", "bed-1", slot) for slot in slots]
    return BccConversation(targets, poll_period_s=0.5, response_timeout_s=2.0)


def intellivue_host() -> IntelliVueConversation:
    return IntelliVueConversation(DeviceTarget("mon-1", "bed-1"))


@contextlib.asynccontextmanager
async def host_on(where: str, conversation: Conversation) -> AsyncIterator[Host]:
    link = await open_link(where)
    host = Host(conversation, link)
    try:
        await host.open()
        yield host
    finally:
        await link.close()


def recent_scenario_times(simulation: Simulation, real_s: float) -> list[float]:
    """Scenario times over the last ``real_s`` real seconds, every 0.05 s."""
    now = simulation.now().scenario_s
    steps = int(real_s / 0.05) + 1
    return [now - i * 0.05 * simulation.speed for i in range(steps)]


def assert_pump_reading_from_timeline(
    reading: Any, simulation: Simulation, slot: str, within_s: float = 3.0
) -> None:
    """The reading equals the timeline at some moment of the last ``within_s`` real s."""
    assert isinstance(reading, PumpReading)
    times = recent_scenario_times(simulation, within_s)
    pumps = [simulation.timeline.pump(slot, t) for t in times]
    assert reading.value(RATE) in {pump.rate_ml_h for pump in pumps}
    volume = reading.value(VOL)
    assert volume is not None
    low, high = min(p.infused_ml for p in pumps), max(p.infused_ml for p in pumps)
    assert low - 0.051 <= volume <= high + 0.051, (volume, low, high)
    assert reading.pump.drug == pumps[0].drug


def assert_vitals_from_timeline(
    reading: Any, simulation: Simulation, within_s: float = 3.0
) -> None:
    """Every value equals the timeline's at some moment of the last ``within_s`` real s."""
    assert isinstance(reading, VitalsReading)
    seen = [simulation.timeline.vitals(t) for t in recent_scenario_times(simulation, within_s)]
    for code, name in VITALS.items():
        assert reading.value(code) in {getattr(v, name) for v in seen if v}, code
    systolic = reading.value("MDC_PRESS_BLD_NONINV_SYS")
    assert systolic in {v.nibp.systolic for v in seen if v and v.nibp}


# -- values over real ports ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pty", "tcp"])
async def test_bcc_pump_reads_the_timeline(kind: str) -> None:
    timeline = Timeline(load_scenario(NORMAL))
    simulation = Simulation(build_device("bbraun_bcc", timeline), timeline, speed=10, start_s=1200)
    port: Port = PtyPort() if kind == "pty" else TcpPort()
    async with (
        serving(simulation, port) as announced,
        host_on(announced[0], bcc_host("11")) as host,
    ):
        readings = await host.readings_after(3, timeout_s=10)
        for reading in readings:
            assert_pump_reading_from_timeline(reading, simulation, "11")
            assert isinstance(reading, PumpReading)
            assert reading.pump.state == "infusing"
        assert host.errors == []
    if kind == "pty":
        assert announced[0].startswith("/dev/pts/")
    else:
        assert announced[0].startswith("socket://127.0.0.1:")


async def test_bcc_rack_of_four_pumps_on_one_port() -> None:
    slots = ("11", "12", "13", "21")
    pumps = [
        {
            "slot": slot,
            "drug": f"Drug {index}",
            "program": [{"at_min": 0, "action": "start", "rate_ml_h": 10.0 * (index + 1)}],
        }
        for index, slot in enumerate(slots)
    ]
    timeline = scenario_with(pumps=pumps)
    simulation = Simulation(build_device("bbraun_bcc", timeline), timeline, speed=30)
    async with (
        serving(simulation, TcpPort()) as announced,
        host_on(announced[0], bcc_host(*slots)) as host,
    ):
        readings = await host.readings_after(8, timeout_s=10)
    latest = {reading.device_id: reading for reading in readings}
    assert sorted(latest) == [f"pump-{slot}" for slot in slots]
    for slot in slots:
        assert_pump_reading_from_timeline(latest[f"pump-{slot}"], simulation, slot)


@pytest.mark.parametrize("kind", ["pty", "tcp"])
async def test_intellivue_monitor_reads_the_timeline(kind: str) -> None:
    timeline = Timeline(load_scenario(NORMAL))
    device = build_device("intellivue", timeline)
    simulation = Simulation(device, timeline, speed=5, start_s=1500)
    port: Port = PtyPort() if kind == "pty" else TcpPort()
    async with (
        serving(simulation, port) as announced,
        host_on(announced[0], intellivue_host()) as host,
    ):
        readings = await host.readings_after(3, timeout_s=10)
    for reading in readings:
        assert_vitals_from_timeline(reading, simulation)
    assert host.errors == []


async def test_textline_monitor_streams_the_timeline() -> None:
    timeline = Timeline(load_scenario(NORMAL))
    simulation = Simulation(build_device("textline", timeline), timeline, speed=5, start_s=600)
    conversation = TEXTLINE.conversation([DeviceTarget("mon-1", "bed-1")], NoOptions())
    async with (
        serving(simulation, PtyPort()) as announced,
        host_on(announced[0], conversation) as host,
    ):
        (reading,) = await host.readings_after(1, timeout_s=5)
        assert_vitals_from_timeline(reading, simulation)
    assert host.errors == []


# -- faults ----------------------------------------------------------------------------------

LINE_FAULTS = [
    {"kind": "garbage", "at_min": 0, "every_s": 0.3, "length": 24},
    {"kind": "bad_checksum", "at_min": 0, "fraction": 0.3},
    {"kind": "byte_by_byte", "at_min": 0, "gap_ms": 0.2},
]


@pytest.mark.parametrize("driver", ["bbraun_bcc", "intellivue"])
async def test_garbage_bad_checksums_and_trickled_bytes_never_give_wrong_readings(
    driver: str,
) -> None:
    timeline = scenario_with(faults=LINE_FAULTS)
    simulation = Simulation(build_device(driver, timeline), timeline, speed=10, start_s=1200)
    conversation = bcc_host("11") if driver == "bbraun_bcc" else intellivue_host()
    async with (
        serving(simulation, PtyPort()) as announced,
        host_on(announced[0], conversation) as host,
    ):
        for _ in range(3):  # each reading checked as it arrives
            (reading,) = await host.readings_after(1, timeout_s=15)
            if driver == "bbraun_bcc":  # a NAKed block is resent as it was: allow for retries
                assert_pump_reading_from_timeline(reading, simulation, "11", within_s=8)
            else:
                assert_vitals_from_timeline(reading, simulation, within_s=3)
    assert host.errors, "the faults should have spoiled some frames"


async def test_silence_then_the_host_recovers() -> None:
    # speed 20: silent from real 3 s to 5 s, well after the first reading (about 0.7 s)
    timeline = scenario_with(faults=[{"kind": "silence", "at_min": 1, "duration_s": 40}])
    simulation = Simulation(build_device("bbraun_bcc", timeline), timeline, speed=20)
    async with (
        serving(simulation, TcpPort()) as announced,
        host_on(announced[0], bcc_host("11")) as host,
    ):
        await host.readings_after(1, timeout_s=5)
        await host.run_until(lambda: simulation.wire().silent, timeout_s=5)
        during = len(host.readings)
        await host.run_until(lambda: not simulation.wire().silent, timeout_s=5)
        assert len(host.readings) <= during + 1  # at most an answer already under way
        readings = await host.readings_after(2, timeout_s=10)
    assert_pump_reading_from_timeline(readings[-1], simulation, "11")


async def reopen(where: str, timeout_s: float) -> Link:
    """Open ``where`` again and again until it works (the port is coming back)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await open_link(where)
        except LinkError:
            assert time.monotonic() < deadline, f"{where} did not come back"
            await asyncio.sleep(0.1)


async def read_until_link_error(host: Host, timeout_s: float) -> None:
    with pytest.raises(LinkError):
        await host.run_until(lambda: False, timeout_s=timeout_s)


@pytest.mark.parametrize("kind", ["pty", "tcp"])
async def test_disconnect_and_reconnect(kind: str, tmp_path: Path) -> None:
    # speed 10: the port goes at scenario 18 s (real 1.8 s) and is back at 38 s (real 3.8 s)
    timeline = scenario_with(faults=[{"kind": "disconnect", "at_min": 0.3, "duration_s": 20}])
    simulation = Simulation(build_device("bbraun_bcc", timeline), timeline, speed=10)
    link_path = tmp_path / "ttyBCC"
    port: Port = PtyPort(link_path) if kind == "pty" else TcpPort()
    async with serving(simulation, port) as announced:
        where = announced[0]
        assert where == (str(link_path) if kind == "pty" else where)
        link = await open_link(where)
        host = Host(bcc_host("11"), link)
        try:
            await host.open()
            await host.readings_after(1, timeout_s=5)
            await read_until_link_error(host, timeout_s=5)
        finally:
            await link.close()
        assert simulation.wire().disconnected
        if kind == "pty":
            assert not link_path.exists()  # unplugged: the by-id style link is gone too
        with pytest.raises(LinkError):
            await open_link(where)
        link = await reopen(where, timeout_s=5)
        host = Host(bcc_host("11"), link)
        try:
            await host.open()
            readings = await host.readings_after(2, timeout_s=5)
        finally:
            await link.close()
        assert_pump_reading_from_timeline(readings[-1], simulation, "11")
        assert len(announced) == (2 if kind == "pty" else 1)


# -- the command -----------------------------------------------------------------------------


async def start_simulate(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "drivers.sim.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
    )


async def first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(10):
        return (await process.stdout.readline()).decode().strip()


async def finish(process: asyncio.subprocess.Process, signum: int | None) -> tuple[int, str]:
    """Send ``signum`` (if any), wait (bounded) and return (exit code, stderr)."""
    if signum is not None:
        process.send_signal(signum)
    try:
        async with asyncio.timeout(10):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.parametrize(
    ("driver", "where", "signum"),
    [
        ("bbraun_bcc", ["--pty"], signal.SIGINT),
        ("intellivue", ["--tcp", "0"], signal.SIGTERM),
    ],
)
async def test_simulate_command(driver: str, where: Sequence[str], signum: int) -> None:
    process = await start_simulate(
        "--driver", driver, "--scenario", str(NORMAL), *where, "--speed", "10", "--seed", "3"
    )
    try:
        path = await first_line(process)
        assert path.startswith("/dev/pts/" if "--pty" in where else "socket://127.0.0.1:")
        conversation = bcc_host("11") if driver == "bbraun_bcc" else intellivue_host()
        async with host_on(path, conversation) as host:
            await host.readings_after(1, timeout_s=10)
    finally:
        code, stderr = await finish(process, signum)
    assert code == 0, stderr


async def test_simulate_command_refuses_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: x\nduration_min: 0\npatient: {}\n")
    process = await start_simulate("--driver", "textline", "--scenario", str(bad), "--pty")
    code, stderr = await finish(process, None)
    assert code == 2
    assert "duration_min: Input should be greater than 0" in stderr
    assert "patient: unknown key" in stderr
