"""A broker outage under load, and a soak run.

- :func:`outage`: ``devices`` devices at real rates; once all deliver, the broker is stopped
  for ``outage_s`` and started again on the same port (its persistence keeps the subscriber's
  session). From the subscriber's arrivals: the backlog (messages stored while the broker was
  down), the time from the restart to the first arrival (the daemon's reconnect backoff), the
  time to drain (restart until every message stored before the restart has arrived) and the
  replay rate (backlog / time from the first arrival to the end of the drain). Nothing may be
  lost.
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
from bench.pipeline import Ward, running_ward, settle, subscribed, wait_all_online
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
        arrived_before = {(a.session, a.seq) for a in subscriber.arrivals}
        await asyncio.sleep(outage_s)
        broker.start()
        restarted = time.time()
        # Drained when a reading taken after the restart has arrived and nothing before it
        # is missing; give it up to 120 s.
        deadline = time.monotonic() + 120
        drained_at = None
        while time.monotonic() < deadline and drained_at is None:
            await asyncio.sleep(0.05)
            fresh = [a for a in subscriber.arrivals if a.ts is not None and a.ts > restarted]
            if not fresh:
                continue
            session = fresh[0].session
            first_fresh = min(a.seq for a in fresh)
            seqs = {a.seq for a in subscriber.arrivals if a.session == session}
            if all(s in seqs for s in range(1, first_fresh)):
                drained_at = max(
                    a.at
                    for a in subscriber.arrivals
                    if a.session == session and a.seq < first_fresh
                )
        after = [a for a in subscriber.arrivals if a.at >= restarted]
        backlog_keys = {
            (a.session, a.seq) for a in after if a.ts is None or a.ts < restarted
        } - arrived_before
        first_arrival = min((a.at for a in after), default=restarted)
        await ward.stop_daemon()
        session = subscriber.arrivals[-1].session if subscriber.arrivals else ""
        await settle(subscriber, session)
        _, missing, duplicates = subscriber.check(session)
    end = drained_at or time.time()
    replay_s = max(end - first_arrival, 1e-3)
    return Outage(
        devices,
        round(restarted - stopped, 1),
        len(backlog_keys),
        first_arrival - restarted,
        end - restarted,
        len(backlog_keys) / replay_s,
        missing,
        duplicates,
    )


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
