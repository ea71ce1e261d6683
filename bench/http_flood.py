"""The dashboard under a connection flood: a nurse's acknowledgements and the alarm latency,
in quiet and flooded phases that alternate within one run.

The daemon (:mod:`bench.edge_process`, its dashboard on with the default connection limits)
serves ``devices`` devices on the ``occlusion`` scenario, bed ``i`` reaching its pump's
occlusion alarm ``first_s + i * spread_s / beds`` s after the simulators start (as in
:mod:`bench.alarm_latency`). The alarms' window is cut into ``blocks`` equal blocks, quiet and
flooded in turn (quiet first; the last block lasts to the end of the run), so that a change in
the machine's other load falls on both phases alike. During a flooded block the flood runs
from loopback in a process of its own (:mod:`bench.flood_client`): ``idle`` sockets that never
send a byte and ``streams`` attempts at ``GET /api/events`` spread over ``sessions`` viewer
logins (with the defaults 8 per login and 100 in all are admitted and read). A nurse, logged
in on the same host, acknowledges every alarm as soon as it reaches the MQTT subscriber,
through the daemon's own dashboard (``POST /api/alarms/{id}/ack``, which signs it); the time
to each answer is recorded. Per phase (an alarm or a reading belongs to the block in which it
was raised or received): the nurse's answer time, the alarm latency to the subscriber (as in
:mod:`bench.alarm_latency`), the telemetry latency (every reading: many more samples than the
alarms), the daemon's CPU and RSS; the bytes per second the admitted streams read while
flooding. ``pin``: the daemon on CPU 0, everything else of the run
(this process, the flood, the simulators, the broker) on CPU 1, to tell the daemon's own cost
from plain CPU contention on the machine.

``compare``: the flooded blocks alternate streams that ask for whole beds (``?beds=whole``,
what every stream got before bed deltas) and streams that get deltas, in the order quiet,
whole, quiet, deltas, quiet, deltas, quiet, whole (both at the same mean position: the later
blocks are the heavier ones), to compare the two in one run.

Usage: ``python -m bench.http_flood [--devices 40] [--idle 500] [--streams 500]
[--sessions 20] [--blocks 4] [--spread 60] [--compare] [--pin]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.alarm_latency import OCCLUSION_AT_S, TIMER_RULES
from bench.common import Events, ProcSample, percentile, proc_sample
from bench.pipeline import REPO, Subscriber, running_ward, subscribed, wait_all_online
from edge.web.passwords import hash_password
from tests.mosquitto import Mosquitto, free_port

__all__ = ["FloodResult", "http_flood"]

NURSE, VIEWER = "nurse.bench", "viewer.bench"
PASSWORD = "the benchmark's long password"
COOKIE = "infusion_edge_session"
ACK_POLL_S = 0.02
PHASES = ("quiet", "flood")
# --compare: the blocks' cycle, whole beds and deltas each first and last in turn
COMPARED: tuple[str, ...] = ("quiet", "flood, whole beds", "quiet", "flood")
COMPARED += ("quiet", "flood", "quiet", "flood, whole beds")
QUIET_LEAD_S = 5.0  # s before the first alarm that a quiet first block counts from
COMMANDS = {"quiet": "off", "flood": "on", "flood, whole beds": "on whole"}  # to the flood


@dataclass(frozen=True)
class FloodResult:
    """One run's figures: per phase (``quiet``, ``flood``) lists of ms, RSS in MB, CPU in
    cores."""

    devices: int
    blocks: int
    pinned: bool
    acks_ms: dict[str, list[float]]
    ack_errors: dict[str, int]  # requests that got no answer (tried again)
    ack_refused: dict[str, int]  # answered, but not 202 (503: not sent in time)
    alarm_ms: dict[str, list[float]]
    telemetry_ms: dict[str, list[float]]
    rss_mb: dict[str, float]  # per phase: the most at a block's end; "peak": VmHWM
    cpu: dict[str, float]  # the daemon's, per phase
    preempted: dict[str, float]  # the daemon's event loop thread: involuntary switches per s
    client_cpu: float  # the flood process's, while flooding
    streams: dict[int, int]  # HTTP status -> attempts
    stream_kb_s: dict[str, float]  # per flooded phase: what the admitted streams read, kB/s
    idle_opened: int
    idle_closed: int


@dataclass(frozen=True)
class _Block:
    phase: str
    start: float  # Unix s
    end: float


def _phase_of(blocks: Sequence[_Block], t: float) -> str | None:
    for block in blocks:
        if block.start <= t < block.end:
            return block.phase
    return None


class _FloodProcess:
    """:mod:`bench.flood_client`, switched on and off by a line on its stdin."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.report: dict[str, Any] = {}

    @classmethod
    async def start(cls, port: int, idle: int, streams: int, cookies: list[str]) -> _FloodProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.flood_client",
            str(port),
            str(idle),
            str(streams),
            *cookies,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        return cls(process)

    async def command(self, word: str) -> float:
        """Send ``word`` (``on``, ``off``); the Unix time it took effect."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{word}\n".encode())
        await self.process.stdin.drain()
        async with asyncio.timeout(60):
            line = await self.process.stdout.readline()
        self.report = json.loads(line)
        return float(self.report["at"])

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` (and those it starts later) on ``cpus``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError):  # a thread that ended
            os.sched_setaffinity(int(task.name), cpus)


async def _login(base: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    response.raise_for_status()
    return client


async def _nurse(client: httpx.AsyncClient, subscriber: Subscriber, answers: list[Any]) -> None:
    """Acknowledge every alarm that reaches ``subscriber``: (raised_at, answer s, status) in
    ``answers``; an alarm the dashboard does not show yet (404) is tried again, and so is
    one whose request failed without an answer (status 0: the connection was closed)."""
    done: set[str] = set()
    while True:
        for alarm in list(subscriber.alarms.values()):
            if alarm.alarm_id in done or alarm.rule in TIMER_RULES:
                continue
            started = time.monotonic()
            try:
                response = await client.post(f"/api/alarms/{alarm.alarm_id}/ack", json={})
            except httpx.TransportError:
                answers.append((alarm.raised_at, time.monotonic() - started, 0))
                continue
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
    blocks: int = 4,
    pin: bool = False,
    compare: bool = False,
) -> FloodResult:
    """One run (see the module docstring)."""
    cycle = COMPARED if compare else PHASES
    phases = tuple(dict.fromkeys(cycle))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    events = Events("occlusion", OCCLUSION_AT_S, first_s, spread_s)
    answers: list[tuple[float, float, int]] = []
    done: list[_Block] = []
    samples: dict[str, list[tuple[float, ProcSample]]] = {phase: [] for phase in phases}
    preempted: dict[str, list[float]] = {phase: [0.0, 0.0] for phase in phases}  # count, s
    streamed: dict[str, float] = dict.fromkeys(phases, 0.0)  # bytes
    client_cpu_s = 0.0
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(devices, broker, directory, events=events, http=_http_config(port)) as ward,
    ):
        started = time.time()
        await wait_all_online(subscriber, devices, limit_s=first_s - 2)
        nurse = await _login(base, NURSE)
        viewers = [await _login(base, VIEWER) for _ in range(sessions)]
        cookies = [v.cookies[COOKIE] for v in viewers]
        flood = await _FloodProcess.start(port, idle, streams, cookies)
        if pin:
            _pin_apart(ward.daemon.pid)
        acker = asyncio.create_task(_nurse(nurse, subscriber, answers), name="bench.nurse")
        # the flood is off until the first block's command: a quiet first block counts from
        # a little before the first alarm, so one raised while that command is on its way
        # (the flood client still starting on a busy machine) is not left out
        quiet_from = started + first_s - QUIET_LEAD_S
        try:
            await asyncio.sleep(max(0.0, started + first_s - time.time()))
            block_s = spread_s / blocks
            for index in range(blocks):
                phase = cycle[index % len(cycle)]
                last = index == blocks - 1
                end = started + first_s + (spread_s + settle_s if last else (index + 1) * block_s)
                at = await flood.command(COMMANDS[phase])
                streamed_before = flood.report["stream_bytes"]
                before = (time.monotonic(), proc_sample(ward.daemon.pid))
                client_before = proc_sample(flood.process.pid).cpu_s
                switches = _involuntary_switches(ward.daemon.pid)
                await asyncio.sleep(max(0.0, end - time.time()))
                after = (time.monotonic(), proc_sample(ward.daemon.pid))
                samples[phase] += [before, after]
                preempted[phase][0] += _involuntary_switches(ward.daemon.pid) - switches
                preempted[phase][1] += after[0] - before[0]
                await flood.command("off")  # the block's streams end: their bytes are counted
                streamed[phase] += flood.report["stream_bytes"] - streamed_before
                if phase != "quiet":
                    client_cpu_s += proc_sample(flood.process.pid).cpu_s - client_before
                early = index == 0 and phase == "quiet"
                done.append(_Block(phase, min(at, quiet_from) if early else at, time.time()))
            await flood.command("off")
        finally:
            acker.cancel()
            await asyncio.gather(acker, return_exceptions=True)
            await flood.stop()
            for client in (nurse, *viewers):
                await client.aclose()
    refused = [(t, 0.0) for t, _, status in answers if status not in (0, 202)]
    if refused:
        print(f"acknowledgements not accepted: {[a for a in answers if a[2] not in (0, 202)]}")
    raised = [a for a in subscriber.alarms.values() if a.rule not in TIMER_RULES]
    telemetry = [(a.ts, (a.at - a.ts) * 1000) for a in subscriber.arrivals if a.ts is not None]
    flood_s = sum(b.end - b.start for b in done if b.phase != "quiet")
    phase_s = {p: sum(b.end - b.start for b in done if b.phase == p) for p in phases}
    report = flood.report
    return FloodResult(
        devices,
        blocks,
        pin,
        _phases(done, [(t, s * 1000) for t, s, status in answers if status], phases),
        {
            p: len(ms)
            for p, ms in _phases(done, [(t, 0.0) for t, _, c in answers if not c], phases).items()
        },
        {p: len(ms) for p, ms in _phases(done, refused, phases).items()},
        _phases(done, [(a.raised_at, (a.at - a.raised_at) * 1000) for a in raised], phases),
        _phases(done, telemetry, phases),
        {
            **{p: max(s.rss for _, s in samples[p]) / 2**20 for p in phases},
            "peak": max(s.peak_rss for p in phases for _, s in samples[p]) / 2**20,
        },
        {p: _cores(samples[p]) for p in phases},
        {p: n / s if s else 0.0 for p, (n, s) in preempted.items()},
        client_cpu_s / flood_s if flood_s else 0.0,
        {int(k): v for k, v in report["streams"].items()},
        {p: streamed[p] / 1000 / phase_s[p] for p in phases if p != "quiet" and phase_s[p]},
        report["idle_opened"],
        report["idle_closed"],
    )


def _cores(samples: list[tuple[float, ProcSample]]) -> float:
    """CPU s per s over the (start, end) pairs in ``samples``."""
    pairs = list(zip(samples[::2], samples[1::2], strict=True))
    cpu_s = sum(b.cpu_s - a.cpu_s for (_, a), (_, b) in pairs)
    wall_s = sum(tb - ta for (ta, _), (tb, _) in pairs)
    return cpu_s / wall_s if wall_s else 0.0


def _involuntary_switches(pid: int) -> int:
    """Times the kernel took the CPU from ``pid``'s main thread (its event loop)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def _pin_apart(daemon: int) -> None:
    """The daemon on CPU 0; this process and every other child of it on CPU 1."""
    _pin(daemon, {0})
    _pin(os.getpid(), {1})
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and pid != daemon:
            _pin(pid, {1})


