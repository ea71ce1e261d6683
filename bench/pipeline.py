"""End to end: simulated devices -> the daemon -> Mosquitto -> a subscriber, on loopback.

Three processes besides the broker: the simulators (:mod:`bench.simfarm`, every device on its
own TCP port), the daemon (:mod:`bench.edge_process`, i.e. ``infusion-edge run`` plus a task
counter) and this one, whose subscriber (QoS 1, persistent session) records every message.

Per point: wait until every device has delivered telemetry, then measure for ``duration_s``:

- readings/s: telemetry messages arriving at the subscriber in the window;
- latency: arrival at the subscriber minus the reading's ``ts`` (the host's receive time).
  This is receive-to-subscriber latency: framing, decode, alarm stage, outbox commit (fsync),
  publish, broker, subscriber. The serial wire time is excluded (here a loopback socket);
- CPU s per 1,000 readings and peak RSS (VmHWM) of the daemon process, from ``/proc``;
- loss: after SIGTERM (the daemon flushes its outbox) every ``seq`` from 1 to the last one of
  the daemon's session must have arrived; missing and duplicate counts are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from bench.common import SITE, Events, percentile, proc_sample, ward, ward_config
from edge.publish.connection import read_disconnect_reason
from tests.mosquitto import Mosquitto

__all__ = ["Point", "Subscriber", "Ward", "measure_point", "running_ward"]

ROOT = f"infusion-edge/v1/{SITE}/#"
REPO = Path(__file__).resolve().parents[1]


@dataclass(slots=True)
class Arrival:
    at: float
    session: str
    seq: int
    ts: float | None  # telemetry only: the reading's ts (Unix s)
    device_id: str | None


@dataclass(frozen=True, slots=True)
class AlarmArrival:
    """The first message of an alarm episode in state ``active``: when it arrived and when
    the alarm was raised (the receive time of the reading that fulfilled the rule), Unix s."""

    at: float
    alarm_id: str
    rule: str
    raised_at: float


class Subscriber:
    """Records every message under the site with its arrival time; reconnects by itself."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.arrivals: list[Arrival] = []
        self.alarms: dict[str, AlarmArrival] = {}  # by alarm_id, first active message
        self.subscribed = asyncio.Event()
        self.identifier = f"bench-sub-{uuid.uuid4().hex[:8]}"

    def _client(self, *, clean_session: bool) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier=self.identifier,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=clean_session,
            max_queued_incoming_messages=0,
        )

    async def run(self) -> None:
        while True:
            client = self._client(clean_session=False)
            try:
                async with client:
                    await client.subscribe(ROOT, qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        self._record(message.payload, str(message.topic))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)
            finally:
                read_disconnect_reason(client)

    async def end_session(self) -> None:
        """Connect once with a clean session: the broker drops the persistent one."""
        client = self._client(clean_session=True)
        try:
            async with client:
                pass
        except aiomqtt.MqttError:
            pass  # broker down: nothing more will be queued for the session
        finally:
            read_disconnect_reason(client)

    def _record(self, payload: Any, topic: str) -> None:
        now = time.time()
        if not isinstance(payload, bytes) or not payload:
            return
        body = json.loads(payload)
        seq = body.get("seq", 0)
        if not seq:
            return
        if "/alarms/" in topic and body.get("state") == "active":
            alarm_id = body["alarm_id"]
            if alarm_id not in self.alarms:
                raised_at = datetime.fromisoformat(body["raised_at"]).timestamp()
                self.alarms[alarm_id] = AlarmArrival(now, alarm_id, body["rule"], raised_at)
        telemetry = topic.endswith("/telemetry")
        ts = datetime.fromisoformat(body["ts"]).timestamp() if telemetry else None
        self.arrivals.append(
            Arrival(now, body["session"], seq, ts, body.get("device_id") if telemetry else None)
        )

    def telemetry_devices(self) -> int:
        return len({a.device_id for a in self.arrivals if a.device_id is not None})

    def check(self, session: str) -> tuple[int, int, int]:
        """(last seq, missing, duplicates) of ``session``."""
        seqs = [a.seq for a in self.arrivals if a.session == session]
        if not seqs:
            return 0, 0, 0
        unique = set(seqs)
        last = max(unique)
        return last, last - len(unique), len(seqs) - len(unique)


@contextlib.asynccontextmanager
async def subscribed(port: int) -> AsyncIterator[Subscriber]:
    """A running :class:`Subscriber`; on exit its persistent session is ended at the broker,
    which would otherwise queue every later message of the site for it (the broker serves
    every part of a run: left behind, old sessions slow down the parts after them)."""
    subscriber = Subscriber(port)
    task = asyncio.create_task(subscriber.run(), name="bench-subscriber")
    try:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        yield subscriber
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await subscriber.end_session()


