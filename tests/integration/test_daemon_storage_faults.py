"""Storage faults never stop the alarms: the daemon as a subprocess, a monitor on a pty, a real
Mosquitto, and a store that fails for real: random bytes in the outbox and the alarm log, a
truncated outbox, a full tmpfs, a read-only mount (each mount in a private mount namespace,
``unshare -m``; file modes do not stop root). In each the daemon runs on, raises
``storage_fault`` on the bed, and a hypertension alarm raised during the fault reaches a
subscriber once the broker is reachable."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from edge.publish.outbox import MessageClass, NewMessage, Outbox
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import REPO_ROOT, DaemonProcess, LogLine
from tests.integration.test_daemon_alarms import ROOT, vitals
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto, free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

TMPFS_BYTES = 2 * 1024 * 1024


def alarms(subscriber: Subscriber, rule: str) -> list[dict[str, Any]]:
    """Alarm states published on the retained alarm topics of bed-1 for ``rule``."""
    found = []
    for m in subscriber.messages:
        if "/beds/bed-1/alarms/" in m.topic and not m.topic.endswith("/ack") and m.payload:
            payload = m.json()
            if payload.get("rule") == rule:
                found.append(payload)
    return found


def logged(msg: str, **fields: object) -> Callable[[LogLine], bool]:
    return lambda line: line.get("msg") == msg and all(line.get(k) == v for k, v in fields.items())


def storage_config(
    tmp_path: Path, store: Path, monitor: PtyDevice, url: str, http_port: int | None = None
) -> Path:
    """The daemon's config with its outbox and alarm log in ``store``."""
    path = write_config(tmp_path, [textline_device("monitor-1", monitor.path)], url)
    config = yaml.safe_load(path.read_text())
    if http_port is not None:
        config["http"] = {"enabled": True, "port": http_port}
    config["storage"] = {
        "outbox_path": str(store / "outbox.sqlite"),
        "alarm_log_path": str(store / "alarm-log.sqlite"),
        "retry_s": 1.0,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@asynccontextmanager
async def daemon(process: DaemonProcess) -> AsyncIterator[DaemonProcess]:
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def alarm_reaches_subscriber_during_the_fault(
    edge: DaemonProcess, feeder: Feeder, subscriber: Subscriber
) -> None:
    """storage_fault on bed-1, then a hypertension alarm, both seen by the subscriber."""
    await subscriber.wait_until(lambda: bool(alarms(subscriber, "storage_fault")))
    fault = alarms(subscriber, "storage_fault")[0]
    assert (fault["kind"], fault["priority"], fault["device_id"]) == ("technical", "low", None)
    assert fault["message"] == "Edge storage fault: alarms still work but are not saved to disk"
    feeder.line = vitals(204, 100)
    await subscriber.wait_until(lambda: bool(alarms(subscriber, "hypertension")))
    assert alarms(subscriber, "hypertension")[0]["priority"] == "high"


async def stops_cleanly(edge: DaemonProcess) -> None:
    assert edge._process is not None
    assert edge._process.returncode is None, edge.output()  # ran on through the fault
    edge.signal(signal.SIGTERM)
    assert await edge.wait() == 0, edge.output()
    assert not any("Traceback" in line for line in edge.raw), edge.output()


def moved_aside(store: Path) -> list[Path]:
    return list(store.glob("*.corrupt-*"))


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


async def a_truncated_outbox(path: Path) -> None:
    outbox = Outbox(path, 100_000, 3600)
    await outbox.open()
    await outbox.put([NewMessage("t", os.urandom(300), MessageClass.TELEMETRY)] * 3000)
    await outbox.close()
    truncate_half(path)


def truncate_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize("damage", ["random", "truncated"])
async def test_a_corrupt_outbox_and_alarm_log_are_moved_aside_and_alarms_go_on(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto, damage: str
) -> None:
    store = tmp_path / "var"
    store.mkdir()
    if damage == "random":
        random_bytes(store / "outbox.sqlite")
        random_bytes(store / "alarm-log.sqlite")
    else:
        await a_truncated_outbox(store / "outbox.sqlite")
    config = storage_config(tmp_path, store, monitor, mosquitto.url)
    feeder = Feeder(monitor, vitals(122, 78))
    async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(feeder):
        edge = DaemonProcess("run", "--config", str(config))
        async with daemon(edge):
            moved = await edge.wait_for(
                logged("corrupt file moved aside; starting a fresh one", store="outbox")
            )
            assert moved["path"] == str(store / "outbox.sqlite")
            aside = Path(moved["moved_to"])
            assert aside.name.startswith("outbox.sqlite.corrupt-")
            assert aside in moved_aside(store)
            if damage == "random":
                await edge.wait_for(
                    logged("corrupt file moved aside; starting a fresh one", store="alarm_log")
                )
            await alarm_reaches_subscriber_during_the_fault(edge, feeder, subscriber)
            await stops_cleanly(edge)
    assert (store / "outbox.sqlite").exists()  # the fresh one


@cache
def namespace_mounts_allowed() -> str | None:
    """Why a test cannot mount a tmpfs in a private mount namespace, or None if it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = Path(f"/tmp/infusion-edge-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {probe}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    finally:
        probe.rmdir()
    if result.returncode != 0:
        return f"cannot mount a tmpfs in a private mount namespace: {result.stderr.strip()}"
    return None


class NamespacedDaemon(DaemonProcess):
    """``infusion-edge run`` after ``prepare`` (a shell script, ``$1`` the store directory)
    in a private mount namespace of its own."""

    def __init__(self, prepare: str, store: Path, config: Path) -> None:
        super().__init__("run", "--config", str(config))
        self.script = f'{prepare} && exec "$2" -m edge.cli run --config "$3"'
        self.store = store
        self.config = config

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "unshare",
            "-m",
            "sh",
            "-c",
            self.script,
            "sh",
            str(self.store),
            sys.executable,
            str(self.config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=REPO_ROOT,
        )
        self._pump = asyncio.create_task(self._read_lines(), name="daemon-log-reader")

    def inside(self, path: Path) -> Path:
        """``path`` as the daemon sees it (through its mount namespace)."""
        assert self._process is not None
        return Path(f"/proc/{self._process.pid}/root{path}")


async def test_a_full_disk_with_the_broker_down_keeps_alarms_and_recovers(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    if (why := namespace_mounts_allowed()) is not None:
        pytest.skip(why)
    store = tmp_path / "var"
    store.mkdir()
    config = storage_config(tmp_path, store, monitor, mosquitto.url)
    free = 192 * 1024  # left for the outbox and the alarm log: gone in a few seconds of data
    prepare = (
        f'mount -t tmpfs -o size={TMPFS_BYTES} tmpfs "$1"'
        f' && head -c {TMPFS_BYTES - free} /dev/zero > "$1/filler"'
    )
    feeder = Feeder(monitor, vitals(122, 78), period=0.01)
    async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(feeder):
        mosquitto.stop()  # the subscriber's session waits in the broker's persistence
        edge = NamespacedDaemon(prepare, store, config)
        async with daemon(edge):
            fault = await edge.wait_for(logged("storage fault", store="outbox"), timeout=30)
            assert fault["kind"] == "full", edge.output()
            await edge.wait_for(logged("alarm", rule="storage_fault", transition="raised"))
            feeder.line = vitals(204, 100)
            await edge.wait_for(logged("alarm", rule="hypertension", transition="raised"))
            feeder.line = vitals(122, 78)
            feeder.period = 0.1
            mosquitto.start()
            await alarm_reaches_subscriber_during_the_fault(edge, feeder, subscriber)

            edge.inside(store / "filler").unlink()  # space again: memory -> disk, fault ends
            await edge.wait_for(logged("storage recovered", store="outbox"), timeout=20)
            await edge.wait_for(logged("alarm", rule="storage_fault", transition="ended"))
            await stops_cleanly(edge)


async def test_a_read_only_directory_keeps_alarms_going(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    if (why := namespace_mounts_allowed()) is not None:
        pytest.skip(why)
    store = tmp_path / "var"
    store.mkdir()
    port = free_port()
    config = storage_config(tmp_path, store, monitor, mosquitto.url, http_port=port)
    prepare = 'mount -t tmpfs -o size=1m tmpfs "$1" && mount -o remount,ro "$1"'
    feeder = Feeder(monitor, vitals(122, 78))
    async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(feeder):
        edge = NamespacedDaemon(prepare, store, config)
        async with daemon(edge):
            for name in ("outbox", "alarm_log"):
                fault = await edge.wait_for(logged("storage fault", store=name))
                assert fault["kind"] == "unavailable", edge.output()
            await alarm_reaches_subscriber_during_the_fault(edge, feeder, subscriber)
            await edge.wait_for(logged("dashboard and /metrics listening"))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["storage"] is False
                assert ready.json()["checks"]["broker"] is True
                metrics = (await http.get("/metrics")).text
            assert 'infusion_edge_storage_fault{store="outbox"} 1.0' in metrics
            assert 'infusion_edge_storage_fault{store="alarm_log"} 1.0' in metrics
            await stops_cleanly(edge)
