"""The alarm stage's refreshes: one at start with the alarms restored from the log, before
any input, then one every ``refresh_s`` of the injected clock; the metrics do not count them
as raised. A bed removed by a reload: its session closed, logged, and not restored after."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge import alarm_stage
from edge.alarm_stage import AlarmStage
from edge.alarms.engine import AlarmEngine
from edge.alarms.log import AlarmLog
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import Config
from edge.items import AlarmRefresh, BedRemoved, InputItem, OutputItem
from edge.metrics import EdgeMetrics
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import Outbox
from tests.edge.alarms.timeline import BED, MONITOR, FakeClock, Run, engine_for, vitals
from tests.web.edges import hypertension


def open_two_alarms(path: Path) -> list[str]:
    """Write a log with two open alarms (hypertension, then the monitor offline); their ids."""
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,))
    run = Run(engine, clock).feed([(1.0, vitals(1, nibp=(204, 100, 1)))])
    run.until(20)
    with AlarmLog(path) as log:
        log.append(e for _, e in run.events)
    return [a.alarm_id for a in engine.active()]


async def refreshes_within(items: Subscription[OutputItem], seconds: float) -> int:
    """How many refreshes arrive within ``seconds``."""
    count = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                count += sum(isinstance(i, AlarmRefresh) for i in await items.get_batch(100))
    return count


async def next_refresh(items: Subscription[OutputItem]) -> AlarmRefresh:
    async with asyncio.timeout(5):
        while True:
            item = (await items.get_batch(1))[0]
            if isinstance(item, AlarmRefresh):
                return item


async def test_restored_alarms_are_refreshed_at_start_and_every_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarm_stage, "TICK_S", 0.01)
    ids = open_two_alarms(tmp_path / "alarms.sqlite")
    assert len(ids) == 2
    clock = FakeClock()
    inputs: Bus[InputItem] = Bus()
    outputs: Bus[OutputItem] = Bus()
    items = outputs.subscribe("test")
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        stage = AlarmStage(engine_for(clock, devices=(MONITOR,)), log, outputs, clock, 30.0)
        assert stage.restore() == 2
        subscription = inputs.subscribe("alarms")
        await inputs.publish(vitals(0, hr=80))  # waiting before the stage starts: it ends
        # the restored device_offline alarm, after the first refresh
        task = asyncio.create_task(stage.run(subscription))
        try:
            async with asyncio.timeout(5):
                first = (await items.get_batch(1))[0]  # before the reading
            assert isinstance(first, AlarmRefresh)
            assert sorted(a.alarm_id for a in first.alarms) == sorted(ids)
            assert first.at == clock.now()
            clock.t = 29.0
            assert await refreshes_within(items, 0.2) == 0  # some 20 ticks: not yet
            clock.t = 30.0
            second = await next_refresh(items)
            assert second.at == clock.now()
            assert [a.rule for a in second.alarms] == ["hypertension"]  # data resumed
            clock.t = 61.0
            assert (await next_refresh(items)).at == clock.now()
        finally:
            await inputs.close()
            async with asyncio.timeout(5):
                await task


async def test_a_removed_bed_has_its_session_closed_and_not_restored_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    inputs: Bus[InputItem] = Bus()
    outputs: Bus[OutputItem] = Bus()
    items = outputs.subscribe("test")
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        stage = AlarmStage(engine_for(clock, devices=(MONITOR,)), log, outputs, clock, 30.0)
        stage.restore()
        task = asyncio.create_task(stage.run(inputs.subscribe("alarms")))
        await inputs.publish(vitals(1, nibp=(130, 80, 1)))  # the first cuff: a session
        clock.t = 5.0
        await inputs.publish(BedRemoved(BED))  # a reload removed the bed (its devices first)
        await inputs.close()
        async with asyncio.timeout(5):
            await task
        seen: list[OutputItem] = []
        while batch := await items.get_batch(100):
            seen += batch
            if isinstance(seen[-1], BedRemoved):
                break
        changes = [(i.change, i.session.phase) for i in seen if isinstance(i, SessionEvent)]
        assert changes == [("started", "baseline"), ("closed", "closed")]
        assert isinstance(seen[-1], BedRemoved)  # after the closed session: the topic clears
        [closed] = log.sessions()
        assert (closed.phase, closed.closed_at) == ("closed", clock.now())
    for beds in ([BED], []):  # restarted with the bed, then without it
        inputs, outputs = Bus[InputItem](), Bus[OutputItem]()
        items = outputs.subscribe("test")
        with AlarmLog(tmp_path / "alarms.sqlite") as log:
            stage = AlarmStage(AlarmEngine(clock, beds=beds), log, outputs, clock, 30.0)
            stage.restore()
            task = asyncio.create_task(stage.run(inputs.subscribe("alarms")))
            first = await next_refresh(items)
            await inputs.close()
            async with asyncio.timeout(5):
                await task
        restored = [event.session.bed for event in first.sessions]
        assert restored == beds  # the removed bed's session is not published again


async def test_a_refresh_is_not_counted_as_raised_by_the_metrics(tmp_path: Path) -> None:
    alarm = hypertension("bed-1")
    config = Config(site="clinic", edge_id="edge-1")
    outbox = Outbox(tmp_path / "outbox.sqlite", max_messages=100, max_age_s=3600)
    engine = AlarmEngine.from_config(config, SystemClock())
    metrics = EdgeMetrics(config, "0.1.0", PublisherCounters, outbox, engine)
    bus: Bus[OutputItem] = Bus()
    items = bus.subscribe("metrics")
    await bus.publish(AlarmEvent(alarm=alarm, transition="raised", at=alarm.raised_at))
    await bus.publish(AlarmRefresh((alarm,), alarm.raised_at))
    await bus.close()
    await metrics.consume(items)
    raised = metrics.samples()["alarms_raised"]
    assert sum(count for _, count in raised) == 1


def test_the_refresh_interval_is_configurable_within_bounds() -> None:
    assert Config(site="s", edge_id="e").mqtt.alarm_refresh_s == 30.0
    assert Config(site="s", edge_id="e", mqtt={"alarm_refresh_s": 2}).mqtt.alarm_refresh_s == 2.0
    with pytest.raises(ValidationError, match="alarm_refresh_s"):
        Config(site="s", edge_id="e", mqtt={"alarm_refresh_s": 0.5})
