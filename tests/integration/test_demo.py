"""The quick start's first command: the demo runs its simulated clinic, raises the
hypertensive chair's alarm within seconds, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from drivers.registry import driver_names
from edge.cli import DEFAULT_DEMO_CONFIG, main
from tests.edge.publish.broker_client import subscribed
from tests.integration.daemon_process import DaemonProcess
from tests.mosquitto import Mosquitto, find_mosquitto, free_port

pytestmark = pytest.mark.integration


def demo_config_on_free_ports(tmp_path: Path) -> Path:
    config = yaml.safe_load(DEFAULT_DEMO_CONFIG.read_text())
    for device in config["devices"]:
        device["port"] = f"socket://127.0.0.1:{free_port()}"
    config["http"]["port"] = free_port()
    config["log"] = {"level": "INFO", "format": "json"}
    config["storage"] = {
        "outbox_path": str(tmp_path / "outbox.sqlite"),
        "alarm_log_path": str(tmp_path / "alarm-log.sqlite"),
    }
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        response = await client.get(path)
        return response.status_code, response.content


async def hypertension_in_api(port: int) -> bool:
    try:
        status, body = await http_get(port, "/api/alarms")
    except httpx.HTTPError:
        return False
    alarms = json.loads(body)["alarms"] if status == 200 else []
    return any(a["bed"] == "chair-1" and a["rule"] == "hypertension" for a in alarms)


async def test_demo_serves_the_alarm_and_metrics_and_stops_on_ctrl_c(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    config_path = demo_config_on_free_ports(tmp_path)
    http_port = yaml.safe_load(config_path.read_text())["http"]["port"]
    demo = DaemonProcess("demo", "--config", str(config_path), "--broker", mosquitto.url)
    async with subscribed(mosquitto.port, "infusion-edge/v1/demo-clinic/#") as subscriber:
        await demo.start()
        try:
            await subscriber.wait_until(
                lambda: any(
                    m.json()["alarm"]["bed"] == "chair-1"
                    and m.json()["alarm"]["rule"] == "hypertension"
                    for m in subscriber.on("/alarm-log")
                ),
                timeout=30,
            )
            await subscriber.wait_until(
                lambda: (
                    {m.topic.split("/")[6] for m in subscriber.on("/telemetry")}
                    >= {"pump-1", "monitor-1", "pump-4", "monitor-4", "monitor-5", "oximeter-5"}
                ),
                timeout=30,
            )
            for _ in range(60):  # the dashboard shows it too, within 30 s of the start
                if await hypertension_in_api(http_port):
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError("/api/alarms never held chair 1's hypertension")
            status, exposition = await http_get(http_port, "/metrics")
            assert status == 200
            assert b"infusion_edge_alarms_active" in exposition
            assert b"infusion_edge_dashboard_broker_connected 1.0" in exposition  # its own view
            if shutil.which("promtool"):
                checked = subprocess.run(
                    ["promtool", "check", "metrics"],
                    input=exposition,
                    capture_output=True,
                    check=False,
                )
                assert checked.returncode == 0, checked.stdout + checked.stderr
            demo.signal(signal.SIGINT)
            assert await demo.wait(timeout=15) == 0, demo.output()
            assert not any(e.get("level") == "error" for e in demo.lines), demo.output()
        finally:
            await demo.stop()


@pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")
async def test_demo_embeds_its_own_broker_and_ctrl_c_stops_it_last(tmp_path: Path) -> None:
    config = demo_config_on_free_ports(tmp_path)
    demo = DaemonProcess("demo", "--config", str(config), own_group=True)
    await demo.start()
    try:
        await demo.wait_for(lambda e: e.get("msg") == "broker connected", timeout=20)
        await demo.wait_for(lambda e: e.get("msg") == "dashboard subscribed", timeout=20)
        demo.signal_group(signal.SIGINT)  # Ctrl-C: the whole foreground group gets SIGINT
        assert await demo.wait(timeout=15) == 0, demo.output()
        messages = [e.get("msg") for e in demo.lines]
        # The broker outlives the daemon: the edge says "offline" before the broker goes.
        assert "broker disconnected cleanly" in messages, demo.output()
        assert not any(e.get("level") == "error" for e in demo.lines), demo.output()
    finally:
        await demo.stop()


def test_drivers_lists_every_registered_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == driver_names()