def _phases(
    blocks: Sequence[_Block], figures: list[tuple[float, float]], phases: Sequence[str]
) -> dict[str, list[float]]:
    """``figures`` ((Unix s, ms) pairs) by the phase of the block their time falls in."""
    by_phase: dict[str, list[float]] = {phase: [] for phase in phases}
    for t, ms in figures:
        phase = _phase_of(blocks, t)
        if phase is not None:
            by_phase[phase].append(ms)
    return by_phase


def table(result: FloodResult) -> list[str]:
    """The figures of ``result`` as Markdown lines."""
    r = result

    def show(values: list[float], q: float) -> str:
        return f"{percentile(values, q):,.0f}" if values else "-"

    lines = [
        "| phase | acks answered | ack errors | acks refused | ack answer p50 ms "
        "| ack answer max ms | alarms "
        "| alarm latency p50 ms | alarm latency max ms | readings | reading latency p50 ms "
        "| reading latency p99 ms | daemon RSS MB | daemon CPU | daemon preempted /s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in r.acks_ms:
        acks, alarms, readings = r.acks_ms[phase], r.alarm_ms[phase], r.telemetry_ms[phase]
        lines.append(
            f"| {phase} | {len(acks)} | {r.ack_errors[phase]} | {r.ack_refused[phase]} "
            f"| {show(acks, 0.5)} "
            f"| {show(acks, 1.0)} | {len(alarms)} "
            f"| {show(alarms, 0.5)} | {show(alarms, 1.0)} | {len(readings):,} "
            f"| {show(readings, 0.5)} | {show(readings, 0.99)} | {r.rss_mb[phase]:.0f} "
            f"| {r.cpu[phase]:.2f} | {r.preempted[phase]:.0f} |"
        )
    streams = ", ".join(f"{status or 'failed'}: {n}" for status, n in r.streams.items())
    read = ", ".join(f"{kb_s:,.0f} ({phase})" for phase, kb_s in r.stream_kb_s.items())
    pinned = "; daemon pinned to CPU 0, the rest to CPU 1" if r.pinned else ""
    return [
        *lines,
        "",
        f"{r.devices} devices, {r.blocks} blocks{pinned}. Stream attempts by answer: {streams}; "
        f"the admitted streams read {read} kB/s. "
        f"Idle sockets opened {r.idle_opened:,}, closed by the server {r.idle_closed:,}. Flood "
        f"process CPU {r.client_cpu:.2f} cores. Daemon peak RSS (VmHWM) "
        f"{r.rss_mb['peak']:.0f} MB.",
    ]


def raise_open_files(needed: int) -> None:
    """Raise this process's soft ``RLIMIT_NOFILE`` to ``needed`` if it is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def main(args: argparse.Namespace) -> None:
    raise_open_files(1024)
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
                blocks=args.blocks,
                pin=args.pin,
                compare=args.compare,
                spread_s=args.spread,
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
    parser.add_argument("--blocks", type=int, default=4, help="quiet and flooded in turn")
    parser.add_argument("--pin", action="store_true", help="the daemon alone on CPU 0")
    parser.add_argument(
        "--compare", action="store_true", help="flooded blocks alternate whole beds and deltas"
    )
    parser.add_argument("--spread", type=float, default=60.0, help="s over which alarms come")
    asyncio.run(main(parser.parse_args()))
