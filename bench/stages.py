"""Each stage of the pipeline alone, in µs per reading, on the same recorded data.

The data: a simulated B. Braun pump (BCC, slot 11) and a Philips IntelliVue monitor run the
``normal-ketamine`` scenario against the daemon's own conversations, in process, on a virtual
clock (no sockets, no sleeping). Every call the host made (``open``, ``tick``, ``receive``
with the bytes the device sent) is recorded with its time, then replayed and timed:

- ``framer``: the bytes the device sent, fed to a fresh framer (BCC: SOH..EOT, stuffing,
  checksum; IntelliVue: BOF/EOF, transparency, FCS-16);
- ``conversation``: the whole host side replayed on a fresh conversation (framer, protocol
  state, decode into validated pydantic Readings); only ``receive`` is timed;
- ``reading validation``: ``model_validate`` of each reading's ``model_dump()`` (the pydantic
  share of the decode);
- ``alarm engine``: ``AlarmEngine.on_reading`` for the pump and monitor readings of one bed in
  time order (its clock follows the readings);
- ``outbox JSON``: ``OutboxWriter.messages_for`` (envelope, payload model, JSON);
- ``outbox put``: ``Outbox.put`` in batches of 50 and of 500 (the writer's largest batch),
  SQLite WAL + ``synchronous=FULL`` on this machine's disk; wall time per message.

Every stage but the put is timed in CPU time of this thread (``time.thread_time``), not wall
time: on a machine shared with other work, wall time also counts the time the process waits
for a core, which varied 2x between back-to-back runs. The put is wall time (it waits for the
disk).

Usage: ``python -m bench.stages [--runs 3] [--readings 600]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import SimSpec, Spread, spread, ward_config
from drivers.base import Conversation, DeviceTarget, Instant
from drivers.bbraun_bcc.framer import BccFramer
from drivers.intellivue.framer import IntelliVueFramer
from drivers.readings import PumpReading, VitalsReading
from drivers.registry import get_driver
from drivers.sim.devices import SimTime, build_device
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.alarms.engine import AlarmEngine
from edge.bundled import bundled
from edge.config import Config
from edge.publish.outbox import NewMessage, Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import EnvelopeFactory
from edge.publish.topics import Topics

__all__ = ["Recording", "main", "measure", "record"]

Reading = PumpReading | VitalsReading
WALL0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STEP_S = 0.05


@dataclass
class Recording:
    """What one device sent and what the host made of it."""

    spec: SimSpec
    calls: list[tuple[str, float, bytes]] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)

    @property
    def wire(self) -> list[bytes]:
        return [data for kind, _, data in self.calls if kind == "receive"]


def _instant(t: float) -> Instant:
    return Instant(t, WALL0 + timedelta(seconds=t))


def _conversation(spec: SimSpec) -> Conversation:
    driver = get_driver(spec.driver)
    options = driver.options.model_validate({"poll_period_s": 1.0})
    return driver.conversation([DeviceTarget(spec.device_id, spec.bed, spec.slot)], options)


def record(spec: SimSpec, readings: int) -> Recording:
    """Run ``spec``'s simulator against the host conversation until ``readings`` readings."""
    timeline = Timeline(load_scenario(bundled("scenarios") / "normal-ketamine.yaml"))
    device = build_device(spec.driver, timeline, [spec.slot] if spec.slot else [])
    conversation = _conversation(spec)
    recording = Recording(spec)
    to_device = conversation.open(_instant(0.0))
    recording.calls.append(("open", 0.0, b""))
    t = 0.0
    while len(recording.readings) < readings and t < readings * 10:
        at = SimTime(t, spec.start_s + t)
        sent = device.receive(to_device, at) if to_device else b""
        to_device = b""
        sent += device.tick(at)
        due = conversation.next_tick_at()
        if due is not None and t >= due - 1e-9:
            recording.calls.append(("tick", t, b""))
            to_device += conversation.tick(_instant(t))
        if sent:
            recording.calls.append(("receive", t, sent))
            exchange = conversation.receive(sent, _instant(t))
            to_device += exchange.send
            recording.readings.extend(exchange.readings)
        t += STEP_S
    return recording


def _replay(recording: Recording) -> tuple[float, int]:
    """Seconds spent in ``receive`` replaying ``recording``, and the readings it made."""
    conversation = _conversation(recording.spec)
    spent, count = 0.0, 0
    clock = _cpu
    for kind, t, data in recording.calls:
        at = _instant(t)
        if kind == "open":
            conversation.open(at)
        elif kind == "tick":
            conversation.tick(at)
        else:
            started = clock()
            exchange = conversation.receive(data, at)
            spent += clock() - started
            count += len(exchange.readings)
    return spent, count


_cpu = time.thread_time  # s of CPU of this thread (see the module docstring)


def _framer_s(recording: Recording) -> float:
    framer: BccFramer | IntelliVueFramer = (
        BccFramer() if recording.spec.driver == "bbraun_bcc" else IntelliVueFramer()
    )
    wire = recording.wire
    started = _cpu()
    for chunk in wire:
        framer.feed(chunk)
    return _cpu() - started


