"""Alarm latency at scale: from the reading that fulfils a rule to the alarm at a subscriber.

``devices`` devices (half B. Braun pumps, half IntelliVue monitors, as in
:mod:`bench.pipeline`) all run the ``occlusion`` scenario, started so that bed ``i`` reaches
the pump's occlusion alarm (minute 21.5) ``FIRST_S + i * SPREAD_S / beds`` seconds after the
simulators start: one alarm every ~0.6 s at 200 devices, on top of the whole ward's telemetry.
The daemon raises an alarm when it judges the reading that fulfils the rule past its delay;
the alarm's ``raised_at`` is that reading's ``ts``, its receive time at the host. Latency is
the arrival of the alarm's first ``active`` message at the subscriber minus ``raised_at``:
the rule's own delay is not in it (it elapsed before that reading), the alarm stage, the
outbox commit, the publish and the broker are. Every alarm a reading raised counts (the
occlusion, and any rate alarm the stalled line before it raises); ``device_offline`` and
``link_errors``, raised by timers and counters, do not.

Usage: ``python -m bench.alarm_latency [--devices 200] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.common import Events, percentile
from bench.pipeline import running_ward, subscribed, wait_all_online
from tests.mosquitto import Mosquitto

__all__ = ["AlarmLatency", "alarm_latency"]

OCCLUSION_AT_S = 21.5 * 60  # the occlusion scenario's pump alarm, s into the scenario
FIRST_S = 40.0  # s after the simulators start: the ward is connected by then
SPREAD_S = 60.0  # s over which the beds' alarms come
SETTLE_S = 15.0  # s allowed after the last bed's alarm
TIMER_RULES = {"device_offline", "link_errors"}


@dataclass(frozen=True)
class AlarmLatency:
    devices: int
    beds: int
    occlusion_alarms: int  # pump_occlusion alarms seen (one per bed expected)
    alarms: int  # alarms raised by a reading, all rules
    rules: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float


async def alarm_latency(
    devices: int,
    broker: Mosquitto,
    directory: Path,
    *,
    first_s: float = FIRST_S,
    spread_s: float = SPREAD_S,
    settle_s: float = SETTLE_S,
) -> AlarmLatency:
    """One run; ``first_s``, ``spread_s`` and ``settle_s`` as the module's constants say."""
    events = Events("occlusion", OCCLUSION_AT_S, first_s, spread_s)
    async with (
        subscribed(broker.port) as subscriber,
        running_ward(devices, broker, directory, events=events),
    ):
        started = time.time()
        await wait_all_online(subscriber, devices, limit_s=first_s - 2)
        await asyncio.sleep(max(0.0, started + first_s + spread_s + settle_s - time.time()))
    raised = [
        a
        for a in subscriber.alarms.values()
        if a.raised_at >= started - 5 and a.rule not in TIMER_RULES
    ]
    latencies = [(a.at - a.raised_at) * 1000 for a in raised]
    rules = Counter(a.rule for a in raised)
    return AlarmLatency(
        devices,
        (devices + 1) // 2,
        rules["pump_occlusion"],
        len(raised),
        dict(sorted(rules.items())),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        max(latencies, default=float("nan")),
    )


async def main(devices: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            for run in range(runs):
                print(await alarm_latency(devices, broker, Path(tmp) / f"run{run}"))
        finally:
            broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.devices, arguments.runs))
