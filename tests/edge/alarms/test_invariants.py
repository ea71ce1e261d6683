"""Stateful property tests of the alarm model's invariants (IEC 60601-1-8):

- an ended alarm never returns: no event ever names an ended id again, and a new episode is
  raised only while its condition is present;
- a latched alarm never vanishes unacknowledged: it ends only through an acknowledgement;
- priorities only break through upward: an episode's priority never goes down;
- technical alarms never latch; an acknowledged alarm names who and when.

Two machines: one drives an :class:`AlarmTrack` with arbitrary conditions (every priority,
both kinds), one drives the whole engine with SpO2 readings, silences, ticks and
acknowledgements.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from edge.alarms.engine import AlarmEngine
from edge.alarms.judges import Flag, Hit
from edge.alarms.levels import Condition
from edge.alarms.lifecycle import AlarmTrack
from edge.alarms.limits import EscalationLimits, Priority
from edge.alarms.models import PRIORITY_RANK, Alarm, AlarmEvent, Kind
from edge.alarms.rules import Level, Rule
from tests.edge.alarms.timeline import MONITOR, FakeClock, at, engine_for, vitals

SETTINGS = settings(max_examples=150, stateful_step_count=40, deadline=None)
USERS = st.sampled_from(["nurse.kim", "nurse.lee"])


class Checker:
    """Checks every alarm event against what came before it."""

    def __init__(self) -> None:
        self.last: dict[str, Alarm] = {}
        self.ended: set[str] = set()

    def check(self, events: list[AlarmEvent], present: Callable[[Alarm], bool]) -> None:
        for event in events:
            alarm, before = event.alarm, self.last.get(event.alarm.alarm_id)
            assert alarm.alarm_id not in self.ended, "an ended alarm came back"
            if event.transition == "raised":
                assert before is None
                assert present(alarm), "raised without its condition"
            else:
                assert before is not None
                assert PRIORITY_RANK[alarm.priority] >= PRIORITY_RANK[before.priority]
                if before.state == "latched" and alarm.state == "ended":
                    assert event.transition == "acknowledged"
            if event.transition == "reactivated":
                assert present(alarm)
            if alarm.kind == "technical":
                assert alarm.state != "latched"
            if alarm.state == "latched":
                assert alarm.latching
                assert alarm.acknowledged_by is None
            if alarm.state == "acknowledged":
                assert alarm.acknowledged_by is not None
                assert alarm.acknowledged_at is not None
            self.last[alarm.alarm_id] = alarm
            if alarm.state == "ended":
                self.ended.add(alarm.alarm_id)


class TrackMachine(RuleBasedStateMachine):
    """One rule's alarm under arbitrary conditions, acknowledgements and escalation checks."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0
        self.checker = Checker()
        self.track = AlarmTrack(_rule("physiological"), "bed-1", "dev-1")
        self.condition: Condition | None = None

    @initialize(kind=st.sampled_from(["physiological", "technical"]))
    def choose_kind(self, kind: Kind) -> None:
        self.track = AlarmTrack(_rule(kind), "bed-1", "dev-1")

    @rule(
        priority=st.none() | st.sampled_from(["low", "medium", "high"]),
        dt=st.floats(0.001, 400),
    )
    def condition_changes(self, priority: Priority | None, dt: float) -> None:
        self.t += dt
        self.condition = None if priority is None else Condition(priority, Hit(1.0, 2.0, "x"))
        events = self.track.update(self.condition, at(self.t))
        self.checker.check(events, lambda alarm: self.condition is not None)

    @precondition(lambda self: self.track.alarm is not None)
    @rule(by=USERS, dt=st.floats(0, 100))
    def acknowledge(self, by: str, dt: float) -> None:
        self.t += dt
        before = self.track.alarm
        events = self.track.acknowledge(by, at(self.t))
        self.checker.check(events, lambda alarm: self.condition is not None)
        assert before is not None
        if before.state == "acknowledged":
            assert events == []
        else:
            [event] = events
            assert (event.alarm.acknowledged_by, event.alarm.acknowledged_at) == (by, at(self.t))
            assert not event.alarm.escalated

    @rule(dt=st.floats(0, 400))
    def time_passes(self, dt: float) -> None:
        self.t += dt
        events = self.track.escalate(at(self.t), EscalationLimits())
        self.checker.check(events, lambda alarm: True)
        for event in events:
            assert event.transition == "escalated"
            assert event.alarm.state in ("active", "latched")
            assert event.alarm.priority != "low"

    @invariant()
    def current_alarm_is_not_ended(self) -> None:
        alarm = self.track.alarm
        assert alarm is None or alarm.state != "ended"
        if alarm is not None and self.condition is None:
            # no condition: only a latched alarm (or one judged before the change) remains
            assert alarm.state == "latched"


def _rule(kind: Kind) -> Rule:
    level = Level(Flag("occlusion", "test condition"), "high")
    return Rule("test_rule", kind, "pump", None, (level,), "a rule for property tests")


class EngineMachine(RuleBasedStateMachine):
    """The engine on one monitor: SpO2 readings, silences, ticks and acknowledgements."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.engine: AlarmEngine = engine_for(self.clock, devices=(MONITOR,))
        self.checker = Checker()
        self.spo2 = 97.0
        self.silent = False

    def _check(self, events: list[object]) -> None:
        alarm_events = [e for e in events if isinstance(e, AlarmEvent)]
        self.checker.check(alarm_events, self._present)

    def _present(self, alarm: Alarm) -> bool:
        if alarm.rule == "spo2_low":
            return self.spo2 < 90
        return self.silent

    @rule(
        spo2=st.sampled_from([80.0, 84.0, 86.0, 89.0, 90.0, 91.0, 92.0, 97.0]), dt=st.integers(1, 8)
    )
    def reading(self, spo2: float, dt: int) -> None:
        self._advance(dt)
        self.spo2, self.silent = spo2, False
        self._check(list(self.engine.on_reading(vitals(self.clock.t, spo2=spo2))))

    @rule(seconds=st.integers(5, 40))
    def silence(self, seconds: int) -> None:
        for _ in range(seconds):
            self._advance(1)

    @precondition(lambda self: bool(self.engine.active()))
    @rule(data=st.data(), by=USERS)
    def acknowledge(self, data: st.DataObject, by: str) -> None:
        alarm = data.draw(st.sampled_from(self.engine.active()))
        events = self.engine.acknowledge(alarm.alarm_id, by)
        self._check(list(events))
        if alarm.state == "latched":
            assert self.engine.get(alarm.alarm_id) is None

    def _advance(self, seconds: int) -> None:
        self.clock.t += seconds
        if self.engine._devices[MONITOR].offline(self.clock.monotonic()):
            self.silent = True
        self._check(list(self.engine.tick()))

    @invariant()
    def active_alarms_are_current(self) -> None:
        for alarm in self.engine.active():
            assert alarm.state != "ended"
            assert alarm.alarm_id not in self.checker.ended
            assert self.checker.last[alarm.alarm_id] == alarm


def test_track_invariants() -> None:
    run_state_machine_as_test(TrackMachine, settings=SETTINGS)


def test_engine_invariants() -> None:
    run_state_machine_as_test(EngineMachine, settings=SETTINGS)
