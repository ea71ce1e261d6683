"""Charting: which moments of a bed's treatment session go into the record, and with what.

A clinic documents vitals at a rhythm, not every second: every ``interval_s`` (5 min) from the
start of the infusion until the session closes, and every NIBP measurement in any phase.
:class:`BedCharter` decides those rows for one bed from its readings (in time order) and its
session snapshots; :func:`chart` runs it over a recorded history. The HL7 output charts live
with it and the session record charts from the history store with it: one rule, one place.

- Interval rows fall on marks ``infusion_started_at + k * interval_s`` (k = 0, 1, ...) while
  the phase is ``infusion`` or ``observation``. A row is written when the first reading at or
  after a mark arrives, stamped with the mark; when readings stopped over several marks (a
  device off line) only the last mark passed is written. Each value is the latest one measured
  at or before the row's reading and at most ``max_age_s`` old, with the minimum and maximum
  seen since the previous interval row.
- NIBP rows fall on each new cuff (the alarm rules' cuff identity, :class:`NibpTracker`; a
  revision of a cuff within seconds writes a row again), stamped with the cuff's measurement
  time, carrying the cuff and the latest other values.
- Charting starts with a session and stops when it closes (at ``observation_ends_at``); a new
  session starts afresh. The cuff that starts a session arrives before the session does (the
  engine opens the session on it): cuffs seen while no session is open are held (the last
  few) and charted when the session that starts at or before them arrives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import Phase, TreatmentSession
from edge.alarms.vitals import DIASTOLIC, SYSTOLIC, NibpTracker

__all__ = [
    "CHARTED_CODES",
    "DEFAULT_INTERVAL_S",
    "BedCharter",
    "ChartRow",
    "ChartedValue",
    "chart",
]

DEFAULT_INTERVAL_S = 300.0  # s: the clinic's charting rhythm during infusion and observation
MEAN = "MDC_PRESS_BLD_NONINV_MEAN"
NIBP_CODES = frozenset({SYSTOLIC, DIASTOLIC, MEAN})
CHARTED_CODES: tuple[str, ...] = (
    SYSTOLIC,
    DIASTOLIC,
    MEAN,
    "MDC_ECG_HEART_RATE",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_RESP_RATE",
    "MDC_AWAY_RESP_RATE",
    "MDC_TEMP_BODY",
    "MDC_FLOW_FLUID_PUMP",
    "MDC_VOL_FLUID_DELIV",
    "MDC_RATE_DOSE",
)
"""What a charted row carries, in this order: NIBP, HR, SpO2, RR, temperature, the pump's
programmed rate, volume infused and dose rate."""


@dataclass(frozen=True, slots=True)
class ChartedValue:
    """One charted quantity: ``value`` in ``unit`` measured at ``measured_at`` by
    ``device_id``; ``minimum``/``maximum`` since the previous interval row (equal to ``value``
    on an NIBP row's cuff)."""

    code: str
    value: float
    unit: str
    device_id: str
    measured_at: datetime
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class ChartRow:
    """A row of the chart: ``at`` is the interval mark or the cuff's measurement time."""

    bed: str
    session_id: str
    at: datetime
    reason: Literal["interval", "nibp"]
    phase: Phase
    values: tuple[ChartedValue, ...]

    def value(self, code: str) -> float | None:
        """The charted value of ``code``, or ``None``."""
        for charted in self.values:
            if charted.code == code:
                return charted.value
        return None


@dataclass(slots=True)
class _Latest:
    value: float
    unit: str
    device_id: str
    measured_at: datetime
    minimum: float
    maximum: float


@dataclass(slots=True)
class BedCharter:
    """The charting of one bed; feed it session snapshots and readings in time order."""

    interval_s: float = DEFAULT_INTERVAL_S
    max_age_s: float = 900.0
    codes: Sequence[str] = CHARTED_CODES
    session: TreatmentSession | None = None
    _latest: dict[str, _Latest] = field(default_factory=dict)
    _cuffs: dict[str, NibpTracker] = field(default_factory=dict)
    _next_mark: datetime | None = None
    _held: deque[tuple[VitalsReading, datetime]] = field(default_factory=lambda: deque(maxlen=4))

    def session_changed(self, session: TreatmentSession) -> list[ChartRow]:
        """Take up a session snapshot (a new session, a phase change or a correction); the
        rows of held cuffs a new session covers."""
        rows: list[ChartRow] = []
        if self.session is None or self.session.session_id != session.session_id:
            self._latest.clear()
            self._next_mark = None
            self.session = session
            for reading, cuff in self._held:
                if cuff >= session.started_at and session.phase != "closed":
                    self._remember(reading, skip_nibp=False)
                    rows.append(self._row(session, cuff, "nibp", reading.ts))
            self._held.clear()
        self.session = session
        if session.phase in ("infusion", "observation") and session.infusion_started_at:
            if self._next_mark is None:
                self._next_mark = session.infusion_started_at
        elif session.phase == "closed":
            self._next_mark = None
        return rows

    def reading(self, reading: PumpReading | VitalsReading) -> list[ChartRow]:
        """The rows ``reading`` completes (none, an interval row, a cuff row, or both)."""
        cuff = self._new_cuff(reading) if isinstance(reading, VitalsReading) else None
        session = self.session
        if session is None or not self._open_at(session, reading.ts):
            if cuff is not None and isinstance(reading, VitalsReading):
                self._held.append((reading, cuff))
            return []
        rows: list[ChartRow] = []
        mark = self._passed_mark(reading.ts)
        self._remember(reading, skip_nibp=cuff is None)
        if mark is not None:
            rows.append(self._row(session, mark, "interval", reading.ts))
            for latest in self._latest.values():
                latest.minimum = latest.maximum = latest.value
        if cuff is not None:
            rows.append(self._row(session, cuff, "nibp", reading.ts))
        return rows

    @staticmethod
    def _open_at(session: TreatmentSession, at: datetime) -> bool:
        """Whether ``session`` is open at ``at`` (its close may not have been seen yet)."""
        if session.phase == "closed" or at < session.started_at:
            return False
        return session.observation_ends_at is None or at < session.observation_ends_at

    def _passed_mark(self, at: datetime) -> datetime | None:
        if self._next_mark is None or at < self._next_mark:
            return None
        step = timedelta(seconds=self.interval_s)
        passed = int((at - self._next_mark) / step)
        mark = self._next_mark + passed * step
        self._next_mark = mark + step
        return mark

    def _new_cuff(self, reading: VitalsReading) -> datetime | None:
        tracker = self._cuffs.setdefault(reading.device_id, NibpTracker(self.max_age_s))
        cuff, _ = tracker.update(reading)
        return cuff.at if cuff is not None else None

    def _remember(self, reading: PumpReading | VitalsReading, *, skip_nibp: bool) -> None:
        """Latest values; a monitor's repeated NIBP is not a new measurement, so it is
        taken up only with its cuff."""
        for obs in reading.observations:
            if obs.code not in self.codes or obs.value is None:
                continue
            if obs.state not in ("valid", "questionable"):
                continue
            if skip_nibp and obs.code in NIBP_CODES:
                continue
            measured = obs.ts or reading.ts
            latest = self._latest.get(obs.code)
            if latest is None:
                self._latest[obs.code] = _Latest(
                    obs.value, obs.unit, reading.device_id, measured, obs.value, obs.value
                )
                continue
            latest.value, latest.unit, latest.device_id = obs.value, obs.unit, reading.device_id
            latest.measured_at = measured
            latest.minimum = min(latest.minimum, obs.value)
            latest.maximum = max(latest.maximum, obs.value)

    def _row(
        self,
        session: TreatmentSession,
        at: datetime,
        reason: Literal["interval", "nibp"],
        now: datetime,
    ) -> ChartRow:
        oldest = now - timedelta(seconds=self.max_age_s)
        values = []
        for code in self.codes:
            latest = self._latest.get(code)
            if latest is None or latest.measured_at < oldest:
                continue
            plain = reason == "nibp" and code in NIBP_CODES
            values.append(
                ChartedValue(
                    code=code,
                    value=latest.value,
                    unit=latest.unit,
                    device_id=latest.device_id,
                    measured_at=latest.measured_at,
                    minimum=latest.value if plain else latest.minimum,
                    maximum=latest.value if plain else latest.maximum,
                )
            )
        return ChartRow(session.bed, session.session_id, at, reason, session.phase, tuple(values))


def chart(
    history: Iterable[PumpReading | VitalsReading | TreatmentSession],
    interval_s: float = DEFAULT_INTERVAL_S,
) -> list[ChartRow]:
    """The chart of one bed from its history (readings and session snapshots in time
    order), in the order the rows were completed."""
    charter = BedCharter(interval_s=interval_s)
    rows: list[ChartRow] = []
    for item in history:
        if isinstance(item, TreatmentSession):
            rows.extend(charter.session_changed(item))
        else:
            rows.extend(charter.reading(item))
    return rows
