"""Commissioning: listing ports by their stable names, and probing a device on a pty or on
``infusion-edge simulate --tcp`` (each simulated driver)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
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


TRACKS = """
name: probe-tracks
description: a febrile, poorly perfused patient for the probe
duration_min: 30
vitals:
  hr: {baseline: 76}
  spo2: {baseline: 95}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
  temp: {baseline: 38.4}
  pi: {baseline: 0.87}
  pvi: {baseline: 14}
"""

PROBED = {
    "ge_dri": ("MDC_TEMP_BODY=38.4 Cel", "MDC_PULS_OXIM_SAT_O2=95 %", "MDC_ECG_HEART_RATE=76"),
    "masimo_ascii": ("MDC_PULS_OXIM_PERF_REL=0.87 %", "X_MASIMO_PVI=14 %", "X_MASIMO_SPCO="),
    "line": ("MDC_ECG_HEART_RATE=76 /min", "MDC_PULS_OXIM_SAT_O2=95 %", "MDC_RESP_RATE=14"),
}
"""What ``probe`` prints for each driver against its simulator playing :data:`TRACKS`."""


@contextlib.asynccontextmanager
async def simulate_tcp(driver: str, scenario: Path) -> AsyncIterator[str]:
    """``infusion-edge simulate --driver DRIVER --tcp 0`` as a subprocess; yields its URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge.cli",
        "simulate",
        "--driver",
        driver,
        "--scenario",
        str(scenario),
        "--tcp",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert url.startswith("socket://"), url
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0


@pytest.mark.parametrize("driver", sorted(PROBED))
async def test_probe_reads_each_simulated_driver_over_tcp(driver: str, tmp_path: Path) -> None:
    scenario = tmp_path / "tracks.yaml"
    scenario.write_text(TRACKS, encoding="utf-8")
    async with simulate_tcp(driver, scenario) as url:
        code, out = await run_probe(url, "--driver", driver, "--seconds", "5")
    assert code == 0, out
    assert "vitals: " in out
    for expected in PROBED[driver]:
        assert expected in out, (expected, out)
    assert " 0 bad frames" in out


MASIMO_AS_LINE = (
    '{start: null, checksum: null, keyvalue: {separator: " "}, fields: {'
    'SPO2: {code: MDC_PULS_OXIM_SAT_O2, strip: "%", no_value: ["---"]}, '
    'PI: {code: MDC_PULS_OXIM_PERF_REL, strip: "%", no_value: ["--.--"]}}}'
)
"""A ``line`` profile of Masimo's ASCII 1 output (SpO2 and PI), inline for ``--options``."""


async def test_probe_reads_a_line_device_described_by_options(tmp_path: Path) -> None:
    scenario = tmp_path / "tracks.yaml"
    scenario.write_text(TRACKS, encoding="utf-8")
    async with simulate_tcp("masimo_ascii", scenario) as url:
        code, out = await run_probe(
            url, "--driver", "line", "--options", MASIMO_AS_LINE, "--seconds", "4"
        )
    assert code == 0, out
    assert "MDC_PULS_OXIM_SAT_O2=95 %  MDC_PULS_OXIM_PERF_REL=0.87 %" in out


async def test_probe_options_are_checked_like_the_config() -> None:
    bad = '{fields: {SPO2: {code: MDC_PULS_OXIM_SAT_O2, unit: "mmHg"}}, regex: "("}'
    code, out = await run_probe("/dev/null", "--driver", "line", "--options", bad)
    assert code == 2
    assert "options." in out
    assert "0 readings" not in out  # refused before opening the port
    code, out = await run_probe("/dev/null", "--driver", "ge_dri", "--options", "[5]")
    assert (code, out.strip()) == (2, "options: give a mapping, like '{period_s: 10}'")
