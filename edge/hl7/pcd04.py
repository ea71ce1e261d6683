"""IHE PCD-04 (ACM "Report Alarm") ORU^R40: one alarm transition.

One OBR per alarm; OBR-3 is the alarm id, the same for every transition of the episode;
OBR-4 ``196616^MDC_EVT_ALARM^MDC``. OBX rows under containment ``1.0.<channel>.1.<n>``
(``1.0.0.0.<n>`` for an alarm without a source metric): the event (a limit alarm as
``MDC_EVT_HI``/``MDC_EVT_LO``, any other rule under the local system ``99EDGE``, OBX-5 the
nurse's message with value and limit, OBX-18 the device), the source metric with its value
and limit (OBX-7) where the rule watches one quantity, then event phase, alarm state,
inactivation state, priority (``PH``/``PM``/``PL``) and alert type (``SP`` physiological,
``ST`` technical). The ACM codes (event, phase, state, priority, type) are the fact sheet's,
not yet checked against IHE PCD TF-2 or RTMMS.

Transitions map to (event phase, alarm state, inactivation state) in :data:`PHASES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.alarms.models import AlarmEvent, Transition
from edge.hl7.er7 import SEGMENT_END, components, escape, number, segment, timestamp
from edge.hl7.identity import Hl7Identity
from edge.hl7.mdc import LOCAL_SYSTEM, code_for
from edge.hl7.pcd01 import observation_id, unit_field

__all__ = ["PHASES", "PRIORITIES", "SOURCES", "alarm_message"]

ALARM = components("196616", "MDC_EVT_ALARM", "MDC")
EVT_HI = components("196648", "MDC_EVT_HI", "MDC")
EVT_LO = components("196674", "MDC_EVT_LO", "MDC")
EVENT_PHASE = components("68481", "MDC_ATTR_EVENT_PHASE", "MDC")
ALARM_STATE = components("68482", "MDC_ATTR_ALARM_STATE", "MDC")
INACTIVATION = components("68483", "MDC_ATTR_ALARM_INACTIVATION_STATE", "MDC")
PRIORITY = components("68484", "MDC_ATTR_ALARM_PRIORITY", "MDC")
ALERT_TYPE = components("68485", "MDC_ATTR_ALERT_TYPE", "MDC")

PHASES: dict[Transition, tuple[str, str, str]] = {
    "raised": ("start", "active", "enabled"),
    "escalated": ("escalate", "active", "enabled"),
    "priority_raised": ("escalate", "active", "enabled"),
    "acknowledged": ("update", "active", "alert-acknowledged"),
    "latched": ("continue", "latched", "enabled"),
    "reactivated": ("continue", "active", "enabled"),
    "ended": ("end", "inactive", "enabled"),
}
"""Transition -> (event phase, alarm state, inactivation state). An acknowledged alarm whose
condition has ended is ``end``/``inactive`` with ``alert-acknowledged``."""

PRIORITIES = {"high": "PH", "medium": "PM", "low": "PL"}


@dataclass(frozen=True, slots=True)
class Source:
    """The quantity a limit rule watches: MDC reference id and UCUM unit."""

    code: str
    unit: str


SOURCES: dict[str, Source] = {
    "spo2_low": Source("MDC_PULS_OXIM_SAT_O2", "%"),
    "hr_abnormal": Source("MDC_ECG_HEART_RATE", "/min"),
    "rr_abnormal": Source("MDC_RESP_RATE", "/min"),
}
"""Rules whose value and limit are one Reading quantity (hypertension's may be systolic,
diastolic or a rise, so it names them in its message only)."""
LIMIT_RULES = frozenset({"hypertension", *SOURCES})


def alarm_message(event: AlarmEvent, identity: Hl7Identity, control_id: str, now: datetime) -> str:
    """The ORU^R40 of one alarm transition, sent at ``now``."""
    alarm = event.alarm
    segments = [identity.msh("ORU^R40^ORU_R40", control_id, now, alarm=True)]
    segments += identity.patient(alarm.bed)
    placer, filler = identity.order_id(control_id), identity.order_id(alarm.alarm_id)
    segments.append(segment("OBR", ["1", placer, filler, ALARM, "", "", timestamp(event.at)]))
    source = SOURCES.get(alarm.rule)
    row = code_for(source.code) if source else None
    base = f"1.0.{row.channel}.1" if row else "1.0.0.0"
    at = timestamp(event.at)
    equipment = identity.equipment_id(alarm.device_id) if alarm.device_id else ""
    rows = [["ST", _event_code(event), f"{base}.1", escape(alarm.message)]]
    rows[0] += ["", "", "", "", "", "F", "", "", at, "", "", "", equipment]
    if source is not None and alarm.value is not None:
        limit = number(alarm.limit) if alarm.limit is not None else ""
        unit = unit_field(source.code, source.unit)
        value = number(alarm.value)
        rows.append(["NM", observation_id(source.code), f"{base}.2", value, unit, limit])
        rows[-1] += ["", "", "", "F", "", "", at]
    phase, state, inactivation = PHASES[event.transition]
    if event.transition == "acknowledged" and alarm.state == "ended":
        phase, state = "end", "inactive"
    attributes = [
        (EVENT_PHASE, phase),
        (ALARM_STATE, state),
        (INACTIVATION, inactivation),
        (PRIORITY, PRIORITIES[alarm.priority]),
        (ALERT_TYPE, "SP" if alarm.kind == "physiological" else "ST"),
    ]
    for code, value in attributes:
        rows.append(["ST", code, f"{base}.{len(rows) + 1}", value, "", "", "", "", "", "F"])
    for set_id, fields in enumerate(rows, start=1):
        segments.append(segment("OBX", [str(set_id), *fields]))
    return SEGMENT_END.join(segments) + SEGMENT_END


def _event_code(event: AlarmEvent) -> str:
    alarm = event.alarm
    if alarm.rule in LIMIT_RULES and alarm.value is not None and alarm.limit is not None:
        return EVT_LO if alarm.value < alarm.limit else EVT_HI
    return components(alarm.rule, alarm.rule.replace("_", " "), LOCAL_SYSTEM)
