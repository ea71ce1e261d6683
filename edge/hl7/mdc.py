"""The HL7 codes of the Reading's observations: IEEE 11073-10101 (MDC) numeric codes and
units, one table (:data:`MDC_CODES`), and the containment channel each belongs to.

The Reading names a quantity by its MDC reference id (``MDC_PRESS_BLD_NONINV_SYS``) and gives
its unit in UCUM. HL7 PCD-01 wants the numeric code beside the reference id in OBX-3
(``150021^MDC_PRESS_BLD_NONINV_SYS^MDC``) and the MDC unit in OBX-6, with UCUM as the
alternate (``266016^MDC_DIM_MMHG^MDC^mm[Hg]^mm[Hg]^UCUM``). A numeric code is the term code
plus 65,536 x its partition (2: metrics, 4: units). ``confirmed`` says whether the code was
checked against two independent sources (fact sheet, published examples); the pump codes and
the others marked ``False`` still need checking against NIST RTMMS before a release, as the
fact sheet says. A quantity without a code here (the vendor ``X_...`` codes, the ventilator
quantities) goes out under the local coding system ``99EDGE`` with its reference id.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOCAL_SYSTEM", "MDC_CODES", "MDC_UNITS", "MdcCode", "MdcUnit", "code_for", "unit_for"]

LOCAL_SYSTEM = "99EDGE"  # HL7 local coding system (99zzz) for codes without an MDC number


@dataclass(frozen=True, slots=True)
class MdcCode:
    """One quantity: its MDC ``ref_id``, numeric ``code``, containment ``channel`` (a small
    number grouping related metrics of a monitor: 1 NIBP, 2 ECG, 3 SpO2, 4 respiration,
    5 temperature) and the MDC unit its ``/min`` means (beats or breaths)."""

    ref_id: str
    code: int
    channel: int
    per_min_unit: str | None = None
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class MdcUnit:
    """An MDC unit for a UCUM unit: ``code`` and ``ref_id``."""

    ucum: str
    code: int
    ref_id: str


MDC_CODES: tuple[MdcCode, ...] = (
    MdcCode("MDC_PRESS_BLD_NONINV_SYS", 150021, 1),
    MdcCode("MDC_PRESS_BLD_NONINV_DIA", 150022, 1),
    MdcCode("MDC_PRESS_BLD_NONINV_MEAN", 150023, 1),
    MdcCode("MDC_ECG_HEART_RATE", 147842, 2, "MDC_DIM_BEAT_PER_MIN"),
    MdcCode("MDC_PULS_OXIM_SAT_O2", 150456, 3),
    MdcCode("MDC_PULS_OXIM_PULS_RATE", 149530, 3, "MDC_DIM_BEAT_PER_MIN"),
    MdcCode("MDC_PULS_OXIM_PERF_REL", 150488, 3, confirmed=False),
    MdcCode("MDC_RESP_RATE", 151562, 4, "MDC_DIM_RESP_PER_MIN"),
    MdcCode("MDC_AWAY_RESP_RATE", 151594, 4, "MDC_DIM_RESP_PER_MIN"),
    MdcCode("MDC_AWAY_CO2_ET", 151708, 4),
    MdcCode("MDC_TEMP_BODY", 150364, 5),
    # Pump metrics: codes disagree between third-party sources (fact sheet, section 2).
    MdcCode("MDC_FLOW_FLUID_PUMP", 157784, 1, confirmed=False),
    MdcCode("MDC_VOL_FLUID_DELIV", 157864, 1, confirmed=False),
    MdcCode("MDC_VOL_FLUID_TBI_REMAIN", 157872, 1, confirmed=False),
    MdcCode("MDC_RATE_DOSE", 157924, 1, confirmed=False),
    MdcCode("MDC_TIME_PD_REMAIN", 157916, 1, confirmed=False),
)
"""Every quantity with an MDC numeric code; one row per quantity."""

_PER_MIN = {
    "MDC_DIM_BEAT_PER_MIN": MdcUnit("/min", 264864, "MDC_DIM_BEAT_PER_MIN"),
    "MDC_DIM_RESP_PER_MIN": MdcUnit("/min", 264928, "MDC_DIM_RESP_PER_MIN"),
}
MDC_UNITS: tuple[MdcUnit, ...] = (
    MdcUnit("mm[Hg]", 266016, "MDC_DIM_MMHG"),
    MdcUnit("%", 262688, "MDC_DIM_PERCENT"),
    MdcUnit("Cel", 268192, "MDC_DIM_DEGC"),
    MdcUnit("mL/h", 265266, "MDC_DIM_MILLI_L_PER_HR"),
    MdcUnit("mL", 263762, "MDC_DIM_MILLI_L"),
    MdcUnit("s", 264320, "MDC_DIM_SEC"),
)
"""UCUM units with their MDC unit (``/min`` depends on the quantity: see ``per_min_unit``)."""

_CODES = {row.ref_id: row for row in MDC_CODES}
_UNITS = {row.ucum: row for row in MDC_UNITS}
OTHER_CHANNEL = 6  # the channel of a monitor's quantities without a code here


def code_for(ref_id: str) -> MdcCode | None:
    """The table row of ``ref_id``, or ``None`` (send it under :data:`LOCAL_SYSTEM`)."""
    return _CODES.get(ref_id)


def unit_for(ref_id: str, ucum: str) -> MdcUnit | None:
    """The MDC unit of ``ucum`` for quantity ``ref_id``, or ``None`` (send UCUM alone)."""
    if ucum == "/min":
        row = _CODES.get(ref_id)
        return _PER_MIN.get(row.per_min_unit or "") if row else None
    return _UNITS.get(ucum)