@dataclass
class Ward:
    """The running simulators and daemon of one point."""

    farm: asyncio.subprocess.Process
    daemon: asyncio.subprocess.Process
    probe: Path
    directory: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def probes(self) -> list[dict[str, Any]]:
        if not self.probe.exists():
            return []
        return [json.loads(line) for line in self.probe.read_text().splitlines() if line]

    async def stop_daemon(self) -> int:
        if self.daemon.returncode is None:
            self.daemon.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            return await self.daemon.wait()

    def log_tail(self) -> str:
        path = self.directory / "daemon.log"
        return "\n".join(path.read_text().splitlines()[-20:]) if path.exists() else ""


async def _python(*args: str, stdout: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=stdout,
        stderr=stdout if stdout != asyncio.subprocess.PIPE else asyncio.subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@contextlib.asynccontextmanager
async def running_ward(
    devices: int,
    broker: Mosquitto,
    directory: Path,
    *,
    pump_poll_s: float = 1.0,
    monitor_poll_s: float = 1.0,
    speed: float = 1.0,
    events: Events | None = None,
    http: dict[str, Any] | None = None,
) -> AsyncIterator[Ward]:
    """Simulators and the daemon for ``devices`` devices, stopped on exit; ``http``: the
    dashboard's config (default: no dashboard)."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before any load)
    event_args = [] if events is None else ["--events", *map(str, astuple(events))]
    farm = await _python(
        "-m",
        "bench.simfarm",
        "--devices",
        str(devices),
        "--speed",
        str(speed),
        *event_args,
        stdout=asyncio.subprocess.PIPE,
    )
    daemon: asyncio.subprocess.Process | None = None
    try:
        assert farm.stdout is not None
        async with asyncio.timeout(60):
            line = await farm.stdout.readline()
        ports = json.loads(line)["ports"]
        config = ward_config(
            ward(devices, ports, events),
            directory,
            broker.url,
            pump_poll_s=pump_poll_s,
            monitor_poll_s=monitor_poll_s,
        )
        if http is not None:
            config["http"] = http
        config_path = directory / "edge.yaml"
        config_path.write_text(yaml.safe_dump(config))
        probe = directory / "probe.jsonl"
        with (directory / "daemon.log").open("wb") as log:
            daemon = await _python(
                "-m", "bench.edge_process", str(config_path), str(probe), stdout=log
            )
        yield Ward(farm, daemon, probe, directory)
    finally:
        for process in (daemon, farm):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(15):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


@dataclass(frozen=True)
class Point:
    """One measured point."""

    devices: int
    readings_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1000: float
    peak_rss_mb: float
    farm_cpu_share: float
    last_seq: int
    missing: int
    duplicates: int
    exit_code: int


async def wait_all_online(subscriber: Subscriber, devices: int, limit_s: float = 90) -> None:
    async with asyncio.timeout(limit_s):
        while subscriber.telemetry_devices() < devices:
            await asyncio.sleep(0.2)


async def settle(subscriber: Subscriber, session: str, limit_s: float = 20) -> None:
    """Wait until the session's messages stop arriving with gaps (or ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        _, missing, _ = subscriber.check(session)
        if missing == 0:
            return
        await asyncio.sleep(0.2)


async def measure_point(
    devices: int,
    duration_s: float,
    broker: Mosquitto,
    directory: Path,
    *,
    pump_poll_s: float = 1.0,
    monitor_poll_s: float = 1.0,
) -> Point:
    """One end-to-end point (see the module docstring)."""
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(
            devices, broker, directory, pump_poll_s=pump_poll_s, monitor_poll_s=monitor_poll_s
        ) as running,
    ):
        await wait_all_online(subscriber, devices)
        await asyncio.sleep(2.0)  # past the connection burst
        before, farm_before = proc_sample(running.daemon.pid), proc_sample(running.farm.pid)
        started = time.time()
        await asyncio.sleep(duration_s)
        after, farm_after = proc_sample(running.daemon.pid), proc_sample(running.farm.pid)
        ended = time.time()
        window = [a for a in subscriber.arrivals if a.ts is not None and started <= a.at < ended]
        session = window[-1].session if window else ""
        exit_code = await running.stop_daemon()
        await settle(subscriber, session)
        last, missing, duplicates = subscriber.check(session)
    latencies = [(a.at - a.ts) * 1000 for a in window if a.ts is not None]
    elapsed = ended - started
    return Point(
        devices,
        len(window) / elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        (after.cpu_s - before.cpu_s) / max(len(window), 1) * 1000,
        after.peak_rss / 2**20,
        (farm_after.cpu_s - farm_before.cpu_s) / elapsed,
        last,
        missing,
        duplicates,
        exit_code,
    )


async def main(points: list[int], duration_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            for n in points:
                print(await measure_point(n, duration_s, broker, Path(tmp) / f"n{n}"), flush=True)
        finally:
            broker.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[10])
    parser.add_argument("--seconds", type=float, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.devices, arguments.seconds))
