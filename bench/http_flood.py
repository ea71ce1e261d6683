"""The dashboard under a connection flood: a nurse's acknowledgements and the alarm latency,
quiet then flooded, in one run.

The daemon (:mod:`bench.edge_process`, its dashboard on with the default connection limits)
serves ``devices`` devices on the ``occlusion`` scenario, bed ``i`` reaching its pump's
occlusion alarm ``first_s + i * spread_s / beds`` s after the simulators start (as in
:mod:`bench.alarm_latency`). Halfway through the alarms the flood starts, from loopback and
until the end of the run: ``idle`` sockets that never send a byte (each one opened again
:data:`REOPEN_S` after the server closed it, so that many are open or opening throughout), and
``streams`` attempts at ``GET /api/events`` spread over ``sessions`` viewer logins (with the
defaults 8 per login and 100 in all are admitted; the admitted ones are read to the end). A
nurse, logged in on the same host, acknowledges every alarm as soon as it reaches the MQTT
subscriber, through the daemon's own dashboard (``POST /api/alarms/{id}/ack``, which signs
it); the time to each answer is recorded. Per phase (an alarm belongs to the flood when it
was raised after the flood started): the nurse's answer time (max and p50), the alarm latency
to the subscriber (p50 and max, as in :mod:`bench.alarm_latency`) and the daemon's RSS.

Usage: ``python -m bench.http_flood [--devices 40] [--idle 500] [--streams 500]
[--sessions 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.alarm_latency import OCCLUSION_AT_S, TIMER_RULES
from bench.common import Events, percentile, proc_sample
from bench.pipeline import Subscriber, running_ward, subscribed, wait_all_online
from edge.web.passwords import hash_password
from tests.mosquitto import Mosquitto, free_port

__all__ = ["Flood", "FloodResult", "http_flood"]

NURSE, VIEWER = "nurse.bench", "viewer.bench"
PASSWORD = "the benchmark's long password"
COOKIE = "infusion_edge_session"
REOPEN_S = 1.0  # an idle socket closed by the server is opened again after this
ACK_POLL_S = 0.02


@dataclass
class Flood:
    """What the flood did: streams by status, idle sockets opened and closed by the server."""

    streams: Counter[int] = field(default_factory=Counter)
    idle_opened: int = 0
    idle_closed: int = 0
    started: float = 0.0  # Unix s


@dataclass(frozen=True)
class FloodResult:
    """One run's figures: per phase (``quiet``, ``flood``) lists of ms, and RSS in MB."""

    devices: int
    acks_ms: dict[str, list[float]]
    alarm_ms: dict[str, list[float]]
    rss_mb: dict[str, float]  # "quiet", "flood": at each phase's end; "peak": VmHWM
    cpu: dict[str, float]  # the daemon's CPU per phase, in cores
    streams: dict[int, int]  # HTTP status -> attempts
    idle_opened: int
    idle_closed: int


async def _idle(port: int, flood: Flood) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(REOPEN_S)
            continue
        flood.idle_opened += 1
        try:
            with contextlib.suppress(ConnectionError):
                while await reader.read(4096):
                    pass
            flood.idle_closed += 1
        finally:
            writer.close()
        await asyncio.sleep(REOPEN_S)


