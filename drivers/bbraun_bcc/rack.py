"""What a B. Braun rack reports, device side: the state of one pump and its BCC records.

:class:`Pump` is the simulator's input; :func:`pump_records` renders it as the BCC 3.25/3.26
core parameters (fact sheet §7.2) in the order and number formats of the spec's examples;
:func:`general_records` renders the ComDevice's ``50100`` records (§7.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers.bbraun_bcc.records import GENERAL_ADDRESS, Record

__all__ = ["PUMP_PARAMETERS", "SLOT_ORDER", "Pump", "general_records", "pump_records"]

SLOT_ORDER = "123456789ABCDEFGHIJKLMNO"
"""Pump positions in a pillar, bottom-up."""
_NO_END_S = 65535  # INRMT when the infusion has no end


@dataclass(frozen=True, slots=True)
class Pump:
    """One pump as its ComDevice reports it.

    Rates in mL/h, volumes in mL, ``dose_rate`` in BCC unit ``dose_rate_unit`` (69 mg/kg/h),
    ``concentration`` in ``concentration_unit`` (31 mg/mL), ``pressure_pct`` in % of the
    occlusion alarm limit. ``None`` is sent as ``_NV``; ``dose_rate`` None means dose mode off.
    ``extra`` adds raw ``(parameter, value)`` records after the table's (ALARM1, VOLREMAIN,
    RUNSTATE, ...); one with a name from the table overrides it for the codec (last wins).
    """

    model: str = "688F030006"  # Perfusor Space
    rate_ml_h: float = 0.0
    vtbi_ml: float | None = None
    infused_ml: float = 0.0
    drug: str | None = None
    drug_short: str | None = None
    concentration: float | None = None
    concentration_unit: int = 31
    dose_rate: float | None = None
    dose_rate_unit: int = 69
    pressure_pct: int = 0
    running: bool = False
    kvo: bool = False
    bolus: bool = False
    occlusion: bool = False
    air_in_line: bool = False
    end_of_volume: bool = False
    syringe_empty: bool = False
    near_end: bool = False
    battery_empty: bool = False
    battery_low: bool = False
    on_mains: bool = True
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def remaining_time_s(self) -> int:
        """Seconds to the end of the VTBI at the current rate; 65535 when there is no end."""
        if self.vtbi_ml is None or self.rate_ml_h <= 0:
            return _NO_END_S
        left = max(self.vtbi_ml - self.infused_ml, 0.0)
        return min(_NO_END_S, round(left / self.rate_ml_h * 3600))


def _fixed(value: float | None, places: int) -> str:
    return "_NV" if value is None else f"{value:.{places}f}"


def _text(value: str | None) -> str:
    return value if value else "_NV"


def _flag(value: bool) -> str:
    return "1" if value else "0"


PUMP_PARAMETERS: tuple[tuple[str, Callable[[Pump], str]], ...] = (
    ("INRT", lambda p: _fixed(p.rate_ml_h, 2)),
    ("INVTB", lambda p: _fixed(p.vtbi_ml, 1)),
    ("INVI", lambda p: _fixed(p.infused_ml, 1)),
    ("INRMT", lambda p: str(p.remaining_time_s)),
    ("INSOL", lambda p: _text(p.drug)),
    ("INSOLSN", lambda p: _text(p.drug_short or (p.drug or "")[:8])),
    ("INDOCAL", lambda p: _flag(p.dose_rate is not None)),
    ("INDCON", lambda p: _fixed(p.concentration, 3)),
    ("INDCONU", lambda p: str(p.concentration_unit)),
    ("INDORT", lambda p: _fixed(p.dose_rate, 3)),
    ("INDORTU", lambda p: str(p.dose_rate_unit)),
    ("INP2", lambda p: str(p.pressure_pct)),
    ("DSSTATUS", lambda p: "00051"),
    ("INM1", lambda p: "1"),
    ("INM2", lambda p: _flag(p.bolus)),
    ("INM3", lambda p: _flag(p.running)),
    ("INM8", lambda p: _flag(p.on_mains)),
    ("INM10", lambda p: _flag(p.kvo)),
    ("INA1", lambda p: _flag(p.battery_empty)),
    ("INA2", lambda p: _flag(p.syringe_empty)),
    ("INA3", lambda p: _flag(p.occlusion)),
    ("INA7", lambda p: _flag(p.end_of_volume)),
    ("INA11", lambda p: _flag(p.battery_low)),
    ("INA12", lambda p: _flag(p.near_end)),
    ("INA15", lambda p: _flag(p.air_in_line)),
)
"""Parameter -> how a :class:`Pump` renders it, in the order sent after GNMODEL/GNNEW."""


def pump_records(pump: Pump, address: str, time: int, *, new: bool = False) -> list[Record]:
    """The records of ``pump`` at ``address`` (``501xy``); GNNEW instead of GNMODEL if ``new``."""
    model = Record(time, address, "GNNEW" if new else "GNMODEL", pump.model)
    table = [Record(time, address, name, render(pump)) for name, render in PUMP_PARAMETERS]
    extra = [Record(time, address, name, value) for name, value in pump.extra]
    return [model, *table, *extra]


def general_records(pumps: Mapping[str, Pump], time: int) -> list[Record]:
    """The ComDevice's records: pillars in use and their segments of 4 pumps (FMRT)."""
    segments = dict.fromkeys("123", 0)
    for slot in pumps:
        position = SLOT_ORDER.index(slot[1]) + 1
        segments[slot[0]] = max(segments[slot[0]], math.ceil(position / 4))
    pillars = max((int(p) for p, n in segments.items() if n), default=1)
    layout = "".join(f"S{n}" if n else "NS" for n in segments.values())
    values = (
        ("FMNOR", str(pillars)),
        ("FMSTAT", "00051"),
        ("FMDONGLE", "T"),
        ("FMBANY", "_NV"),
        ("FMRT", f"FM{layout}"),
        ("FMRSTAT", "00051"),
    )
    return [Record(time, GENERAL_ADDRESS, name, value) for name, value in values]
