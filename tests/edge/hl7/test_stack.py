"""The HL7 output as the daemon runs it: bus -> messages -> queue -> MLLP -> receiver, its
metrics, and faults that stay inside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from edge.alarms.engine import AlarmEngine
from edge.alarms.models import SessionEvent, TreatmentSession
from edge.bus import Bus
from edge.clock import SystemClock
from edge.config import Config
from edge.forward.stack import ForwardStack
from edge.hl7.pcd01 import reading_message
from edge.hl7.stack import hl7_stack
from edge.items import OutputItem
from edge.metrics import EdgeMetrics
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import Outbox
from tests.edge.hl7.messages import T0, alarm_event, pump, vitals
from tests.edge.hl7.receiver import Receiver, eventually

INFUSING = TreatmentSession(
    session_id="chair-1.20250101T095500000Z",
    bed="chair-1",
    phase="infusion",
    started_at=T0 - timedelta(minutes=5),
    infusion_started_at=T0,
)


def _config(tmp_path: Path, url: str, observations: str = "every_reading") -> Config:
    return Config(
        site="clinic",
        edge_id="edge-1",
        beds={"chair-1": {"visit_number": "V0042"}},
        devices=[
            {"id": "mon-1", "bed": "chair-1", "driver": "textline", "port": "/dev/ttyS10"},
            {"id": "pump-1", "bed": "chair-1", "driver": "textline", "port": "/dev/ttyS11"},
        ],
        hl7={
            "url": url,
            "observations": observations,
            "queue_path": str(tmp_path / "hl7.sqlite"),
            "ack_timeout_s": 1,
        },
    )


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[tuple[ForwardStack, Bus[OutputItem]]]:
    assert config.hl7 is not None
    stack = hl7_stack(config, config.hl7)
    await stack.open()
    bus: Bus[OutputItem] = Bus()
    consumer = asyncio.create_task(stack.output.consume(bus.subscribe("hl7")))
    runner = asyncio.create_task(stack.run())
    try:
        yield stack, bus
    finally:
        await bus.close()
        await asyncio.wait_for(consumer, 5)
        stack.finish()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await stack.close()


def _metric(metrics: EdgeMetrics, name: str, **labels: str) -> float:
    return next(v for lab, v in metrics.samples()[name] if lab == labels)


@asynccontextmanager
async def edge_metrics(
    config: Config, stack: ForwardStack, path: Path
) -> AsyncIterator[EdgeMetrics]:
    outbox = Outbox(path, max_messages=100, max_age_s=3600)
    await outbox.open()
    try:
        engine = AlarmEngine.from_config(config, SystemClock())
        yield EdgeMetrics(config, "0", PublisherCounters, outbox, engine, hl7=stack.status)
    finally:
        await outbox.close()


async def test_bus_to_receiver_with_metrics(tmp_path: Path) -> None:
    receiver = Receiver(lambda control_id, _n: "AR" if _is_alarm(control_id) else "AA")

    def _is_alarm(control_id: str) -> bool:
        return "R40" in str(receiver.messages[control_id].segment("MSH")[9])

    await receiver.start()
    config = _config(tmp_path, receiver.url)
    try:
        async with (
            running(config) as (stack, bus),
            edge_metrics(config, stack, tmp_path / "outbox.sqlite") as metrics,
        ):
            assert _metric(metrics, "hl7_messages", result="delivered") == 0
            await bus.publish(vitals())
            await eventually(lambda: len(receiver.accepted()) == 1, 10)
            assert _metric(metrics, "hl7_connected") == 1
            await bus.publish(alarm_event("raised"))
            await bus.publish(pump())
            await eventually(lambda: len(receiver.received) == 3, 10)
            await eventually(lambda: stack.queue.depth == 0, 10)
            assert _metric(metrics, "hl7_messages", result="delivered") == 2
            assert _metric(metrics, "hl7_messages", result="refused") == 1
            assert _metric(metrics, "hl7_queue_messages") == 0
            assert _metric(metrics, "hl7_queue_dropped", kind="alarm") == 0
            kinds = [r.kind for r in await stack.queue.refused()]
            assert kinds == ["alarm"]
    finally:
        await receiver.stop()


async def test_an_item_that_cannot_be_built_spares_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = reading_message

    def breaks_on_the_pump(reading, *args, **kwargs):  # type: ignore[no-untyped-def]
        if reading.device_id == "pump-1":
            raise RuntimeError("a bug in one message")
        return real(reading, *args, **kwargs)

    monkeypatch.setattr("edge.hl7.output.reading_message", breaks_on_the_pump)
    receiver = Receiver()
    await receiver.start()
    try:
        async with running(_config(tmp_path, receiver.url)) as (stack, bus):
            await bus.publish(pump())
            await bus.publish(vitals())
            await bus.publish(alarm_event("raised"))
            await eventually(lambda: len(receiver.accepted()) == 2, 10)
            assert stack.output.failed == 1
    finally:
        await receiver.stop()


async def test_charted_mode_sends_the_rows_of_the_charting_rule(tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running(_config(tmp_path, receiver.url, "charted")) as (stack, bus):
            await bus.publish(SessionEvent(session=INFUSING, change="infusion_started", at=T0))
            for second in range(0, 620, 10):  # 10 min of pump readings, one cuff
                await bus.publish(pump(T0 + timedelta(seconds=second)))
            await bus.publish(vitals(T0 + timedelta(seconds=400)))
            # marks at 0, 5 and 10 min, and the cuff (at 395 s)
            await eventually(lambda: len(receiver.accepted()) == 4, 10)
            times = [str(receiver.messages[c].segment("OBR")[7]) for c in receiver.accepted()]
            assert times == [  # in the order the rows were completed
                "20250101100000.000+0000",
                "20250101100500.000+0000",
                "20250101101000.000+0000",
                "20250101100635.000+0000",
            ]
            await eventually(lambda: stack.queue.depth == 0, 10)
    finally:
        await receiver.stop()


def _visit_and_equipment(message: bytes) -> tuple[str, str]:
    """PID-3's id and the first OBX-18 of an ER7 message."""
    segments: dict[str, list[str]] = {}
    for text in message.decode().split("\r"):
        fields = text.split("|")
        segments.setdefault(fields[0], fields)  # the first of each kind
    return segments["PID"][3].split("^")[0], segments["OBX"][18].split("^")[0]


