"""Pure evaluation of a scenario: what the bed looks like at scenario time ``t`` (seconds).

:class:`Timeline` compiles a :class:`~.scenario.Scenario` once and then answers, for any
``t_s`` >= 0 and with no I/O or clock of its own:

- :meth:`Timeline.vitals`: HR, PR, SpO2, RR and the optional temperature, PI, SpCO, SpMet
  and PVI (continuous, noise redrawn every scenario second) and the last NIBP cuff
  measurement with its time (periodic or extra); rounded to each quantity's decimals and
  clamped to :data:`~.scenario.QUANTITIES`; the artefact flags open then (a cuff
  keeps the flag of the moment it was measured);
- :meth:`Timeline.pump` / :meth:`Timeline.pumps`: each pump's programmed and delivered rate,
  volume infused (the integral of the delivered rate, see :mod:`.infusion`) and flags;
- :meth:`Timeline.faults` and :meth:`Timeline.wire_faults`: the fault windows open at ``t_s``.

Noise is a pure function of (seed, quantity, sample index), so the same seed gives the same
values whatever order or rate the timeline is asked in. Past ``duration_min`` every track
holds its last value and the pumps carry on as programmed.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from drivers.sim.bedside import ArtefactState
from drivers.sim.faults import DeviceRole, Fault, PumpFault, WireFault
from drivers.sim.infusion import Mode, Piece, compile_pump
from drivers.sim.programs import PumpSpec
from drivers.sim.scenario import QUANTITIES, Scenario, Track

__all__ = [
    "Nibp",
    "PumpSnapshot",
    "Timeline",
    "ValueState",
    "VitalSigns",
    "noise",
    "track_level",
]

ValueState = Literal["valid"] | ArtefactState

_LIMITS = {quantity.name: (quantity.low, quantity.high) for quantity in QUANTITIES}
_DECIMALS = {quantity.name: quantity.decimals for quantity in QUANTITIES}
_PRESSURE_PCT = {"occlusion": 100, "running": 12, "idle": 0}  # line pressure, % of limit


@dataclass(frozen=True, slots=True)
class Nibp:
    """One cuff measurement in mmHg, taken at scenario time ``measured_at_s`` (s), flagged
    ``state`` by the monitor."""

    systolic: int
    diastolic: int
    mean: int
    measured_at_s: float
    state: ValueState = "valid"


@dataclass(frozen=True, slots=True)
class VitalSigns:
    """What the monitor shows: HR and PR (/min), SpO2 (%), RR (/min), last NIBP or none;
    ``flags``: the continuous quantities flagged now, by name (``hr``, ``spo2``...). The
    optional tracks, ``None`` when the scenario has none: body temperature ``temp`` (Cel, one
    decimal), perfusion index ``pi`` (%, two decimals), ``spco`` and ``spmet`` (%, one
    decimal), ``pvi`` (%, whole)."""

    hr: int
    pr: int
    spo2: int
    rr: int
    nibp: Nibp | None
    flags: Mapping[str, ArtefactState] = field(default_factory=dict)
    temp: float | None = None
    pi: float | None = None
    spco: float | None = None
    spmet: float | None = None
    pvi: float | None = None

    def state(self, name: str) -> ValueState:
        """How the monitor flags continuous quantity ``name`` now."""
        return self.flags.get(name, "valid")


@dataclass(frozen=True, slots=True)
class PumpSnapshot:
    """One pump at one moment. ``rate_ml_h`` is the rate the pump shows (the KVO rate in
    KVO), ``delivered_ml_h`` what actually flows; ``infused_ml`` counts since the last start.
    ``mode`` is the program's (a halted pump keeps it and resumes); ``running`` is false
    while stopped or halted by an alarm."""

    slot: str
    drug: str | None
    concentration_mg_ml: float | None
    mode: Mode
    rate_ml_h: float
    delivered_ml_h: float
    vtbi_ml: float | None
    infused_ml: float
    running: bool
    kvo: bool
    bolus: bool
    occlusion: bool
    air_in_line: bool
    end_of_volume: bool
    near_end: bool
    pressure_pct: int


def noise(seed: int, name: str, index: int) -> float:
    """A standard normal draw fixed by ``(seed, name, index)``."""
    return random.Random(f"{seed}/{name}/{index}").gauss(0.0, 1.0)  # noqa: S311  # not secret


def track_level(track: Track, t_s: float) -> float:
    """The noise-free value of ``track`` at ``t_s``: steps hold, ramps are linear."""
    value = track.baseline
    minute = t_s / 60.0
    for change in track.changes:
        if minute < change.at_min:
            break
        target = change.target(track.baseline)
        if change.until_min is None or minute >= change.until_min:
            value = target
            continue
        share = (minute - change.at_min) / (change.until_min - change.at_min)
        return value + (target - value) * share
    return value


class Timeline:
    """A compiled scenario. ``seed`` overrides the scenario's own."""

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        pump_faults = [f for f in scenario.faults if isinstance(f, PumpFault)]
        self._specs = {pump.slot: pump for pump in scenario.pumps}
        self._pieces = {pump.slot: compile_pump(pump, pump_faults) for pump in scenario.pumps}
        self._starts = {
            slot: [piece.start_s for piece in pieces] for slot, pieces in self._pieces.items()
        }

    @property
    def slots(self) -> tuple[str, ...]:
        """The pump slots of the scenario, in its order."""
        return tuple(self._specs)

    @property
    def duration_s(self) -> float:
        """The scenario's length in seconds."""
        return self.scenario.duration_min * 60.0

    def _level(self, name: str, track: Track, t_s: float, index: int) -> float:
        """The track's value with noise, clamped to its range (not rounded)."""
        raw = track_level(track, t_s) + track.noise_sd * noise(self.seed, name, index)
        low, high = _LIMITS[name]
        return min(max(raw, low), high)

    def _value(self, name: str, track: Track, t_s: float, index: int) -> int:
        return round(self._level(name, track, t_s, index))

    def _optional(self, name: str, t_s: float, index: int) -> float | None:
        """Optional track ``name`` at ``t_s``, rounded to its decimals; ``None`` without one."""
        track: Track | None = getattr(self.scenario.vitals, name)
        if track is None:
            return None
        return round(self._level(name, track, t_s, index), _DECIMALS[name])

    def vitals(self, t_s: float) -> VitalSigns | None:
        """The monitor's values at ``t_s``; ``None`` if the scenario has no vitals."""
        vitals = self.scenario.vitals
        if vitals is None:
            return None
        second = math.floor(t_s)
        hr = self._value("hr", vitals.hr, t_s, second)
        pr = hr if vitals.pr is None else self._value("pr", vitals.pr, t_s, second)
        return VitalSigns(
            hr=hr,
            pr=pr,
            spo2=self._value("spo2", vitals.spo2, t_s, second),
            rr=self._value("rr", vitals.rr, t_s, second),
            nibp=self.nibp(t_s),
            flags=self._flags(t_s),
            temp=self._optional("temp", t_s, second),
            pi=self._optional("pi", t_s, second),
            spco=self._optional("spco", t_s, second),
            spmet=self._optional("spmet", t_s, second),
            pvi=self._optional("pvi", t_s, second),
        )

    def _flags(self, t_s: float) -> dict[str, ArtefactState]:
        vitals = self.scenario.vitals
        assert vitals is not None
        flags: dict[str, ArtefactState] = {}
        for artefact in vitals.artefacts:
            if artefact.quantity != "nibp" and artefact.covers(artefact.quantity, t_s):
                flags.setdefault(artefact.quantity, artefact.state)
        if vitals.pr is None and "hr" in flags:
            flags.setdefault("pr", flags["hr"])  # one source: PR follows HR
        return flags

    def nibp(self, t_s: float) -> Nibp | None:
        """The last cuff measurement at or before ``t_s`` (periodic or extra), if any."""
        vitals = self.scenario.vitals
        if vitals is None:
            return None
        cuffs: list[tuple[float, int]] = []  # (measured at s, noise index)
        if t_s >= vitals.nibp_first_s:
            cycle = math.floor((t_s - vitals.nibp_first_s) / vitals.nibp_interval_s)
            cuffs.append((vitals.nibp_first_s + cycle * vitals.nibp_interval_s, cycle))
        cuffs += [
            (extra.at_min * 60.0, -1 - index)
            for index, extra in enumerate(vitals.extra_cuffs)
            if extra.at_min * 60.0 <= t_s
        ]
        if not cuffs:
            return None
        at, index = max(cuffs, key=lambda cuff: (cuff[0], -cuff[1]))  # an extra cuff wins a tie
        return self._cuff(at, index)

    def _cuff(self, at: float, index: int) -> Nibp:
        """The cuff measured at scenario second ``at``: periodic ``index`` >= 0, else extra
        cuff ``-1 - index`` (explicit values win over the tracks)."""
        vitals = self.scenario.vitals
        assert vitals is not None
        extra = vitals.extra_cuffs[-1 - index] if index < 0 else None
        systolic = self._value("sbp", vitals.sbp, at, index)
        diastolic = self._value("dbp", vitals.dbp, at, index)
        if extra is not None:
            systolic = systolic if extra.sbp is None else round(extra.sbp)
            diastolic = diastolic if extra.dbp is None else round(extra.dbp)
        diastolic = min(diastolic, systolic - 1)
        if extra is not None and extra.map is not None:
            mean = round(extra.map)
        elif vitals.map is None:
            mean = round((systolic + 2 * diastolic) / 3)
        else:
            mean = self._value("map", vitals.map, at, index)
        state: ValueState = next(
            (a.state for a in vitals.artefacts if a.covers("nibp", at)), "valid"
        )
        return Nibp(systolic, diastolic, mean, at, state)

    def pump(self, slot: str, t_s: float) -> PumpSnapshot:
        """The pump in ``slot`` at ``t_s``; raises :class:`KeyError` for an unknown slot."""
        spec, pieces = self._specs[slot], self._pieces[slot]
        piece = pieces[max(bisect.bisect_right(self._starts[slot], t_s) - 1, 0)]
        return _snapshot(spec, piece, t_s)

    def pumps(self, t_s: float) -> dict[str, PumpSnapshot]:
        """Every pump at ``t_s``, by slot."""
        return {slot: self.pump(slot, t_s) for slot in self._specs}

    def faults(self, t_s: float) -> tuple[Fault, ...]:
        """Every fault whose window is open at ``t_s``."""
        return tuple(fault for fault in self.scenario.faults if fault.active(t_s))

    def wire_faults(self, t_s: float, role: DeviceRole) -> tuple[WireFault, ...]:
        """The wire faults open at ``t_s`` that hit a simulator playing ``role``."""
        return tuple(
            fault for fault in self.faults(t_s) if isinstance(fault, WireFault) and fault.hits(role)
        )


