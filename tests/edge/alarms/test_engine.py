"""The engine's wiring: built from config (per-bed limits, orders, timeouts), input checks,
ordering of what it returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from edge.alarms.engine import AlarmEngine
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.config import Config
from tests.edge.alarms.timeline import (
    BED,
    MONITOR,
    PUMP,
    FakeClock,
    Run,
    engine_for,
    infusion,
    monitor,
    pump,
    quantize,
    vitals,
)


def config(**alarms: Any) -> Config:
    order = {
        "drug": "Ketamine",
        "concentration_mg_per_ml": 1.0,
        "dose_mg_per_kg": 0.5,
        "weight_kg": 72,
        "duration_min": 40,
    }
    return Config(
        site="clinic",
        edge_id="edge-1",
        beds={BED: {"order": order}, "chair-2": {}},
        devices=[
            {"id": PUMP, "bed": BED, "driver": "textline", "port": "/dev/ttyS10"},
            {
                "id": MONITOR,
                "bed": BED,
                "driver": "textline",
                "port": "/dev/ttyS11",
                "timeout_s": 30,
            },
            {"id": "monitor-2", "bed": "chair-2", "driver": "textline", "port": "/dev/ttyS12"},
        ],
        alarms=alarms,
    )


def test_from_config_takes_devices_timeouts_orders_and_per_bed_limits() -> None:
    clock = FakeClock()
    engine = AlarmEngine.from_config(
        config(beds={"chair-2": {"hypertension": {"medium_systolic": 170}}}), clock
    )
    timeline = Run(engine, clock)
    timeline.until(20)
    # pump-1 and monitor-2 time out at 10 s, monitor-1 at its own 30 s
    assert sorted(
        (t, e.alarm.device_id) for t, e in timeline.events if isinstance(e, AlarmEvent)
    ) == [
        (10, "monitor-2"),
        (10, PUMP),
    ]
    # chair-1 keeps the site's 160 mmHg, chair-2 has 170
    both = [
        (21.0, vitals(21, nibp=(165, 90, 21))),
        (21.0, vitals(21, nibp=(165, 90, 21), device="monitor-2", bed="chair-2")),
    ]
    timeline.feed(both)
    raised = [
        e.alarm
        for _, e in timeline.events
        if isinstance(e, AlarmEvent) and e.alarm.rule == "hypertension"
    ]
    assert [(a.bed, a.priority) for a in raised] == [(BED, "medium")]
    # the order of chair-1 implies 54 mL/h: 60 mL/h is a setpoint mismatch
    timeline.feed([(22.0, pump(22, volume=0.0, rate=60.0))])
    assert any(a.rule == "setpoint_mismatch" for a in engine.active())


def test_a_reading_older_than_the_last_is_ignored() -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,))
    clock.t = 20
    assert engine.on_reading(vitals(20, spo2=97)) == []
    assert engine.on_reading(vitals(5, spo2=70)) == []
    assert engine.on_reading(vitals(20, spo2=97)) == []  # the same time again is fine


def test_acknowledgement_input_is_checked() -> None:
    clock = FakeClock()
    timeline = Run(engine_for(clock, devices=(MONITOR,)), clock)
    timeline.feed((float(t), vitals(t, spo2=80)) for t in range(12))
    alarm_id = timeline.engine.active()[0].alarm_id
    with pytest.raises(ValueError, match="1-64 characters"):
        timeline.engine.acknowledge(alarm_id, "x" * 65)
    with pytest.raises(ValueError, match="time zone"):
        timeline.engine.acknowledge(alarm_id, "nurse.kim", at=datetime(2025, 3, 14, 9, 0))


def test_session_events_come_before_the_alarms_they_cause() -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(PUMP,))
    events = engine.on_reading(pump(0, volume=0.0, rate=80.0))
    kinds = ["session" if isinstance(e, SessionEvent) else "alarm" for e in events]
    assert kinds == ["session", "session", "alarm"]


def test_active_lists_highest_priority_first_then_oldest() -> None:
    clock = FakeClock()
    timeline = Run(engine_for(clock, devices=(PUMP, MONITOR)), clock)
    timeline.feed(monitor(0, 40, spo2=88))  # pump offline (low) at 10, spo2 medium at 15
    wrong = [
        (float(t), pump(t, volume=quantize(t * 60 / 3600), rate=60.0)) for t in range(40, 50, 5)
    ]
    timeline.feed(wrong)  # setpoint high at 40, pump back online
    assert [(a.rule, a.priority) for a in timeline.engine.active()] == [
        ("setpoint_mismatch", "high"),
        ("spo2_low", "medium"),
    ]


def test_restore_twice_is_harmless() -> None:
    clock = FakeClock()
    first = engine_for(clock, devices=(MONITOR,))
    Run(first, clock).feed((float(t), vitals(t, spo2=86)) for t in range(30))
    second = engine_for(clock, devices=(MONITOR,))
    second.restore(first.active())
    second.restore(first.active())
    assert second.active() == first.active()
    timeline = Run(second, clock).feed(infusion(30, 40))
    assert [tr for _, tr, _, _ in timeline.alarms()] == []
