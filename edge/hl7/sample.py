"""Sample messages for integrators (``infusion-edge hl7 sample``): a monitor's reading, a
pump's reading, a chart row and an alarm's raise, acknowledgement and end, built by the
same code as the daemon's, with the identities of a config (or placeholders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drivers.readings import Observation, PumpReading, PumpStatus, VitalsReading
from edge.alarms.models import Alarm, AlarmEvent, TreatmentSession
from edge.charting import BedCharter
from edge.hl7.identity import Hl7Identity
from edge.hl7.pcd01 import chart_message, reading_message
from edge.hl7.pcd04 import alarm_message

__all__ = ["SAMPLE_AT", "sample_alarm_events", "sample_messages", "sample_readings"]

SAMPLE_AT = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)


def sample_readings(
    bed: str = "chair-1", monitor: str = "monitor-1", pump: str = "pump-1"
) -> tuple[VitalsReading, PumpReading]:
    """A monitor's reading (NIBP 120/80 (93), HR 72, SpO2 98, RR 14) and a pump's (75 mL/h,
    12.5 mL infused, 37.5 mL remaining, ketamine) at :data:`SAMPLE_AT`."""
    cuff = SAMPLE_AT - timedelta(seconds=20)
    vitals = VitalsReading(
        device_id=monitor,
        bed=bed,
        ts=SAMPLE_AT,
        observations=(
            Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=120, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_PRESS_BLD_NONINV_DIA", value=80, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_PRESS_BLD_NONINV_MEAN", value=93, unit="mm[Hg]", ts=cuff),
            Observation(code="MDC_ECG_HEART_RATE", value=72, unit="/min"),
            Observation(code="MDC_PULS_OXIM_SAT_O2", value=98, unit="%"),
            Observation(code="MDC_RESP_RATE", value=14, unit="/min"),
        ),
    )
    pumped = PumpReading(
        device_id=pump,
        bed=bed,
        ts=SAMPLE_AT,
        pump=PumpStatus(state="infusing", drug="Ketamine 35mg/50ml"),
        observations=(
            Observation(code="MDC_FLOW_FLUID_PUMP", value=75, unit="mL/h"),
            Observation(code="MDC_VOL_FLUID_DELIV", value=12.5, unit="mL"),
            Observation(code="MDC_VOL_FLUID_TBI_REMAIN", value=37.5, unit="mL"),
        ),
    )
    return vitals, pumped


def sample_alarm_events(bed: str = "chair-1", monitor: str = "monitor-1") -> list[AlarmEvent]:
    """An SpO2-low alarm raised, acknowledged by a nurse, and ended."""
    raised = Alarm(
        alarm_id=f"{bed}.{monitor}.spo2_low.20250101T100000000Z",
        rule="spo2_low",
        kind="physiological",
        priority="medium",
        state="active",
        bed=bed,
        device_id=monitor,
        message="SpO2 88 % below 90 % for 15 s",
        value=88,
        limit=90,
        raised_at=SAMPLE_AT,
    )
    acked_at = SAMPLE_AT + timedelta(seconds=40)
    acked = raised.model_copy(
        update={"state": "acknowledged", "acknowledged_by": "nurse.a", "acknowledged_at": acked_at}
    )
    ended_at = SAMPLE_AT + timedelta(minutes=2)
    ended = acked.model_copy(update={"state": "ended", "ended_at": ended_at})
    return [
        AlarmEvent(alarm=raised, transition="raised", at=SAMPLE_AT),
        AlarmEvent(alarm=acked, transition="acknowledged", at=acked_at),
        AlarmEvent(alarm=ended, transition="ended", at=ended_at),
    ]


def sample_messages(identity: Hl7Identity, bed: str = "chair-1") -> list[tuple[str, str]]:
    """(title, message) for each sample, segments ending in CR as on the wire."""
    vitals, pumped = sample_readings(bed)
    sent = SAMPLE_AT + timedelta(seconds=1)
    out = [
        (
            "PCD-01 ORU^R01, one monitor reading",
            reading_message(vitals, identity, "SAMPLE0001", sent),
        ),
        ("PCD-01 ORU^R01, one pump reading", reading_message(pumped, identity, "SAMPLE0002", sent)),
    ]
    charter = BedCharter()
    session = TreatmentSession(
        session_id=f"{bed}.20250101T093000000Z",
        bed=bed,
        phase="infusion",
        started_at=SAMPLE_AT - timedelta(minutes=30),
        infusion_started_at=SAMPLE_AT - timedelta(minutes=5),
    )
    charter.session_changed(session)
    rows = charter.reading(pumped) + charter.reading(vitals)
    row = next(r for r in rows if r.reason == "nibp")
    out.append(
        ("PCD-01 ORU^R01, a chart row (the cuff)", chart_message(row, identity, "SAMPLE0003", sent))
    )
    for n, event in enumerate(sample_alarm_events(bed), start=4):
        title = f"PCD-04 ORU^R40, alarm {event.transition}"
        out.append((title, alarm_message(event, identity, f"SAMPLE{n:04d}", event.at)))
    return out
