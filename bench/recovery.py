"""A broker outage under load, and a soak run.

- :func:`outage`: ``devices`` devices at real rates; once all deliver, the broker is stopped
  for ``outage_s`` and started again on the same port (its persistence keeps the subscriber's
  session). From the subscriber's arrivals: the backlog (messages stored while the broker was
  down), the time from the restart to the first new arrival (the daemon's reconnect backoff;
  the broker's redeliveries of messages the subscriber had already seen do not count), the
  time to drain (restart until every message stored before the restart has arrived) and the
  replay rate (backlog / time from the first new arrival to the end of the drain). Nothing may
  be lost.
- :func:`soak`: ``devices`` devices with the scenarios at ``speed`` x (the patient runs faster;
  protocol polls stay real time) for ``duration_s``; the daemon's RSS, asyncio task count and
  thread count at the start and the end, and every ``seq`` checked.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import proc_sample
from bench.pipeline import Subscriber, Ward, running_ward, settle, subscribed, wait_all_online
from tests.mosquitto import Mosquitto

__all__ = ["Outage", "Soak", "outage", "soak"]


@dataclass(frozen=True)
class Outage:
    devices: int
    outage_s: float
    backlog: int
    reconnect_s: float
    drain_s: float
    replay_per_s: float
    missing: int
    duplicates: int


async def outage(devices: int, outage_s: float, broker: Mosquitto, directory: Path) -> Outage:
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(devices, broker, directory) as ward,
    ):
        await wait_all_online(subscriber, devices)
        await asyncio.sleep(3.0)
        broker.stop()
        stopped = time.time()
        await asyncio.sleep(outage_s)
        broker.start()
        restarted = time.time()
        drain = await _watch_drain(subscriber, restarted, limit_s=120)
        await ward.stop_daemon()
        session = subscriber.arrivals[-1].session if subscriber.arrivals else ""
        await settle(subscriber, session)
        _, missing, duplicates = subscriber.check(session)
    end = drain.drained_at or time.time()
    first = drain.first_new_at or restarted
    return Outage(
        devices,
        round(restarted - stopped, 1),
        drain.backlog,
        first - restarted,
        end - restarted,
        drain.backlog / max(end - first, 1e-3),
        missing,
        duplicates,
    )


@dataclass
class _Drain:
    backlog: int = 0  # messages first seen after the restart, stored before it
    first_new_at: float | None = None  # arrival of the first of them
    drained_at: float | None = None  # arrival of the last of them


async def _watch_drain(subscriber: Subscriber, restarted: float, limit_s: float) -> _Drain:
    """Follow the arrivals after a broker restart until the backlog has drained: a reading
    taken after the restart has arrived and no ``seq`` below it is missing.

    Messages the broker redelivers to the subscriber after its own restart (seen before) are
    not backlog: the first *new* arrival marks the daemon's reconnect."""
    seen: dict[str, set[int]] = {}
    for a in subscriber.arrivals:
        seen.setdefault(a.session, set()).add(a.seq)
    drain = _Drain()
    index = len(subscriber.arrivals)
    first_fresh: dict[str, int] = {}  # session -> lowest seq of a reading taken after restart
    lowest_missing = dict.fromkeys(seen, 1)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        new = subscriber.arrivals[index:]
        index += len(new)
        for a in new:
            seqs = seen.setdefault(a.session, set())
            if a.seq in seqs:
                continue  # a redelivery
            seqs.add(a.seq)
            if a.ts is not None and a.ts > restarted:
                first_fresh[a.session] = min(first_fresh.get(a.session, a.seq), a.seq)
                continue
            drain.backlog += 1
            drain.first_new_at = drain.first_new_at or a.at
            drain.drained_at = a.at if drain.drained_at is None else max(drain.drained_at, a.at)
        for session, fresh in first_fresh.items():
            low = lowest_missing.get(session, 1)
            while low in seen[session]:
                low += 1
            lowest_missing[session] = low
            if low >= fresh:
                return drain
    drain.drained_at = None  # not drained within the limit
    return drain


def _tasks(ward: Ward) -> int:
    """The daemon's asyncio task count from its last probe line (-1 if none yet)."""
    probes = ward.probes()
    return int(probes[-1]["tasks"]) if probes else -1


@dataclass(frozen=True)
class Soak:
    devices: int
    duration_s: float
    speed: float
    readings: int
    rss_start_mb: float
    rss_end_mb: float
    peak_rss_mb: float
    tasks_start: int
    tasks_end: int
    threads_start: int
    threads_end: int
    last_seq: int
    missing: int
    duplicates: int


async def soak(
    devices: int, duration_s: float, speed: float, broker: Mosquitto, directory: Path
) -> Soak:
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(devices, broker, directory, speed=speed) as ward,
    ):
        await wait_all_online(subscriber, devices)
        await asyncio.sleep(4.0)  # one probe line at least
        start, tasks_start = proc_sample(ward.daemon.pid), _tasks(ward)
        await asyncio.sleep(duration_s)
        end, tasks_end = proc_sample(ward.daemon.pid), _tasks(ward)
        readings = sum(1 for a in subscriber.arrivals if a.ts is not None)
        await ward.stop_daemon()
        session = subscriber.arrivals[-1].session
        await settle(subscriber, session)
        last, missing, duplicates = subscriber.check(session)
    return Soak(
        devices,
        duration_s,
        speed,
        readings,
        start.rss / 2**20,
        end.rss / 2**20,
        end.peak_rss / 2**20,
        tasks_start,
        tasks_end,
        start.threads,
        end.threads,
        last,
        missing,
        duplicates,
    )
