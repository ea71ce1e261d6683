"""The engine's cheap paths give the same events as the plain evaluation they replace.

:class:`PlainEngine` is the engine as it was before them: every rule of a source found by
scanning the whole table, every level's delay and hold looked up on every evaluation, and
every reading judging the device rules with ``offline=False``. Both engines are driven by
one random ward (a pump and a monitor on one chair: readings with rates, volumes, flags and
vitals around their limits, silences, ticks, device states, acknowledgements) and must emit
the same events, in the same order, with the same alarms open after every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from drivers.readings import PumpFlags, PumpState
from edge.alarms.devices import DeviceInfo, DeviceTrack
from edge.alarms.engine import AlarmEngine, EngineEvent
from edge.alarms.judges import Facts
from edge.alarms.levels import Condition, LevelState
from edge.alarms.limits import AlarmLimits
from edge.alarms.models import PRIORITY_RANK
from edge.alarms.rules import Rule
from edge.device_state import Connection, DeviceState
from tests.edge.alarms.timeline import (
    BED,
    MONITOR,
    ORDER,
    PUMP,
    RATE,
    FakeClock,
    at,
    engine_for,
    pump,
    vitals,
)

SETTINGS = settings(max_examples=120, stateful_step_count=50, deadline=None)


def plain_evaluate(
    rule: Rule,
    limits: AlarmLimits,
    facts: Facts,
    levels: Sequence[LevelState],
    at: datetime,
    max_gap_s: float,
) -> Condition | None:
    """``edge.alarms.levels.evaluate`` with every delay and hold looked up every time."""
    section = rule.limits(limits)
    best: Condition | None = None
    for level, state in zip(rule.levels, levels, strict=True):
        verdict = level.judge(section, facts)
        state.step(verdict, at, level.delay_s(section), level.hold_s(section), max_gap_s)
        if state.on:
            priority = level.priority_in(section)
            if best is None or PRIORITY_RANK[priority] > PRIORITY_RANK[best.priority]:
                best = Condition(priority, state.hit)
    return best


class PlainEngine(AlarmEngine):
    """The engine without its cheap paths."""

    def _online_changes_nothing(self, bed: str, device: DeviceTrack) -> bool:
        return False

    def _run_rules(
        self,
        bed: str,
        device_id: str | None,
        source: str,
        facts: Facts,
        at: datetime,
        max_gap: float,
    ) -> list[EngineEvent]:
        limits = self._limits(bed)
        events: list[EngineEvent] = []
        for each in self._rules:
            if each.source != source:
                continue
            rule_track = self._rule_track((bed, device_id, each.name), each)
            condition = plain_evaluate(each, limits, facts, rule_track.levels, at, max_gap)
            events += self._index(rule_track.track.update(condition, at))
        return events


FLAGS = st.sampled_from(
    [PumpFlags(), PumpFlags(occlusion=True), PumpFlags(air_in_line=True), PumpFlags(near_end=True)]
)
STATES: st.SearchStrategy[PumpState] = st.sampled_from(["infusing", "infusing", "stopped"])
SPO2 = st.sampled_from([None, 84.0, 89.0, 91.0, 97.0])
HR = st.sampled_from([None, 38.0, 45.0, 72.0, 125.0, 160.0])
RR = st.sampled_from([None, 5.0, 9.0, 14.0, 32.0])


class BothEngines(RuleBasedStateMachine):
    """One ward fed to the engine and to the plain engine; their outputs compared."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.fast = engine_for(self.clock)
        infos = [DeviceInfo(device, BED, 10.0) for device in (PUMP, MONITOR)]
        self.plain = PlainEngine(self.clock, orders={BED: ORDER}, devices=infos)
        self.volume = 0.0
        self.frames = {PUMP: [0, 0], MONITOR: [0, 0]}

    def _same(self, fast: Sequence[EngineEvent], plain: Sequence[EngineEvent]) -> None:
        assert list(fast) == list(plain)

    def _advance(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.t += 1
            self._same(self.fast.tick(), self.plain.tick())

    @rule(
        dt=st.integers(1, 8),
        delivered=st.sampled_from([0.0, 0.5, 1.0, 1.6]),
        rate=st.sampled_from([RATE, RATE, 20.0]),
        state=STATES,
        flags=FLAGS,
        bolus=st.booleans(),
    )
    def pump_reading(
        self,
        dt: int,
        delivered: float,
        rate: float,
        state: PumpState,
        flags: PumpFlags,
        bolus: bool,
    ) -> None:
        self._advance(dt)
        self.volume = round(self.volume + dt * RATE * delivered / 3600, 2)
        reading = pump(
            self.clock.t, volume=self.volume, rate=rate, state=state, flags=flags, bolus=bolus
        )
        self._same(self.fast.on_reading(reading), self.plain.on_reading(reading))

    @rule(dt=st.integers(1, 8), spo2=SPO2, hr=HR, rr=RR, cuff=st.booleans())
    def monitor_reading(
        self, dt: int, spo2: float | None, hr: float | None, rr: float | None, cuff: bool
    ) -> None:
        self._advance(dt)
        t = self.clock.t
        nibp = (185.0, 95.0, t) if cuff else None
        reading = vitals(t, spo2=spo2, hr=hr, rr=rr, nibp=nibp)
        self._same(self.fast.on_reading(reading), self.plain.on_reading(reading))

    @rule(seconds=st.integers(2, 40))
    def silence(self, seconds: int) -> None:
        self._advance(seconds)

    @rule(
        device=st.sampled_from([PUMP, MONITOR]),
        connection=st.sampled_from(["online", "stale", "offline"]),
        ok=st.integers(0, 20),
        bad=st.integers(0, 10),
    )
    def device_state(self, device: str, connection: Connection, ok: int, bad: int) -> None:
        counts = self.frames[device]
        counts[0] += ok
        counts[1] += bad
        state = DeviceState(
            device_id=device,
            bed=BED,
            driver="test",
            connection=connection,
            since=at(self.clock.t),
            last_reading_at=None,
            frames_ok=counts[0],
            frames_bad=counts[1],
            reconnects=0,
        )
        self._same(self.fast.on_device_state(state), self.plain.on_device_state(state))

    @precondition(lambda self: bool(self.fast.active()))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        alarm = data.draw(st.sampled_from(self.fast.active()))
        fast = self.fast.acknowledge(alarm.alarm_id, "nurse.kim")
        self._same(fast, self.plain.acknowledge(alarm.alarm_id, "nurse.kim"))

    @invariant()
    def same_alarms_open(self) -> None:
        assert self.fast.active() == self.plain.active()


def test_the_cheap_paths_give_the_plain_engines_events() -> None:
    run_state_machine_as_test(BothEngines, settings=SETTINGS)