def test_a_reload_gives_the_next_messages_the_new_visit_number_and_eui64(tmp_path: Path) -> None:
    config = _config(tmp_path, "mllp://127.0.0.1:9", "every_reading")
    assert config.hl7 is not None
    output = hl7_stack(config, config.hl7).output
    (before,) = output.messages_for(vitals(T0))
    assert _visit_and_equipment(before.payload) == ("V0042", "mon-1")  # no EUI-64 yet
    reloaded = config.model_copy(
        update={
            "beds": {
                "chair-1": config.beds["chair-1"].model_copy(update={"visit_number": "V0043"})
            },
            "devices": [
                config.devices[0].model_copy(update={"eui64": "00112233445566FF"}),
                config.devices[1],
            ],
        }
    )
    output.reidentify(reloaded, ["chair-1"])
    (after,) = output.messages_for(vitals(T0 + timedelta(seconds=1)))
    assert _visit_and_equipment(after.payload) == ("V0043", "00112233445566FF")
    assert _visit_and_equipment(before.payload)[0] == "V0042"  # made before: kept as it was


def test_a_changed_visit_number_drops_the_beds_unfinished_chart_row(tmp_path: Path) -> None:
    config = _config(tmp_path, "mllp://127.0.0.1:9", "charted")
    assert config.hl7 is not None
    rows = {}
    for new_visit in ([], ["chair-1"]):
        output = hl7_stack(config, config.hl7).output
        output.messages_for(SessionEvent(session=INFUSING, change="infusion_started", at=T0))
        for second in range(0, 300, 10):  # the first 5 min: the row at 0 min
            output.messages_for(pump(T0 + timedelta(seconds=second)))
        output.reidentify(config, new_visit)
        rows[tuple(new_visit)] = [
            m
            for s in range(300, 320, 10)
            for m in output.messages_for(pump(T0 + timedelta(seconds=s)))
        ]
    assert len(rows[()]) == 1  # the 5 min row, visit unchanged
    assert rows[("chair-1",)] == []  # the previous visit's row is not sent under the new one
