"""Ventilator tracks of a scenario (optional ``ventilator:`` section) and their evaluation.

Each quantity is a :class:`~.scenario.Track` (baseline, changes, noise) clamped to its row of
:data:`VENT_QUANTITIES`: ``rr`` (/min), ``vt`` (expiratory tidal volume, mL), ``mv`` (minute
volume, L/min; ``rr * vt / 1000`` when omitted), ``ppeak``, ``pplat``, ``pmean`` and ``peep``
(mbar), ``fio2`` (%), ``etco2`` (%, as an Evita shows it). ``rr``, ``vt``, ``ppeak`` and
``peep`` are required; an omitted optional track is not measured (not sent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from drivers.sim.scenario import Quantity, Track, out_of_range

__all__ = ["VENT_QUANTITIES", "VentSigns", "Ventilation", "ventilation_at"]

VENT_QUANTITIES: tuple[Quantity, ...] = (
    Quantity("rr", "/min", 0, 100),
    Quantity("vt", "mL", 0, 3000),
    Quantity("mv", "L/min", 0, 60, decimals=2),
    Quantity("ppeak", "mbar", -20, 120),
    Quantity("pplat", "mbar", -20, 120),
    Quantity("pmean", "mbar", -20, 120),
    Quantity("peep", "mbar", 0, 50),
    Quantity("fio2", "%", 21, 100),
    Quantity("etco2", "%", 0, 15, decimals=1),
)
_ROWS = {quantity.name: quantity for quantity in VENT_QUANTITIES}


class Ventilation(BaseModel):
    """The ventilator's measured values over time (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rr: Track
    vt: Track
    mv: Track | None = None
    ppeak: Track
    pplat: Track | None = None
    pmean: Track | None = None
    peep: Track
    fio2: Track | None = None
    etco2: Track | None = None

    @model_validator(mode="after")
    def _plausible(self) -> Self:
        problems = out_of_range(self, VENT_QUANTITIES)
        if problems:
            raise ValueError("\n".join(problems))
        return self


@dataclass(frozen=True, slots=True)
class VentSigns:
    """The ventilator's values at one moment, in the units of :data:`VENT_QUANTITIES`."""

    rr: float
    vt: float
    mv: float
    ppeak: float
    peep: float
    pplat: float | None = None
    pmean: float | None = None
    fio2: float | None = None
    etco2: float | None = None


def ventilation_at(ventilation: Ventilation, seed: int, t_s: float) -> VentSigns:
    """Every track at scenario time ``t_s`` (noise redrawn each second, as the vitals)."""
    from drivers.sim.timeline import noise, track_level

    second = math.floor(t_s)

    def level(name: str) -> float | None:
        track: Track | None = getattr(ventilation, name)
        if track is None:
            return None
        row = _ROWS[name]
        raw = track_level(track, t_s) + track.noise_sd * noise(seed, f"vent.{name}", second)
        return round(min(max(raw, row.low), row.high), row.decimals)

    rr, vt, ppeak, peep = level("rr"), level("vt"), level("ppeak"), level("peep")
    assert rr is not None
    assert vt is not None
    assert ppeak is not None
    assert peep is not None
    mv = level("mv")
    return VentSigns(
        rr=rr,
        vt=vt,
        mv=round(rr * vt / 1000, 2) if mv is None else mv,
        ppeak=ppeak,
        peep=peep,
        pplat=level("pplat"),
        pmean=level("pmean"),
        fio2=level("fio2"),
        etco2=level("etco2"),
    )
