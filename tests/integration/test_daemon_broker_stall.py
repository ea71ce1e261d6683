"""The daemon against a broker that accepts connections but never acknowledges a publish:
/readyz and /metrics say so, nothing counts as delivered, and SIGTERM still exits in bounded
time although the publisher waits for a PUBACK that never comes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from drivers.textline.codec import encode_vitals
from edge.daemon import FLUSH_TIMEOUT_S
from tests.integration.daemon_process import LogLine, running_daemon
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import free_port
from tests.ptys import PtyDevice
from tests.silent_broker import SilentBroker

pytestmark = pytest.mark.integration

EDGE_CLIENT = "infusion-edge-test-edge"
EXIT_SLACK_S = 4.0  # beyond the flush timeout: the cancel grace, closing the stores, load


def stall_config(
    tmp_path: Path, monitor: PtyDevice, broker_port: int, http_port: int, **mqtt: float
) -> Path:
    return write_config(
        tmp_path,
        [textline_device("monitor-1", monitor.path)],
        mqtt={"url": f"mqtt://127.0.0.1:{broker_port}", **mqtt},
        http={"enabled": True, "port": http_port},
    )


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def stored(outbox: Path) -> int:
    with contextlib.closing(sqlite3.connect(outbox)) as db:
        count: int = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return count


def stalled(line: LogLine) -> bool:
    return str(line.get("msg", "")).startswith("broker stalled")


async def test_a_broker_that_never_acknowledges_makes_the_edge_not_ready(
    tmp_path: Path, monitor: PtyDevice
) -> None:
    fake_port, port = free_port(), free_port()
    config = stall_config(tmp_path, monitor, fake_port, port, ack_timeout_s=2)
    feeder = Feeder(monitor, encode_vitals({"HR": 70}).to_bytes())
    async with (
        SilentBroker(fake_port) as fake,
        feeding(feeder),
        running_daemon(config) as edge,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        await edge.wait_for(stalled, timeout=20)
        await edge.wait_for(lambda line: line.get("msg") == "dashboard and /metrics listening")
        assert fake.first_swallowed_at is not None
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] is False
        assert ready.json()["reasons"] == {"broker": "no PUBACK for 2 s"}
        metrics = (await http.get("/metrics")).text
        assert metric(metrics, "infusion_edge_mqtt_connected") == 0
        assert metric(metrics, "infusion_edge_mqtt_stalls_total") >= 1
        assert metric(metrics, "infusion_edge_mqtt_connect_failures_total") == 0
        assert metric(metrics, 'infusion_edge_mqtt_publishes_total{result="delivered"}') == 0
        edge.signal(signal.SIGTERM)
        assert await edge.wait(FLUSH_TIMEOUT_S + EXIT_SLACK_S) == 0, edge.output()
    assert fake.connects_of(EDGE_CLIENT) >= 1
    assert not any(line.get("msg") == "broker connected" for line in edge.lines)
    assert stored(tmp_path / "outbox.sqlite") > 0, "unacknowledged messages were dropped"


async def test_sigterm_while_waiting_for_a_puback_exits_within_the_flush_timeout(
    tmp_path: Path, monitor: PtyDevice
) -> None:
    fake_port = free_port()
    config = stall_config(tmp_path, monitor, fake_port, free_port())  # deadline: 10 s
    feeder = Feeder(monitor, encode_vitals({"HR": 70}).to_bytes())
    async with SilentBroker(fake_port) as fake, feeding(feeder), running_daemon(config) as edge:
        for _ in range(200):  # bounded: the edge's online status reaches the fake
            if fake.first_swallowed_at is not None:
                break
            await asyncio.sleep(0.05)
        assert fake.first_swallowed_at is not None, edge.output()
        await edge.wait_for(lambda line: line.get("msg") == "reading")
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        edge.signal(signal.SIGTERM)
        assert await edge.wait(FLUSH_TIMEOUT_S + EXIT_SLACK_S) == 0, edge.output()
        assert loop.time() - signalled <= FLUSH_TIMEOUT_S + EXIT_SLACK_S
    assert stored(tmp_path / "outbox.sqlite") > 0, "unacknowledged messages were dropped"
