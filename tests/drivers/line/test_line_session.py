"""line through the daemon's link session over a real pty (the Masimo example's options), and
the `line` simulator (a textline monitor) read with the default options."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from drivers.line.driver import conversation_for
from drivers.line.options import LineOptions
from drivers.readings import VitalsReading
from drivers.registry import get_driver
from drivers.sim.devices import SimTime, build_device
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.backoff import Backoff
from edge.bus import Bus
from edge.clock import SystemClock
from edge.config import load_config
from edge.device_state import DeviceState
from edge.items import InputItem
from edge.session import LinkSession
from tests.drivers.line.masimo import AT, CONFIG, E1, STATED, TARGET, comparable
from tests.edge.test_session import next_matching, running
from tests.ptys import PtyDevice

SCENARIOS = CONFIG.parent / "scenarios"


async def test_masimo_lines_over_a_pty_reach_the_bus(tmp_path: Path) -> None:
    device = PtyDevice(tmp_path / "ttyOX")
    (shipped,) = load_config(CONFIG).devices
    config = shipped.model_copy(update={"port": str(device.path), "timeout_s": 10.0})
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    backoff = Backoff(initial=0.1, cap=0.2, floor=0.05)
    session = LinkSession(config.port, [config], get_driver("line"), bus, SystemClock(), backoff)
    try:
        async with running(session):
            reading = None
            for _ in range(100):  # pyserial flushes input when it opens the port
                device.write(b"\x00garbage\r\n" + E1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        reading = await next_matching(items, VitalsReading)
                        break
            assert isinstance(reading, VitalsReading)
            assert reading.device_id == config.id
            assert comparable([reading]) == sorted(STATED[E1], key=lambda row: row[1])
            state = await next_matching(items, DeviceState, connection="online")
            assert isinstance(state, DeviceState)
            assert state.frames_bad >= 1  # the garbage line, counted
    finally:
        device.close()


def test_the_line_simulator_is_read_by_the_default_options() -> None:
    timeline = Timeline(load_scenario(SCENARIOS / "normal-ketamine.yaml"))
    monitor = build_device("line", timeline)
    at = SimTime(0.0, 30 * 60.0)
    exchange = conversation_for(TARGET, LineOptions()).receive(monitor.tick(at), AT)
    (reading,) = exchange.readings
    expected = timeline.vitals(at.scenario_s)
    assert expected is not None
    assert reading.value("MDC_ECG_HEART_RATE") == expected.hr
    with pytest.raises(ValueError, match="no pump slots"):
        build_device("line", timeline, ["11"])
