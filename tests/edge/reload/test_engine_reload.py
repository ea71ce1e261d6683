"""The alarm engine under a reload: new limits at the next evaluation, a removed device's
alarms end (technical) or latch (high physiological), a reopened link is not an outage."""

from __future__ import annotations

from collections.abc import Sequence

from edge.alarms.devices import DeviceInfo
from edge.alarms.engine import DEVICE_REMOVED
from edge.alarms.models import AlarmEvent
from edge.config import AlarmsConfig
from tests.edge.alarms.test_rules_device import state
from tests.edge.alarms.timeline import BED, MONITOR, FakeClock, engine_for, vitals

NOW = {"hr_abnormal": {"medium_delay_s": 0, "clear_hold_s": 0}, "spo2_low": {"high_delay_s": 0}}


def alarm_events(events: Sequence[object]) -> list[AlarmEvent]:
    return [e for e in events if isinstance(e, AlarmEvent)]


def test_a_lowered_limit_raises_at_the_next_reading_and_an_open_alarm_keeps_its_state() -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,), limits=AlarmsConfig.model_validate(NOW))
    assert not alarm_events(engine.on_reading(vitals(1, hr=110)))
    lowered = AlarmsConfig.model_validate(
        {**NOW, "hr_abnormal": {**NOW["hr_abnormal"], "medium_above": 100}}
    )
    engine.reconfigure(lowered, {}, [BED])
    clock.t = 2
    (raised,) = alarm_events(engine.on_reading(vitals(2, hr=110)))
    assert (raised.transition, raised.alarm.priority, raised.alarm.limit) == (
        "raised",
        "medium",
        100,
    )
    engine.reconfigure(lowered, {}, [BED])  # the same limits again: the alarm stays as it is
    assert not alarm_events(engine.on_reading(vitals(3, hr=110)))
    assert [a.state for a in engine.active()] == ["active"]
    engine.reconfigure(AlarmsConfig.model_validate(NOW), {}, [BED])  # raised back: it ends
    (ended,) = alarm_events(engine.on_reading(vitals(4, hr=110)))
    assert ended.transition == "ended"
    assert ended.alarm.ended_reason is None  # ended by its condition, as usual


def test_a_removed_device_ends_technical_alarms_and_latches_a_high_physiological_one() -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,), limits=AlarmsConfig.model_validate(NOW))
    engine.on_reading(vitals(0, spo2=80))  # high SpO2 alarm at once
    clock.t = 20
    offline = alarm_events(engine.tick())
    assert [e.alarm.rule for e in offline] == ["device_offline"]
    events = alarm_events(engine.remove_device(MONITOR))
    by_rule = {e.alarm.rule: e for e in events}
    assert by_rule["device_offline"].alarm.state == "ended"
    assert by_rule["device_offline"].alarm.ended_reason == DEVICE_REMOVED
    assert by_rule["spo2_low"].transition == "latched"
    assert [a.rule for a in engine.active()] == ["spo2_low"]
    clock.t = 60
    later = alarm_events(engine.tick())  # a removed device is never offline again; the latched
    assert [(e.alarm.rule, e.transition) for e in later] == [("spo2_low", "escalated")]  # goes on
    assert not engine.on_reading(vitals(61, spo2=80))  # a late reading on the bus is ignored
    alarm_id = engine.active()[0].alarm_id
    (acked,) = engine.acknowledge(alarm_id, "nurse.kim")
    assert acked.alarm.state == "ended"


def test_a_reopened_link_starting_offline_is_no_outage_but_silence_still_is() -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,), timeout_s=10)
    engine.on_reading(vitals(0, hr=80))
    engine.add_device(DeviceInfo(MONITOR, BED, 10))
    engine.reopen(MONITOR)
    clock.t = 1
    assert not alarm_events(engine.on_device_state(state(1, "offline")))
    assert not alarm_events(engine.tick())
    clock.t = 11
    assert [e.alarm.rule for e in alarm_events(engine.tick())] == ["device_offline"]
