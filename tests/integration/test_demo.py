"""The quick start's first command: the demo runs, its devices come online, Ctrl-C stops it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from drivers.registry import driver_names
from edge.cli import DEFAULT_DEMO_CONFIG, main
from tests.integration.daemon_process import DaemonProcess
from tests.mosquitto import free_port

pytestmark = pytest.mark.integration


def demo_config_on_free_ports(tmp_path: Path) -> Path:
    config = yaml.safe_load(DEFAULT_DEMO_CONFIG.read_text())
    for device in config["devices"]:
        device["port"] = f"socket://127.0.0.1:{free_port()}"
    config["log"] = {"level": "DEBUG", "format": "json"}
    config["mqtt"] = {"url": f"mqtt://127.0.0.1:{free_port()}"}
    config["storage"] = {
        "outbox_path": str(tmp_path / "outbox.sqlite"),
        "alarm_log_path": str(tmp_path / "alarm-log.sqlite"),
    }
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_demo_brings_every_device_online_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config_path = demo_config_on_free_ports(tmp_path)
    devices = {d["id"] for d in yaml.safe_load(config_path.read_text())["devices"]}
    demo = DaemonProcess("demo", "--config", str(config_path), "--speed", "60")
    await demo.start()
    try:
        online: set[str] = set()
        while online != devices:
            line = await demo.wait_for(
                lambda e: (
                    e.get("msg") == "device connection"
                    and e.get("connection") == "online"
                    and e.get("device") not in online
                ),
            )
            online.add(line["device"])
        pump = await demo.wait_for(lambda e: e.get("msg") == "reading" and e.get("kind") == "pump")
        assert pump["MDC_FLOW_FLUID_PUMP"] > 0
        demo.signal(signal.SIGINT)
        assert await demo.wait(timeout=10) == 0, demo.output()
        assert not any(e.get("level") == "error" for e in demo.lines), demo.output()
    finally:
        await demo.stop()


def test_drivers_lists_every_registered_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == driver_names()
