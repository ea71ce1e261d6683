"""The rate estimators across a restart: saved to the alarm log by the alarm stage, restored
with the alarms, so the delivered-rate windows are back within seconds, not minutes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from drivers.readings import PumpReading
from edge import alarm_stage
from edge.alarm_stage import AlarmStage
from edge.alarms.log import AlarmLog
from edge.alarms.log_guard import GuardedAlarmLog
from edge.alarms.rate import RateEstimator, RateHistory
from edge.bus import Bus
from edge.items import InputItem, OutputItem
from tests.edge.alarms.test_rate import jittered
from tests.edge.alarms.timeline import PUMP, FakeClock, Run, at, engine_for, pump


def history_after(seconds: float) -> RateHistory:
    estimator = RateEstimator(max_gap_s=15.0)
    for _, reading in jittered(5, seconds):
        estimator.update(reading)
    history = estimator.snapshot()
    assert history is not None
    return history


def test_the_log_keeps_the_latest_history_per_pump(tmp_path: Path) -> None:
    history = history_after(400)
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        assert log.rate_histories() == {}
        log.save_rate_histories({PUMP: history, "pump-2": history}, at(400))
        log.save_rate_histories({"pump-2": None}, at(415))  # its segment ended: forgotten
        log.save_rate_histories({}, at(430))
    with AlarmLog(tmp_path / "alarms.sqlite") as log:  # across a reopen
        assert log.rate_histories() == {PUMP: history}
    with sqlite3.connect(tmp_path / "alarms.sqlite") as db:
        db.execute("UPDATE rate_history SET history = '{\"anchors\": 3}'")
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        assert log.rate_histories() == {}  # a row that no longer parses starts afresh


def test_the_guarded_log_keeps_histories_when_it_can(tmp_path: Path) -> None:
    guarded = GuardedAlarmLog(tmp_path / "alarms.sqlite")
    guarded.open()
    guarded.save_rate_histories({PUMP: history_after(400)}, at(400))
    assert set(guarded.rate_histories()) == {PUMP}
    guarded.close()
    unopened = GuardedAlarmLog(tmp_path / "missing" / "alarms.sqlite")
    unopened.save_rate_histories({PUMP: history_after(400)}, at(400))  # not open: nothing
    assert unopened.rate_histories() == {}


@pytest.mark.parametrize("restored", [True, False])
def test_a_free_flow_just_after_a_restart(tmp_path: Path, restored: bool) -> None:
    """Saved at 600 s, the daemon back at 640 s, +30 % from 655 s: with the history the high
    level is raised 30 s + 60 s after the onset; without it, start-up and windows first."""
    stream = list(jittered(6, 1000, factor=1.3, onset=655.0))
    clock = FakeClock()
    before = Run(engine_for(clock, devices=(PUMP,)), clock)
    before.feed((t, r) for t, r in stream if t < 600)
    histories = before.engine.rate_histories()
    assert set(histories) == {PUMP}
    assert before.engine.rate_histories() == {}  # nothing changed since
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        log.save_rate_histories(histories, at(600))
        saved = log.rate_histories() if restored else {}
    clock = FakeClock()
    clock.t = 640
    after = Run(engine_for(clock, devices=(PUMP,)), clock)
    after.engine.restore([], [], saved)
    after.feed((t, r) for t, r in stream if t >= 640)
    raised = [t for t, rule, p in after.raised() if rule == "rate_deviation"]
    assert raised
    if restored:
        assert 655 + 60 <= raised[0] <= 655 + 30 + 60
    else:
        assert raised[0] > 655 + 30 + 60


async def test_the_stage_saves_every_interval_and_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarm_stage, "TICK_S", 0.01)
    clock = FakeClock()
    inputs: Bus[InputItem] = Bus()
    outputs: Bus[OutputItem] = Bus()
    outputs.subscribe("drain")
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        stage = AlarmStage(engine_for(clock, devices=(PUMP,)), log, outputs, clock, 30.0)
        task = asyncio.create_task(stage.run(inputs.subscribe("alarms")))
        readings = list(jittered(7, 200))
        for _, reading in readings[:150]:
            await inputs.publish(reading)
        await asyncio.sleep(0.1)
        assert log.rate_histories() == {}  # not due yet
        clock.t = alarm_stage.RATE_SAVE_S
        for _ in range(500):  # bounded: the ticker runs every 0.01 s
            if log.rate_histories():
                break
            await asyncio.sleep(0.01)
        saved = log.rate_histories()[PUMP]
        for _, reading in readings[150:]:
            await inputs.publish(reading)
        await inputs.close()
        async with asyncio.timeout(5):
            await task
        final = log.rate_histories()[PUMP]
        assert final.last is not None
        assert saved.last is not None
        assert final.last[0] > saved.last[0]  # the readings after the periodic save
        engine = engine_for(FakeClock(), devices=(PUMP,))
        restarted = AlarmStage(engine, log, outputs, clock, 30.0)
        restarted.restore()
    assert engine.rate_histories() == {}  # restored, unchanged
    engine.on_reading(pump_reading(200.5, final))
    resumed = engine.rate_histories()[PUMP]
    assert resumed is not None
    assert resumed.anchors == final.anchors  # the segment goes on


def pump_reading(t: float, history: RateHistory) -> PumpReading:
    assert history.last is not None
    return pump(t, volume=history.last[1])
