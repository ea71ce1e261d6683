"""The charting rule over a whole simulated session: interval marks, every cuff, min/max."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import SessionEvent, TreatmentSession
from edge.alarms.vitals import SYSTOLIC
from edge.charting import BedCharter, ChartRow, chart
from tests.scenario_harness import WALL0, BedSimulation

History = list[PumpReading | VitalsReading | TreatmentSession]


def _history(sim: BedSimulation) -> History:
    """Readings and session snapshots in the order the daemon sees them (a reading before
    the session it opens)."""
    timed: list[tuple[datetime, int, PumpReading | VitalsReading | TreatmentSession]] = [
        (reading.ts, 0, reading) for reading in sim.readings
    ]
    timed += [
        (seen.event.at, 1, seen.event.session)
        for seen in sim.events
        if isinstance(seen.event, SessionEvent)
    ]
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in timed]


@pytest.fixture(scope="module")
def normal() -> tuple[History, list[ChartRow], TreatmentSession]:
    sim = BedSimulation.of("normal-ketamine")
    sim.run()
    history = _history(sim)
    sessions = [item for item in history if isinstance(item, TreatmentSession)]
    first = [s for s in sessions if s.session_id == sessions[0].session_id][-1]
    rows = [row for row in chart(history) if row.session_id == first.session_id]
    return history, rows, first


def test_interval_rows_every_5_min_from_infusion_start_to_close(
    normal: tuple[History, list[ChartRow], TreatmentSession],
) -> None:
    _, rows, session = normal
    assert session.phase == "closed"
    assert session.infusion_started_at is not None
    assert session.closed_at is not None
    marks = [row.at for row in rows if row.reason == "interval"]
    span = session.closed_at - session.infusion_started_at
    expected = int(span / timedelta(minutes=5))  # the mark at close is not reached
    assert marks[0] == session.infusion_started_at
    assert len(marks) in (expected, expected + 1)
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(marks))
    assert all(row.at < session.closed_at for row in rows)


def test_every_cuff_of_the_session_is_charted_once(
    normal: tuple[History, list[ChartRow], TreatmentSession],
) -> None:
    history, rows, session = normal
    stamps = sorted(
        {
            obs.ts
            for item in history
            if isinstance(item, VitalsReading)
            for obs in item.observations
            if obs.code == SYSTOLIC
            and obs.ts is not None
            and session.started_at <= obs.ts < (session.closed_at or obs.ts)
        }
    )
    cuffs = [stamps[0]] + [
        b for a, b in itertools.pairwise(stamps) if b - a > timedelta(seconds=10)
    ]
    nibp = [row for row in rows if row.reason == "nibp"]
    assert len(cuffs) > 30  # a cuff every 3 min for 105 min
    assert [row.at for row in nibp] == pytest.approx(cuffs, abs=timedelta(seconds=10))
    assert nibp[0].at == session.started_at  # the cuff that opened the session
    assert nibp[0].phase == "baseline"


def test_rows_carry_the_pump_and_the_rise(
    normal: tuple[History, list[ChartRow], TreatmentSession],
) -> None:
    _, rows, session = normal
    assert session.infusion_started_at is not None
    infusion = [row for row in rows if row.reason == "interval" and row.phase == "infusion"]
    assert infusion[1].value("MDC_FLOW_FLUID_PUMP") == pytest.approx(52.5)
    volumes = [row.value("MDC_VOL_FLUID_DELIV") for row in infusion]
    assert all(v is not None for v in volumes)
    assert volumes == sorted(volumes)  # type: ignore[type-var]
    minutes = (infusion[-1].at - session.infusion_started_at).total_seconds() / 60
    assert volumes[-1] == pytest.approx(52.5 * minutes / 60, abs=1.5)
    baseline = [row.value(SYSTOLIC) for row in rows if row.phase == "baseline"]
    peak = max(row.value(SYSTOLIC) or 0 for row in rows if row.phase == "infusion")
    assert peak - max(b for b in baseline if b is not None) >= 8
    for row in infusion[1:]:
        for value in row.values:
            assert value.minimum <= value.value <= value.maximum


def test_no_session_no_rows_and_a_new_session_starts_afresh() -> None:
    charter = BedCharter(interval_s=60)
    first = TreatmentSession(
        session_id="chair-1.a",
        bed="chair-1",
        phase="infusion",
        started_at=WALL0,
        infusion_started_at=WALL0,
    )
    reading = PumpReading.model_validate(
        {
            "kind": "pump",
            "device_id": "pump-1",
            "bed": "chair-1",
            "ts": WALL0 + timedelta(seconds=61),
            "observations": [{"code": "MDC_FLOW_FLUID_PUMP", "value": 50, "unit": "mL/h"}],
            "pump": {"state": "infusing"},
        }
    )
    assert charter.reading(reading) == []
    charter.session_changed(first)
    rows = charter.reading(reading)
    assert [row.at for row in rows] == [WALL0 + timedelta(seconds=60)]
    closed = first.model_copy(update={"phase": "closed", "closed_at": WALL0})
    charter.session_changed(closed)
    later = reading.model_copy(update={"ts": WALL0 + timedelta(seconds=200)})
    assert charter.reading(later) == []
