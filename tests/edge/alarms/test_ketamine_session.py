"""A whole ketamine session: ~100 minutes of readings, run in about a second.

5 min of baseline, 40 min of infusion at 54 mL/h (0.5 mg/kg, 72 kg, 1 mg/mL) with a monitor
every second (NIBP every 5 min) and the pump every 5 s, then 60 min of observation. Blood
pressure rises during the infusion as ketamine makes it do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from edge.alarms.models import AlarmEvent
from tests.edge.alarms.timeline import (
    BED,
    FakeClock,
    Reading,
    Run,
    at,
    engine_for,
    infusion,
    merged,
    monitor,
    pump,
)

INFUSION = (300.0, 2700.0)
END = INFUSION[1] + 3600 + 60


def pressures(points: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """NIBP every 5 min, from (t, systolic, diastolic) points joined by straight lines."""
    out: list[tuple[float, float, float]] = []
    for t in range(0, int(END), 300):
        for (t0, s0, d0), (t1, s1, d1) in itertools.pairwise(points):
            if t0 <= t <= t1:
                share = (t - t0) / (t1 - t0)
                out.append((float(t), round(s0 + share * (s1 - s0)), round(d0 + share * (d1 - d0))))
                break
    return out


def session(
    nibp: Sequence[tuple[float, float, float]], stop_at: float = INFUSION[1]
) -> Iterator[tuple[float, Reading]]:
    idle = [(float(t), pump(t, volume=0.0, state="stopped")) for t in range(0, int(INFUSION[0]), 5)]
    pump_readings = list(infusion(INFUSION[0], stop_at))
    volume = pump_readings[-1][1].value("MDC_VOL_FLUID_DELIV") or 0.0
    stopped = [
        (t, pump(t, volume=volume, state="stopped")) for t in range(int(stop_at), int(END), 5)
    ]
    yield from merged(
        monitor(0, INFUSION[0], hr=72, nibp=nibp),
        monitor(INFUSION[0], END, hr=84, spo2=97, rr=16, nibp=nibp),
        idle,
        pump_readings,
        stopped,
    )


def test_a_normal_session_raises_nothing() -> None:
    # +16/+11 mmHg at the end of the infusion, back to baseline an hour later
    nibp = pressures(
        [(0, 120, 78), (300, 121, 78), (2700, 136, 89), (6300, 122, 79), (END, 122, 79)]
    )
    clock = FakeClock()
    timeline = Run(engine_for(clock), clock).feed(session(nibp))
    timeline.until(END)
    assert timeline.alarms() == []
    assert timeline.sessions() == [
        (0, "started"),
        (300, "infusion_started"),
        (2700, "infusion_stopped"),
        (6300, "closed"),
    ]
    closed = timeline.engine.sessions.get(BED)
    assert closed is not None
    assert (closed.baseline_systolic, closed.baseline_diastolic) == (120.5, 78.0)
    assert closed.closed_at == at(6300)


def test_a_hypertensive_responder_is_medium_then_high_after_confirmation() -> None:
    nibp: list[tuple[float, float, float]] = [
        (0.0, 124, 80),
        (240, 124, 80),
        (900, 140, 88),
        (1500, 158, 96),  # rise 34: nothing yet
        (1800, 166, 99),  # >= 160: medium
        (2100, 181, 104),  # >= 180 once: not yet high
        (2400, 184, 106),  # again within 5 min: high
        (2700, 168, 98),  # under 170/105: high clears, medium holds (>= 150)
        (3000, 152, 92),  # inside the hysteresis band
        (3300, 144, 88),  # under 150/95: ended
        (3600, 132, 84),
    ]
    stop_at = 2430.0  # the nurse stops the infusion and acknowledges 30 s after the high
    clock = FakeClock()
    engine = engine_for(clock)
    timeline = Run(engine, clock)
    readings = list(session(nibp, stop_at=stop_at))
    timeline.feed(r for r in readings if r[0] < stop_at)
    [high] = [a for a in engine.active() if a.rule == "hypertension"]
    acknowledgement = engine.acknowledge(high.alarm_id, "nurse.kim")
    timeline.events += [(stop_at, e) for e in acknowledgement]
    timeline.feed(r for r in readings if r[0] >= stop_at)
    timeline.until(END)
    assert [(t, tr, p) for t, tr, r, p in timeline.alarms() if r == "hypertension"] == [
        (1800, "raised", "medium"),
        (2100, "escalated", "medium"),
        (2400, "priority_raised", "high"),
        (2430, "acknowledged", "high"),
        (3300, "ended", "high"),
    ]
    assert [r for _, _, r, _ in timeline.alarms()] == ["hypertension"] * 5
    events = [e for _, e in timeline.events if isinstance(e, AlarmEvent)]
    assert len({e.alarm.alarm_id for e in events}) == 1
    assert events[2].alarm.message.startswith("Blood pressure 184/106 mmHg")
    assert events[3].alarm.acknowledged_by == "nurse.kim"
    assert timeline.sessions()[-1] == (stop_at + 3600, "closed")