def _snapshot(spec: PumpSpec, piece: Piece, t_s: float) -> PumpSnapshot:
    program, overlay = piece.program, piece.overlay
    infused = piece.infused_at(t_s)
    kvo = program.mode == "kvo" or overlay.forced_end
    running = program.mode != "stopped" and not overlay.halted
    rate = spec.kvo_rate_ml_h if kvo else program.rate_ml_h
    near_end = False
    if program.mode == "infusing" and program.vtbi_ml is not None and program.rate_ml_h > 0:
        left_s = (program.vtbi_ml - infused) / program.rate_ml_h * 3600.0
        near_end = running and not kvo and left_s <= spec.near_end_s
    if overlay.occlusion:
        pressure = _PRESSURE_PCT["occlusion"]
    else:
        pressure = _PRESSURE_PCT["running" if running else "idle"]
    return PumpSnapshot(
        slot=spec.slot,
        drug=spec.drug,
        concentration_mg_ml=spec.concentration_mg_ml,
        mode=program.mode,
        rate_ml_h=rate,
        delivered_ml_h=piece.delivered_ml_h,
        vtbi_ml=program.vtbi_ml,
        infused_ml=infused,
        running=running,
        kvo=kvo,
        bolus=program.mode == "bolus" and running and not overlay.forced_end,
        occlusion=overlay.occlusion,
        air_in_line=overlay.air_in_line,
        end_of_volume=program.end_of_volume or overlay.forced_end,
        near_end=near_end,
        pressure_pct=pressure,
    )
