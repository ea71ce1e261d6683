"""Commissioning: listing ports by their stable names, and probing a device on a pty."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest

from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario
from drivers.sim.serve import PtyPort, serve
from drivers.sim.timeline import Timeline
from edge.commissioning import format_ports, list_serial_ports
from tests.integration.daemon_process import REPO_ROOT
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

SCENARIO = REPO_ROOT / "config" / "scenarios" / "normal-ketamine.yaml"


def test_ports_are_listed_with_their_by_id_names(tmp_path: Path) -> None:
    adapter = PtyDevice(tmp_path / "ttyUSB-like")
    try:
        by_id = tmp_path / "serial" / "by-id"
        by_id.mkdir(parents=True)
        stable = by_id / "usb-FTDI_FT232R_USB_UART_A10K1ZP1-if00-port0"
        stable.symlink_to(adapter.path.resolve())
        ports = list_serial_ports(tmp_path / "serial")
        listed = next(p for p in ports if p.device == str(adapter.path.resolve()))
        assert listed.by_id == (str(stable),)
        assert str(stable) in format_ports(ports)
    finally:
        adapter.close()


async def run_probe(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge.cli",
        "probe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode()


async def test_probe_prints_what_a_monitor_on_a_pty_reports(tmp_path: Path) -> None:
    timeline = Timeline(load_scenario(SCENARIO))
    link = tmp_path / "ttyMONITOR"
    simulation = Simulation(build_device("intellivue", timeline, ()), timeline)
    announced = asyncio.Event()
    server = asyncio.create_task(serve(simulation, PtyPort(link), lambda _p: announced.set()))
    try:
        await asyncio.wait_for(announced.wait(), 5)
        code, out = await run_probe(str(link), "--driver", "intellivue", "--seconds", "4")
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    assert code == 0, out
    assert "vitals: " in out
    assert "MDC_ECG_HEART_RATE=" in out
    assert "bad frames" in out


async def test_probe_of_a_missing_port_says_why(tmp_path: Path) -> None:
    code, out = await run_probe(
        str(tmp_path / "ttyNONE"), "--driver", "bbraun_bcc", "--address", "11", "--seconds", "1.5"
    )
    assert code == 1
    assert "0 readings" in out
    assert "no such port" in out