async def _stream(port: int, cookie: str, flood: Flood) -> None:
    request = (
        f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {COOKIE}={cookie}\r\n\r\n"
    ).encode()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        flood.streams[0] += 1
        return
    status = 0
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split()[1])
        flood.streams[status] += 1
        while await reader.read(65536):
            pass
    except (ConnectionError, asyncio.IncompleteReadError):
        if not status:
            flood.streams[0] += 1
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def flooding(port: int, idle: int, streams: int, cookies: list[str]) -> AsyncIterator[Flood]:
    """The flood, running while inside."""
    flood = Flood(started=time.time())
    tasks = [asyncio.create_task(_idle(port, flood)) for _ in range(idle)]
    tasks += [
        asyncio.create_task(_stream(port, cookies[i % len(cookies)], flood)) for i in range(streams)
    ]
    try:
        yield flood
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _login(base: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    response.raise_for_status()
    return client


async def _nurse(client: httpx.AsyncClient, subscriber: Subscriber, answers: list[Any]) -> None:
    """Acknowledge every alarm that reaches ``subscriber``: (raised_at, answer s) in
    ``answers``; an alarm the dashboard does not show yet (404) is tried again."""
    done: set[str] = set()
    while True:
        for alarm in list(subscriber.alarms.values()):
            if alarm.alarm_id in done or alarm.rule in TIMER_RULES:
                continue
            started = time.monotonic()
            response = await client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
            if response.status_code != 404:
                answers.append((alarm.raised_at, time.monotonic() - started, response.status_code))
                done.add(alarm.alarm_id)
        await asyncio.sleep(ACK_POLL_S)


def _http_config(port: int) -> dict[str, Any]:
    hashed = hash_password(PASSWORD)
    return {
        "port": port,
        "session_secret": "b" * 40,
        "users": [
            {"name": NURSE, "role": "nurse", "password_hash": hashed},
            {"name": VIEWER, "role": "viewer", "password_hash": hashed},
        ],
    }


async def http_flood(
    devices: int,
    broker: Mosquitto,
    directory: Path,
    *,
    idle: int = 500,
    streams: int = 500,
    sessions: int = 20,
    first_s: float = 40.0,
    spread_s: float = 60.0,
    settle_s: float = 10.0,
) -> FloodResult:
    """One run (see the module docstring)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    events = Events("occlusion", OCCLUSION_AT_S, first_s, spread_s)
    answers: list[tuple[float, float, int]] = []
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(devices, broker, directory, events=events, http=_http_config(port)) as ward,
    ):
        started = time.time()
        await wait_all_online(subscriber, devices, limit_s=first_s - 2)
        nurse = await _login(base, NURSE)
        viewers = [await _login(base, VIEWER) for _ in range(sessions)]
        cookies = [v.cookies[COOKIE] for v in viewers]
        acker = asyncio.create_task(_nurse(nurse, subscriber, answers), name="bench.nurse")
        try:
            samples = [(time.monotonic(), proc_sample(ward.daemon.pid))]
            await asyncio.sleep(max(0.0, started + first_s + spread_s / 2 - time.time()))
            samples.append((time.monotonic(), proc_sample(ward.daemon.pid)))
            async with flooding(port, idle, streams, cookies) as flood:
                end = started + first_s + spread_s + settle_s
                await asyncio.sleep(max(0.0, end - time.time()))
                samples.append((time.monotonic(), proc_sample(ward.daemon.pid)))
        finally:
            acker.cancel()
            await asyncio.gather(acker, return_exceptions=True)
            for client in (nurse, *viewers):
                await client.aclose()
    failed = [a for a in answers if a[2] != 202]
    if failed:
        raise RuntimeError(f"acknowledgements not accepted: {failed[:5]}")
    raised = [a for a in subscriber.alarms.values() if a.rule not in TIMER_RULES]
    (t0, s0), (t1, s1), (t2, s2) = samples
    rss = {"quiet": s1.rss / 2**20, "flood": s2.rss / 2**20, "peak": s2.peak_rss / 2**20}
    cpu = {"quiet": (s1.cpu_s - s0.cpu_s) / (t1 - t0), "flood": (s2.cpu_s - s1.cpu_s) / (t2 - t1)}
    return FloodResult(
        devices,
        _phases([(t, s * 1000) for t, s, _ in answers], flood.started),
        _phases([(a.raised_at, (a.at - a.raised_at) * 1000) for a in raised], flood.started),
        rss,
        cpu,
        dict(sorted(flood.streams.items())),
        flood.idle_opened,
        flood.idle_closed,
    )


def _phases(figures: list[tuple[float, float]], flood_started: float) -> dict[str, list[float]]:
    return {
        "quiet": [ms for t, ms in figures if t < flood_started],
        "flood": [ms for t, ms in figures if t >= flood_started],
    }


def table(result: FloodResult) -> list[str]:
    """The figures of ``result`` as Markdown lines."""
    r = result

    def show(values: list[float], q: float) -> str:
        return f"{percentile(values, q):,.0f}" if values else "-"

    lines = [
        "| phase | acks answered | ack answer p50 ms | ack answer max ms "
        "| alarms | alarm latency p50 ms | alarm latency max ms | daemon RSS MB | daemon CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in ("quiet", "flood"):
        acks, alarms = r.acks_ms[phase], r.alarm_ms[phase]
        lines.append(
            f"| {phase} | {len(acks)} | {show(acks, 0.5)} | {show(acks, 1.0)} | {len(alarms)} "
            f"| {show(alarms, 0.5)} | {show(alarms, 1.0)} | {r.rss_mb[phase]:.0f} "
            f"| {r.cpu[phase]:.2f} |"
        )
    streams = ", ".join(f"{status or 'failed'}: {n}" for status, n in r.streams.items())
    return [
        *lines,
        "",
        f"{r.devices} devices. Stream attempts by answer: {streams}. Idle sockets opened "
        f"{r.idle_opened:,}, closed by the server {r.idle_closed:,}. Daemon peak RSS "
        f"(VmHWM) {r.rss_mb['peak']:.0f} MB.",
    ]


def raise_open_files(needed: int) -> None:
    """This process holds every flood socket: raise its soft ``RLIMIT_NOFILE`` if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def main(args: argparse.Namespace) -> None:
    raise_open_files(args.idle + args.streams + 512)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            result = await http_flood(
                args.devices,
                broker,
                Path(tmp) / "flood",
                idle=args.idle,
                streams=args.streams,
                sessions=args.sessions,
            )
        finally:
            broker.stop()
    print("\n".join(table(result)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
