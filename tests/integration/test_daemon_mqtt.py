"""The daemon publishing to a real Mosquitto: telemetry, device state, retained status, and no
message lost across SIGKILL and restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sqlite3
from pathlib import Path

import pytest

from drivers.textline.codec import encode_vitals
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

ROOT = "infusion-edge/v1/test-site/#"
STATUS = "infusion-edge/v1/test-site/edges/test-edge/status"


def statuses(subscriber: Subscriber) -> list[str]:
    return [m.json()["state"] for m in subscriber.messages if m.topic == STATUS and m.payload]


async def test_readings_reach_the_broker_with_their_envelope(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    config = write_config(tmp_path, [textline_device("monitor-1", monitor.path)], mosquitto.url)
    line = encode_vitals({"SBP": 133, "DBP": 86, "HR": 71}).to_bytes()
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        running_daemon(config) as edge,
        feeding(Feeder(monitor, line)),
    ):
        await subscriber.wait_until(lambda: len(subscriber.on("/telemetry")) >= 3)
        reading = subscriber.on("/telemetry")[0]
        assert reading.topic == "infusion-edge/v1/test-site/beds/bed-1/devices/monitor-1/telemetry"
        body = reading.json()
        assert body["schema"] == "infusion-edge.telemetry/1"
        assert body["edge_id"] == "test-edge"
        assert body["seq"] >= 1
        assert body["kind"] == "vitals"
        values = {o["code"]: o["value"] for o in body["observations"]}
        assert values["MDC_PRESS_BLD_NONINV_SYS"] == 133
        await subscriber.wait_until(
            lambda: any(m.json()["connection"] == "online" for m in subscriber.on("/state"))
        )
        state = subscriber.on("/state")[-1]
        assert state.topic.endswith("/beds/bed-1/devices/monitor-1/state")
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()


async def test_status_is_online_then_offline_on_sigterm_and_lost_on_sigkill(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    config = write_config(tmp_path, [textline_device("monitor-1", monitor.path)], mosquitto.url)
    async with subscribed(mosquitto.port, ROOT) as subscriber:
        async with running_daemon(config) as edge:
            await subscriber.wait_until(lambda: statuses(subscriber) == ["online"])
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
        await subscriber.wait_until(lambda: statuses(subscriber) == ["online", "offline"])

        async with running_daemon(config) as edge:
            await subscriber.wait_until(lambda: statuses(subscriber)[-1:] == ["online"])
            edge.signal(signal.SIGKILL)
            await edge.wait()
        # The broker notices the dead connection and publishes the retained will.
        await subscriber.wait_until(lambda: statuses(subscriber)[-1:] == ["lost"], timeout=60)
        last = [m for m in subscriber.messages if m.topic == STATUS][-1]
        assert last.json()["seq"] == 0


def committed_but_unsent(outbox: Path) -> set[tuple[str, int]]:
    """(session, seq) of every message the killed daemon had stored and not yet delivered."""
    if not outbox.exists():
        return set()
    with contextlib.closing(sqlite3.connect(outbox)) as db:
        rows = db.execute("SELECT payload FROM outbox").fetchall()
    return {(json.loads(p)["session"], json.loads(p)["seq"]) for (p,) in rows}


async def test_sigkill_at_random_points_loses_nothing(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    config = write_config(
        tmp_path, [textline_device("monitor-1", monitor.path, timeout_s=2)], mosquitto.url
    )
    outbox = tmp_path / "outbox.sqlite"
    rng = random.Random(7)
    must_arrive: set[tuple[str, int]] = set()
    feeder = Feeder(monitor, encode_vitals({"HR": 70}).to_bytes(), period=0.01)
    async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(feeder):
        for _ in range(10):
            async with running_daemon(config) as edge:
                await edge.wait_for(lambda e: e.get("msg") == "reading")
                await asyncio.sleep(rng.uniform(0.05, 1.0))
                edge.signal(signal.SIGKILL)
                await edge.wait()
            must_arrive |= committed_but_unsent(outbox)
        async with running_daemon(config) as edge:

            def delivered() -> set[tuple[str, int]]:
                return {
                    (m.json()["session"], m.json()["seq"])
                    for m in subscriber.messages
                    if m.payload and m.json()["seq"] > 0
                }

            await edge.wait_for(lambda e: e.get("msg") == "broker connected")
            await subscriber.wait_until(lambda: must_arrive <= delivered(), timeout=30)
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
        assert committed_but_unsent(outbox) == set()
    received = delivered()
    sessions: dict[str, list[int]] = {}
    for session, seq in received:
        sessions.setdefault(session, []).append(seq)
    assert len(sessions) == 11
    for seqs in sessions.values():
        # seq is given when a message is stored: a gap would be a stored message lost.
        assert sorted(seqs) == list(range(1, max(seqs) + 1))
    assert must_arrive, "the kills never caught a message in the outbox"
