"""Readings, alarms and identities for the HL7 tests, and hl7apy's strict parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from drivers.readings import Observation, PumpReading, PumpStatus, VitalsReading
from edge.alarms.models import Alarm, AlarmEvent, Transition
from edge.hl7.identity import Hl7Identity

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
IDENTITY = Hl7Identity(
    eui64="0123456789ABCDEF",
    facility="CLINIC",
    point_of_care="INF",
    assigning_authority="CLINIC",
    visits={"chair-1": "V0042"},
    equipment={"mon-1": "00112233445566FF"},
)


def vitals(ts: datetime = T0, bed: str = "chair-1") -> VitalsReading:
    """NIBP 120/80 (93) measured 5 s before ``ts``, HR 72, SpO2 98, an unavailable RR."""
    cuff = ts - timedelta(seconds=5)
    return VitalsReading(
        device_id="mon-1",
        bed=bed,
        ts=ts,
        observations=(
            Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=120, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_PRESS_BLD_NONINV_DIA", value=80, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_PRESS_BLD_NONINV_MEAN", value=93, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_ECG_HEART_RATE", value=72, unit="/min"),
            Observation(code="MDC_PULS_OXIM_SAT_O2", value=98.5, unit="%"),
            Observation(code="MDC_RESP_RATE", value=None, unit="/min", state="unavailable"),
            Observation(code="X_MASIMO_SPCO", value=2.5, unit="%"),
        ),
    )


def pump(ts: datetime = T0, drug: str | None = "Ketamine 35mg/50ml") -> PumpReading:
    """A pump at 75 mL/h, 12.5 mL infused, 37.5 mL remaining."""
    return PumpReading(
        device_id="pump-1",
        bed="chair-1",
        ts=ts,
        pump=PumpStatus(state="infusing", drug=drug),
        observations=(
            Observation(code="MDC_FLOW_FLUID_PUMP", value=75, unit="mL/h"),
            Observation(code="MDC_VOL_FLUID_DELIV", value=12.5, unit="mL"),
            Observation(code="MDC_VOL_FLUID_TBI_REMAIN", value=37.5, unit="mL"),
        ),
    )


def alarm_event(
    transition: Transition = "raised",
    rule: str = "spo2_low",
    *,
    value: float | None = 88,
    limit: float | None = 90,
    state: str = "active",
    priority: str = "medium",
    kind: str = "physiological",
    device_id: str | None = "mon-1",
) -> AlarmEvent:
    """One transition of an alarm of ``rule``."""
    fields: dict[str, Any] = {}
    if state in ("acknowledged", "ended") or transition == "acknowledged":
        fields.update(acknowledged_by="nurse.a", acknowledged_at=T0 + timedelta(seconds=30))
    if state == "ended":
        fields["ended_at"] = T0 + timedelta(minutes=2)
    alarm = Alarm(
        alarm_id=f"chair-1.{device_id or '-'}.{rule}.20250101T100000000Z",
        rule=rule,
        kind=kind,
        priority=priority,
        state=state,
        bed="chair-1",
        device_id=device_id,
        message=f"SpO2 {value} % below {limit} %",
        value=value,
        limit=limit,
        raised_at=T0,
        **fields,
    )
    return AlarmEvent(alarm=alarm, transition=transition, at=T0 + timedelta(seconds=10))


def strict(message: str) -> Any:
    """``message`` parsed by hl7apy against HL7 v2.6 and validated strictly."""
    parsed = parse_message(message, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    parsed.validate()
    return parsed
