"""End to end: the daemon as a subprocess reads textline devices over real pseudo-terminals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import serial
import yaml

from drivers.textline.codec import encode_pump, encode_vitals
from tests.integration.daemon_process import DaemonProcess, LogLine, running_daemon
from tests.mosquitto import free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

SYS = "MDC_PRESS_BLD_NONINV_SYS"


def vitals_line(sbp: float) -> bytes:
    return encode_vitals({"SBP": sbp, "DBP": 80, "HR": 72, "SPO2": 98, "RR": 14}).to_bytes()


def pump_line(volume: float) -> bytes:
    return encode_pump("infusing", {"RATE": 52.5, "VI": volume}, drug="Ketamine").to_bytes()


def write_config(
    directory: Path, devices: list[dict[str, Any]], mqtt_url: str | None = None, **more: Any
) -> Path:
    """A daemon config in ``directory``; MQTT goes to ``mqtt_url``, else to a closed port;
    ``more`` replaces or adds top-level keys."""
    config = {
        "site": "test-site",
        "edge_id": "test-edge",
        "log": {"level": "DEBUG", "format": "json"},
        "mqtt": {"url": mqtt_url or f"mqtt://127.0.0.1:{free_port()}"},
        "http": {"enabled": False},
        "storage": {
            "outbox_path": str(directory / "outbox.sqlite"),
            "alarm_log_path": str(directory / "alarm-log.sqlite"),
        },
        "beds": {"bed-1": {}},
        "devices": devices,
        **more,
    }
    path = directory / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def textline_device(device_id: str, port: Path | str, **extra: Any) -> dict[str, Any]:
    return {"id": device_id, "bed": "bed-1", "driver": "textline", "port": str(port), **extra}


class Feeder:
    """Writes the current line of a device every ``period`` seconds."""

    def __init__(self, device: PtyDevice, line: bytes, period: float = 0.1) -> None:
        self.device = device
        self.line = line
        self.period = period

    async def run(self) -> None:
        while True:
            self.device.write(self.line)
            await asyncio.sleep(self.period)


@contextlib.asynccontextmanager
async def feeding(*feeders: Feeder) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(f.run(), name=f"feeder-{i}") for i, f in enumerate(feeders)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def reading(device: str, **values: float) -> Any:
    def match(line: LogLine) -> bool:
        return (
            line.get("msg") == "reading"
            and line.get("device") == device
            and all(line.get(code) == value for code, value in values.items())
        )

    return match


def connection(device: str, state: str) -> Any:
    def match(line: LogLine) -> bool:
        return (
            line.get("msg") == "device connection"
            and line.get("device") == device
            and line.get("connection") == state
        )

    return match


def message(text: str, **fields: Any) -> Any:
    def match(line: LogLine) -> bool:
        return line.get("msg") == text and all(
            str(value) in str(line.get(key)) for key, value in fields.items()
        )

    return match


async def test_reads_survives_garbage_and_recovers_from_unplug(
    tmp_path: Path, monitor: PtyDevice, pump: PtyDevice
) -> None:
    config = write_config(
        tmp_path,
        [
            textline_device("monitor-1", monitor.path, stale_after_s=1, timeout_s=2),
            textline_device("pump-1", pump.path, stale_after_s=1, timeout_s=2),
        ],
    )
    monitor_feed, pump_feed = Feeder(monitor, vitals_line(128)), Feeder(pump, pump_line(1.5))
    async with running_daemon(config) as edge, feeding(monitor_feed, pump_feed):
        await edge.wait_for(reading("monitor-1", **{SYS: 128.0}))
        await edge.wait_for(reading("pump-1", MDC_VOL_FLUID_DELIV=1.5))
        await edge.wait_for(connection("monitor-1", "online"))

        # Garbage and a corrupted line between good ones: counted, never fatal.
        corrupted = bytearray(vitals_line(250))
        corrupted[6] ^= 0x01
        monitor.write(b"\x00\xff\x13garbage$$$*\r\n" + bytes(corrupted) + bytes(range(256)))
        monitor_feed.line = vitals_line(131)
        await edge.wait_for(reading("monitor-1", **{SYS: 131.0}))
        await edge.wait_for(message("bad frames", session="monitor-1"))
        assert not any(reading("monitor-1", **{SYS: 250.0})(line) for line in edge.lines)

        # Unplug the monitor: its link is lost, it goes stale then offline; the pump carries on.
        mark = len(edge.lines)
        monitor.unplug()
        await edge.wait_for(message("link lost", session="monitor-1"), after=mark)
        await edge.wait_for(connection("monitor-1", "stale"), after=mark)
        await edge.wait_for(connection("monitor-1", "offline"), after=mark)
        pump_feed.line = pump_line(2.0)
        await edge.wait_for(reading("pump-1", MDC_VOL_FLUID_DELIV=2.0), after=mark)

        # Plug it back in behind the same path: the session reopens and readings resume.
        mark = len(edge.lines)
        monitor.plug()
        monitor_feed.line = vitals_line(140)
        await edge.wait_for(reading("monitor-1", **{SYS: 140.0}), after=mark, timeout=20)
        await edge.wait_for(connection("monitor-1", "online"), after=mark)

        edge.signal(signal.SIGTERM)
        assert await edge.wait(timeout=8) == 0, edge.output()
        assert any(line.get("msg") == "edge stopped" for line in edge.lines)


async def test_bad_ports_do_not_stop_the_other_devices(tmp_path: Path, monitor: PtyDevice) -> None:
    busy = PtyDevice(tmp_path / "ttyBUSY")
    holder = serial.Serial(str(busy.path), exclusive=True)
    try:
        config = write_config(
            tmp_path,
            [
                textline_device("monitor-1", monitor.path),
                textline_device("pump-missing", tmp_path / "ttyNOTHERE"),
                textline_device("pump-busy", busy.path),
            ],
        )
        async with running_daemon(config) as edge, feeding(Feeder(monitor, vitals_line(118))):
            missing = await edge.wait_for(message("cannot open link", session="pump-missing"))
            assert "no such port" in missing["error"]
            taken = await edge.wait_for(message("cannot open link", session="pump-busy"))
            assert "busy" in taken["error"]
            await edge.wait_for(reading("monitor-1", **{SYS: 118.0}))
            edge.signal(signal.SIGINT)
            assert await edge.wait(timeout=8) == 0, edge.output()
    finally:
        holder.close()
        busy.close()


async def test_stops_within_bounds_while_a_device_streams(
    tmp_path: Path, monitor: PtyDevice
) -> None:
    config = write_config(tmp_path, [textline_device("monitor-1", monitor.path)])
    async with (
        running_daemon(config) as edge,
        feeding(Feeder(monitor, vitals_line(120), period=0.01)),
    ):
        await edge.wait_for(reading("monitor-1", **{SYS: 120.0}))
        loop = asyncio.get_running_loop()
        started = loop.time()
        edge.signal(signal.SIGTERM)
        assert await edge.wait(timeout=8) == 0, edge.output()
        assert loop.time() - started < 5.0
        closed = [line for line in edge.lines if line.get("msg") == "link closed"]
        assert closed, "the session did not close its port on shutdown"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("site: [unclosed", "not valid YAML"),
        (
            "site: s\nedge_id: e\ndevices:\n  - {id: m, bed: nowhere, driver: textline, port: x}\n",
            "devices[0].bed: bed 'nowhere' is not declared",
        ),
        ("site: s\nedge_id: e\nmqtt: {urll: mqtt://x:1}\n", "mqtt.urll: unknown key"),
        (None, "no such file"),
    ],
)
async def test_refuses_a_bad_config_and_says_where(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    process = DaemonProcess("run", "--config", str(path))
    await process.start()
    code = await process.wait()
    assert code == 78, process.output()
    assert expected in process.output()