def _per_item_us(fn: Callable[[Any], object], items: list[Any], repeat: int = 3) -> float:
    started = _cpu()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return (_cpu() - started) / (repeat * len(items)) * 1e6


class _ManualClock:
    def __init__(self) -> None:
        self.at = WALL0

    def monotonic(self) -> float:
        return (self.at - WALL0).total_seconds()

    def now(self) -> datetime:
        return self.at


def _alarm_us(config: Config, readings: list[Reading]) -> float:
    clock = _ManualClock()
    engine = AlarmEngine.from_config(config, clock)
    ordered = sorted(readings, key=lambda r: r.ts)
    started = _cpu()
    for reading in ordered:
        clock.at = reading.ts
        engine.on_reading(reading)
    return (_cpu() - started) / len(ordered) * 1e6


async def _put_us(directory: Path, messages: list[NewMessage], batch: int) -> float:
    path = directory / f"put-{batch}-{time.monotonic_ns()}.sqlite"
    outbox = Outbox(path, max_messages=len(messages) * 2, max_age_s=3600)
    await outbox.open()
    try:
        started = time.perf_counter()
        for base in range(0, len(messages), batch):
            await outbox.put(messages[base : base + batch])
        return (time.perf_counter() - started) / len(messages) * 1e6
    finally:
        await outbox.close()


STAGES = [
    "BCC framer",
    "IntelliVue framer",
    "BCC conversation (framer + decode + validation)",
    "IntelliVue conversation (framer + decode + validation)",
    "reading validation alone (pydantic model_validate)",
    "alarm engine on_reading",
    "outbox JSON (OutboxWriter.messages_for)",
    "outbox put, batches of 50 (wall)",
    "outbox put, batches of 500 (wall)",
]


async def measure(readings: int, directory: Path) -> dict[str, float]:
    """One run of every stage: µs per reading."""
    pump = SimSpec("pump-001", "bed-001", "bbraun_bcc", 1, "11", 900.0)
    monitor = SimSpec("mon-001", "bed-001", "intellivue", 2, None, 900.0)
    recordings = {spec.driver: record(spec, readings) for spec in (pump, monitor)}
    config = Config.model_validate(ward_config([pump, monitor], directory, "mqtt://127.0.0.1:1"))
    result: dict[str, float] = {}
    for driver, name in (("bbraun_bcc", "BCC"), ("intellivue", "IntelliVue")):
        rec = recordings[driver]
        result[f"{name} framer"] = _framer_s(rec) / len(rec.readings) * 1e6
        spent, count = _replay(rec)
        result[f"{name} conversation (framer + decode + validation)"] = spent / max(count, 1) * 1e6
    every = recordings["bbraun_bcc"].readings + recordings["intellivue"].readings
    result["reading validation alone (pydantic model_validate)"] = _per_item_us(
        lambda r: type(r).model_validate(r.model_dump()), every
    )
    result["alarm engine on_reading"] = _alarm_us(config, every)
    writer = OutboxWriter(
        Outbox(directory / "unused.sqlite", 1, 1),
        Topics("infusion-edge/v1", "bench-site"),
        EnvelopeFactory("bench-edge"),
    )
    result["outbox JSON (OutboxWriter.messages_for)"] = _per_item_us(writer.messages_for, every)
    messages = [m for r in every * 4 for m in writer.messages_for(r)]
    result["outbox put, batches of 50 (wall)"] = await _put_us(directory, messages, 50)
    result["outbox put, batches of 500 (wall)"] = await _put_us(directory, messages, 500)
    return result


async def run(runs: int, readings: int) -> dict[str, Spread]:
    """``runs`` runs of :func:`measure`: per stage, the median and range."""
    with tempfile.TemporaryDirectory() as tmp:
        results = [await measure(readings, Path(tmp)) for _ in range(runs)]
    return {stage: spread([r[stage] for r in results]) for stage in STAGES}


def table(figures: dict[str, Spread]) -> str:
    lines = ["| stage | µs per reading (CPU; put: wall), median (min-max) |", "|---|---:|"]
    lines += [f"| {stage} | {figures[stage].show('{:,.1f}')} |" for stage in STAGES]
    total = sum(
        figures[s].median
        for s in (
            "alarm engine on_reading",
            "outbox JSON (OutboxWriter.messages_for)",
            "outbox put, batches of 50 (wall)",
        )
    )
    conv = (
        figures["BCC conversation (framer + decode + validation)"].median
        + figures["IntelliVue conversation (framer + decode + validation)"].median
    ) / 2
    lines += [
        "",
        f"Sum of the stages for an average reading (conversation + alarms + JSON + "
        f"put in batches of 50): {conv + total:,.0f} µs.",
    ]
    return "\n".join(lines)


async def main(runs: int = 3, readings: int = 600) -> str:
    return table(await run(runs, readings))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--readings", type=int, default=600)
    arguments = parser.parse_args()
    print(asyncio.run(main(arguments.runs, arguments.readings)))
