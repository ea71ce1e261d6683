"""The demo always starts: simulators on ports found free at start (the config's own ports may
be taken), the environment's broker honoured like ``--broker``, a taken HTTP port or a broker
that cannot listen reported in one line with the option to change, and a second run after
Ctrl-C that starts clean."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from drivers.sim.serve import TcpPort
from edge import demo as demo_module
from edge import embedded_broker
from edge.cli import DEFAULT_DEMO_CONFIG
from edge.config import Config, load_config
from edge.embedded_broker import BrokerUnavailableError, EmbeddedBroker
from edge.startup import StartupError
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import REPO_ROOT, DaemonProcess
from tests.mosquitto import Mosquitto, find_mosquitto

pytestmark = pytest.mark.integration

needs_mosquitto = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is missing")


def _listener(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port that another process listens on for the whole test."""
    with _listener() as sock:
        yield sock.getsockname()[1]


def _demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=REPO_ROOT,
        env=env,
    )


def test_a_taken_http_port_is_one_line_naming_it_and_the_option(taken_port: int) -> None:
    result = _demo("--http-port", str(taken_port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"infusion-edge: cannot start: the dashboard's HTTP port 127.0.0.1:{taken_port} is "
        "already in use; choose another with --http-port PORT (0: any free port)"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert "dashboard     http" not in result.stdout  # no banner for a demo that did not start


@needs_mosquitto
async def test_the_embedded_broker_takes_another_port_when_its_own_is_taken(
    taken_port: int,
) -> None:
    broker = EmbeddedBroker()
    broker.port = taken_port  # taken between the choice and Mosquitto's bind
    async with broker:
        assert broker.port != taken_port
        _, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        writer.close()
        await writer.wait_closed()


@needs_mosquitto
async def test_a_broker_that_cannot_listen_is_named_with_its_port(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_broker, "_free_port", lambda: taken_port)
    with pytest.raises(BrokerUnavailableError) as raised:
        async with EmbeddedBroker():
            pass
    message = str(raised.value)
    assert f"127.0.0.1:{taken_port}" in message
    assert "Address already in use" in message  # what Mosquitto said
    assert "--broker mqtt://HOST:PORT" in message


def _banner(demo: DaemonProcess) -> dict[str, str]:
    """The banner's simulator addresses: device id -> host:port, and its state folder."""
    found: dict[str, str] = {}
    for line in demo.raw:
        for device, where in re.findall(r"([a-z]+-\d) (127\.0\.0\.1:\d+)", line):
            found[device] = where
        if line.strip().startswith("state "):
            found["state"] = line.split()[1]
    return found


async def _one_run(
    config: Path, broker: Mosquitto, subscriber: Subscriber, taken: set[int]
) -> tuple[str, datetime]:
    """Run the demo with the broker given in the environment until chair 1's hypertension
    is raised; Ctrl-C; the alarm's id and when it was raised."""
    started = len(subscriber.messages)
    demo = DaemonProcess(
        "demo",
        "--config",
        str(config),
        "--http-port",
        "0",
        env={"INFUSION_EDGE_MQTT__URL": broker.url},
        own_group=True,
    )
    await demo.start()
    try:
        await demo.wait_for(lambda e: e.get("msg") == "broker connected", timeout=20)

        def raised() -> list[dict[str, object]]:
            return [
                m.json()["alarm"]
                for m in subscriber.messages[started:]
                if m.topic.endswith("/alarm-log")
                and m.json()["alarm"]["bed"] == "chair-1"
                and m.json()["alarm"]["rule"] == "hypertension"
            ]

        await subscriber.wait_until(lambda: bool(raised()), timeout=30)
        banner = _banner(demo)
        ports = {int(where.rsplit(":", 1)[1]) for key, where in banner.items() if key != "state"}
        assert len(ports) == 11, demo.output()
        assert not ports & taken  # the config's ports are taken: others were found

        def reporting() -> set[str]:
            return {
                m.topic.split("/")[6]
                for m in subscriber.messages[started:]
                if m.topic.endswith("/telemetry")
            }

        await subscriber.wait_until(lambda: {"pump-1", "monitor-1"} <= reporting(), timeout=20)
        state = Path(banner["state"])
        assert state.is_dir()  # noqa: ASYNC240 (a stat, in a test)
        demo.signal_group(signal.SIGINT)
        assert await demo.wait(timeout=15) == 0, demo.output()
        assert not state.exists()  # noqa: ASYNC240 (the demo's state went with it)
        assert not any(e.get("level") == "error" for e in demo.lines), demo.output()
        (alarm, *_) = raised()
        return str(alarm["alarm_id"]), datetime.fromisoformat(str(alarm["raised_at"]))
    finally:
        await demo.stop()


@needs_mosquitto
async def test_env_broker_taken_config_ports_and_a_clean_second_run(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    config = yaml.safe_load(DEFAULT_DEMO_CONFIG.read_text())
    listeners = [_listener() for _ in config["devices"]]
    try:
        taken = {sock.getsockname()[1] for sock in listeners}
        for device, port in zip(config["devices"], sorted(taken), strict=True):
            device["port"] = f"socket://127.0.0.1:{port}"
        config["log"] = {"level": "INFO", "format": "json"}
        config["storage"] = {
            "outbox_path": str(tmp_path / "state" / "outbox.sqlite"),
            "alarm_log_path": str(tmp_path / "state" / "alarm-log.sqlite"),
        }
        path = tmp_path / "demo.yaml"
        path.write_text(yaml.safe_dump(config))
        async with subscribed(mosquitto.port, "infusion-edge/v1/demo-clinic/#") as subscriber:
            first_id, first_at = await _one_run(path, mosquitto, subscriber, taken)
            second_started = datetime.now().astimezone()
            second_id, second_at = await _one_run(path, mosquitto, subscriber, taken)
        # Nothing restored: the second run raised its own alarm, after it started.
        assert second_at > first_at
        assert second_at >= second_started.replace(microsecond=0)
        assert not (tmp_path / "state").exists()  # the config's storage is not the demo's
        assert first_id != second_id
    finally:
        for sock in listeners:
            sock.close()


def test_the_demo_config_ports_lie_outside_the_ephemeral_range() -> None:
    config = yaml.safe_load(DEFAULT_DEMO_CONFIG.read_text())
    low, high = 32768, 60999
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if ephemeral.exists():
        low, high = map(int, ephemeral.read_text().split())
    for device in config["devices"]:
        port = int(device["port"].rsplit(":", 1)[1])
        assert not low <= port <= high, device["id"]


def _demo_config() -> Config:
    return load_config(DEFAULT_DEMO_CONFIG)


@needs_mosquitto
async def test_an_embedded_broker_that_cannot_listen_is_one_startup_line(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_broker, "_free_port", lambda: taken_port)
    with pytest.raises(StartupError) as raised:
        async with demo_module._broker(_demo_config(), None):
            pass
    (line,) = str(raised.value).splitlines()
    assert line.startswith(
        f"the embedded MQTT broker: mosquitto could not listen on 127.0.0.1:{taken_port}"
    )
    assert line.endswith("give --broker mqtt://HOST:PORT to use a running broker")


class _UnbindableTcpPort(TcpPort):
    """A simulator's port on an address this machine does not have (TEST-NET-1)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__("192.0.2.1", port)


async def test_a_simulator_that_cannot_listen_is_one_startup_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_module, "TcpPort", _UnbindableTcpPort)
    simulators = demo_module._Simulators(_demo_config())
    with pytest.raises(StartupError) as raised:
        async with asyncio.timeout(10):
            await simulators.run()
    (line,) = str(raised.value).splitlines()
    assert line.startswith("the simulator of ")
    assert "192.0.2.1:0 is not an address of this machine" in line
    assert line.endswith("the demo picks a free port for each: free some ports or open files")


@pytest.mark.parametrize("command", ["run", "dashboard"])
def test_run_and_dashboard_name_the_http_port_and_its_setting(
    command: str, taken_port: int, tmp_path: Path
) -> None:
    config = yaml.safe_load(DEFAULT_DEMO_CONFIG.read_text())
    config["http"]["port"] = taken_port
    config["storage"] = {
        "outbox_path": str(tmp_path / "outbox.sqlite"),
        "alarm_log_path": str(tmp_path / "alarm-log.sqlite"),
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert [x for x in result.stderr.splitlines() if "cannot start" in x] == [
        f"infusion-edge: cannot start: the dashboard's HTTP port 127.0.0.1:{taken_port} is "
        "already in use; change http.port in the config (or INFUSION_EDGE_HTTP__PORT)"
    ]
    assert "Traceback" not in result.stderr
