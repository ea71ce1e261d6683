"""What one pump does over a scenario, computed exactly: pieces of constant delivered rate.

:func:`compile_pump` turns a :class:`~.scenario.PumpSpec` and the pump faults that hit it
into :class:`Piece` values, each a stretch of time with one program state and one delivered
rate (mL/h). A piece ends at a program event, a fault window's edge, the end of a bolus or
the moment the volume reaches the VTBI (found analytically, no time steps). The volume at
any time is the volume at the start of its piece plus delivered rate x elapsed time, so the
volume infused integrates the *delivered* rate, which differs from the programmed one under
``rate_drift`` (x factor), ``stall`` (0), ``occlusion`` and ``air_in_line`` (0, halted).

Program rules: ``start`` restarts the volume counter; at the end of the VTBI the pump sets
end of volume and goes to KVO at ``kvo_rate_ml_h`` (or stops if that is 0) until the next
``start`` or ``stop``; a bolus is delivered at its own rate, counts in the volume, and the
pump then resumes what it was doing. When a halting fault ends, the pump resumes its program
(as if a nurse cleared the alarm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from drivers.sim.faults import AirInLine, EndOfVolume, Occlusion, PumpFault, RateDrift, Stall
from drivers.sim.programs import Bolus, PumpEvent, PumpSpec, RateChange, Start, Stop

__all__ = ["Mode", "Overlay", "Piece", "Program", "compile_pump"]

Mode = Literal["stopped", "infusing", "bolus", "kvo"]
_MAX_TRANSITIONS = 8  # per piece boundary: a bolus end and an end of volume at most
_EPS_ML = 1e-9


@dataclass(frozen=True, slots=True)
class Program:
    """The pump's program state: ``mode``, programmed ``rate_ml_h`` (mL/h), ``vtbi_ml``,
    ``infused_ml`` (mL since the last start), the bolus in progress and the mode after it,
    and whether the VTBI was reached (``end_of_volume``)."""

    mode: Mode = "stopped"
    rate_ml_h: float = 0.0
    vtbi_ml: float | None = None
    infused_ml: float = 0.0
    bolus_left_ml: float = 0.0
    bolus_rate_ml_h: float = 0.0
    resume: Mode = "stopped"
    end_of_volume: bool = False


@dataclass(frozen=True, slots=True)
class Overlay:
    """What the active pump faults do: halt (occlusion, air in line), force end of volume,
    stall, and the product of the drift factors."""

    occlusion: bool = False
    air_in_line: bool = False
    forced_end: bool = False
    stall: bool = False
    factor: float = 1.0

    @property
    def halted(self) -> bool:
        """The pump stopped itself on an alarm."""
        return self.occlusion or self.air_in_line


@dataclass(frozen=True, slots=True)
class Piece:
    """From ``start_s`` (scenario s) on: ``program`` as it was then, ``overlay``, and the
    delivered rate (mL/h), constant until the next piece."""

    start_s: float
    program: Program
    overlay: Overlay
    delivered_ml_h: float

    def infused_at(self, t_s: float) -> float:
        """Volume since the last start (mL) at ``t_s`` >= ``start_s``."""
        return self.program.infused_ml + self.delivered_ml_h * (t_s - self.start_s) / 3600.0


def _apply(program: Program, event: PumpEvent) -> Program:
    match event:
        case Start():
            return Program("infusing", event.rate_ml_h, event.vtbi_ml)
        case RateChange():
            return replace(program, rate_ml_h=event.rate_ml_h)
        case Stop():
            return replace(program, mode="stopped", bolus_left_ml=0.0, end_of_volume=False)
        case Bolus():
            resume = program.resume if program.mode == "bolus" else program.mode
            return replace(
                program,
                mode="bolus",
                bolus_left_ml=event.volume_ml,
                bolus_rate_ml_h=event.rate_ml_h,
                resume=resume,
            )
    raise AssertionError(event)  # pragma: no cover  # the union is exhaustive


def _overlay(faults: Sequence[PumpFault], t_s: float) -> Overlay:
    active = [fault for fault in faults if fault.active(t_s)]
    factor = math.prod(f.factor for f in active if isinstance(f, RateDrift))
    return Overlay(
        occlusion=any(isinstance(f, Occlusion) for f in active),
        air_in_line=any(isinstance(f, AirInLine) for f in active),
        forced_end=any(isinstance(f, EndOfVolume) for f in active),
        stall=any(isinstance(f, Stall) for f in active),
        factor=factor,
    )


def _delivered(program: Program, overlay: Overlay, kvo_rate_ml_h: float) -> float:
    if overlay.halted or overlay.stall:
        return 0.0
    if overlay.forced_end:
        return kvo_rate_ml_h * overlay.factor
    rates = {
        "stopped": 0.0,
        "infusing": program.rate_ml_h,
        "bolus": program.bolus_rate_ml_h,
        "kvo": kvo_rate_ml_h,
    }
    return rates[program.mode] * overlay.factor


def _progressing(piece: Piece) -> bool:
    overlay = piece.overlay
    return piece.program.mode in ("infusing", "bolus") and not (
        overlay.halted or overlay.forced_end
    )


def _next_transition_s(piece: Piece) -> float:
    """Seconds from ``piece.start_s`` to the end of its bolus or of its VTBI (``inf``: none)."""
    program, rate = piece.program, piece.delivered_ml_h
    if not _progressing(piece):
        return math.inf
    left = [program.vtbi_ml - program.infused_ml] if program.vtbi_ml is not None else []
    if program.mode == "bolus":
        left.append(program.bolus_left_ml)
    if not left:
        return math.inf
    if min(left) <= _EPS_ML:
        return 0.0
    return math.inf if rate <= 0 else min(left) / rate * 3600.0


def _advance(piece: Piece, seconds: float, kvo_rate_ml_h: float) -> Program:
    """The program ``seconds`` into ``piece``, with the end of bolus or VTBI applied."""
    program = piece.program
    volume = piece.delivered_ml_h * seconds / 3600.0
    infused = program.infused_ml + volume
    if not _progressing(piece):
        return replace(program, infused_ml=infused)
    bolus_left = max(program.bolus_left_ml - volume, 0.0) if program.mode == "bolus" else 0.0
    program = replace(program, infused_ml=infused, bolus_left_ml=bolus_left)
    if program.vtbi_ml is not None and infused >= program.vtbi_ml - _EPS_ML:
        return replace(
            program,
            mode="kvo" if kvo_rate_ml_h > 0 else "stopped",
            infused_ml=max(infused, program.vtbi_ml),
            bolus_left_ml=0.0,
            end_of_volume=True,
        )
    if program.mode == "bolus" and bolus_left <= _EPS_ML:
        return replace(program, mode=program.resume, bolus_left_ml=0.0)
    return program


def compile_pump(spec: PumpSpec, faults: Sequence[PumpFault]) -> tuple[Piece, ...]:
    """The pieces of the pump in ``spec.slot`` under ``faults`` (only those hitting its slot
    are used), in time order from 0 s; the last one lasts for ever."""
    mine = [fault for fault in faults if fault.hits(spec.slot)]
    events = sorted(spec.program, key=lambda event: event.at_min)
    edges = {0.0, *(event.at_min * 60.0 for event in events)}
    edges |= {fault.start_s for fault in mine}
    edges |= {fault.end_s for fault in mine if math.isfinite(fault.end_s)}
    bounds = sorted(edges)
    program, pieces, next_event = Program(), [], 0
    for index, start in enumerate(bounds):
        stop = bounds[index + 1] if index + 1 < len(bounds) else math.inf
        while next_event < len(events) and events[next_event].at_min * 60.0 <= start:
            program = _apply(program, events[next_event])
            next_event += 1
        overlay = _overlay(mine, start)
        t = start
        for _ in range(_MAX_TRANSITIONS):
            piece = Piece(t, program, overlay, _delivered(program, overlay, spec.kvo_rate_ml_h))
            pieces.append(piece)
            step = _next_transition_s(piece)
            if t + step >= stop:
                if math.isfinite(stop):
                    program = _advance(piece, stop - t, spec.kvo_rate_ml_h)
                break
            program = _advance(piece, step, spec.kvo_rate_ml_h)
            t += step
    return tuple(pieces)
