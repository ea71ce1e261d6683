"""PCD-04 ORU^R40: hl7apy has no ORU^R40 structure, so python-hl7 parses every message and
each field is checked."""

from __future__ import annotations

from datetime import timedelta

import hl7
import pytest

from edge.alarms.models import Transition
from edge.hl7.pcd04 import alarm_message
from tests.edge.hl7.messages import IDENTITY, T0, alarm_event

SENT = T0 + timedelta(seconds=11)


def _rows(message: str) -> dict[str, tuple[str, str]]:
    """OBX-3 reference id -> (OBX-4 containment, OBX-5 value)."""
    parsed = hl7.parse(message)
    return {str(s[3][0][1]): (str(s[4]), parsed.unescape(str(s[5]))) for s in parsed["OBX"]}


def test_raised_spo2_alarm_field_by_field() -> None:
    message = alarm_message(alarm_event("raised"), IDENTITY, "A0001", SENT)
    assert message.endswith("\r")
    assert "\n" not in message
    parsed = hl7.parse(message)
    msh = parsed.segment("MSH")
    assert str(msh[9]) == "ORU^R40^ORU_R40"
    assert str(msh[10]) == "A0001"
    assert (str(msh[15]), str(msh[16])) == ("AL", "NE")  # commit ack from the alarm manager
    assert str(msh[21]) == "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO"
    assert str(parsed.segment("PID")[3]) == "V0042^^^CLINIC^VN"
    assert str(parsed.segment("PV1")[3]) == "INF^^chair-1"
    obr = parsed.segment("OBR")
    assert str(obr[3][0][0]) == "chair-1.mon-1.spo2_low.20250101T100000000Z"
    assert str(obr[4]) == "196616^MDC_EVT_ALARM^MDC"
    assert str(obr[7]) == "20250101100010.000+0000"
    obx = parsed["OBX"]
    assert [str(s[1]) for s in obx] == ["1", "2", "3", "4", "5", "6", "7"]
    event, metric = obx[0], obx[1]
    assert str(event[3]) == "196674^MDC_EVT_LO^MDC"
    assert parsed.unescape(str(event[5])) == "SpO2 88 % below 90 %"
    assert str(event[18]) == "00112233445566FF^mon-1^00112233445566FF^EUI-64"
    assert str(metric[2]) == "NM"
    assert str(metric[3]) == "150456^MDC_PULS_OXIM_SAT_O2^MDC"
    assert (str(metric[5]), str(metric[7])) == ("88", "90")
    assert str(metric[6][0][0]) == "262688"
    assert _rows(message) == {
        "MDC_EVT_LO": ("1.0.3.1.1", "SpO2 88 % below 90 %"),
        "MDC_PULS_OXIM_SAT_O2": ("1.0.3.1.2", "88"),
        "MDC_ATTR_EVENT_PHASE": ("1.0.3.1.3", "start"),
        "MDC_ATTR_ALARM_STATE": ("1.0.3.1.4", "active"),
        "MDC_ATTR_ALARM_INACTIVATION_STATE": ("1.0.3.1.5", "enabled"),
        "MDC_ATTR_ALARM_PRIORITY": ("1.0.3.1.6", "PM"),
        "MDC_ATTR_ALERT_TYPE": ("1.0.3.1.7", "SP"),
    }
    assert all(str(s[11]) == "F" for s in obx)


@pytest.mark.parametrize(
    ("transition", "state", "expected"),
    [
        ("raised", "active", ("start", "active", "enabled")),
        ("acknowledged", "acknowledged", ("update", "active", "alert-acknowledged")),
        ("acknowledged", "ended", ("end", "inactive", "alert-acknowledged")),
        ("latched", "latched", ("continue", "latched", "enabled")),
        ("escalated", "active", ("escalate", "active", "enabled")),
        ("ended", "ended", ("end", "inactive", "enabled")),
    ],
)
def test_every_transition_has_its_phase_and_state(
    transition: Transition, state: str, expected: tuple[str, str, str]
) -> None:
    event = alarm_event(transition, state=state, priority="high")
    rows = _rows(alarm_message(event, IDENTITY, "A0002", SENT))
    got = tuple(
        rows[code][1]
        for code in (
            "MDC_ATTR_EVENT_PHASE",
            "MDC_ATTR_ALARM_STATE",
            "MDC_ATTR_ALARM_INACTIVATION_STATE",
        )
    )
    assert got == expected
    assert rows["MDC_ATTR_ALARM_PRIORITY"][1] == "PH"


def test_the_alarm_id_stays_across_transitions_and_control_ids_differ() -> None:
    first = hl7.parse(alarm_message(alarm_event("raised"), IDENTITY, "A1", SENT))
    last = hl7.parse(alarm_message(alarm_event("ended", state="ended"), IDENTITY, "A2", SENT))
    assert str(first.segment("OBR")[3]) == str(last.segment("OBR")[3])
    assert str(first.segment("MSH")[10]) != str(last.segment("MSH")[10])


def test_technical_alarm_without_source_metric_uses_a_local_event_code() -> None:
    event = alarm_event(
        rule="device_offline", value=None, limit=None, kind="technical", priority="low"
    )
    message = alarm_message(event, IDENTITY, "A0003", SENT)
    parsed = hl7.parse(message)
    assert str(parsed["OBX"][0][3]) == "device_offline^device offline^99EDGE"
    rows = _rows(message)
    assert len(parsed["OBX"]) == 6  # no metric row
    assert rows["MDC_ATTR_ALERT_TYPE"] == ("1.0.0.0.6", "ST")
    assert rows["MDC_ATTR_ALARM_PRIORITY"][1] == "PL"


def test_hypertension_is_a_high_limit_event_without_a_guessed_metric() -> None:
    event = alarm_event(rule="hypertension", value=183, limit=160, device_id="mon-1")
    parsed = hl7.parse(alarm_message(event, IDENTITY, "A0004", SENT))
    assert str(parsed["OBX"][0][3]) == "196648^MDC_EVT_HI^MDC"
    assert len(parsed["OBX"]) == 6


def test_an_alarm_of_the_bed_without_a_device_has_no_equipment_id() -> None:
    event = alarm_event(rule="setpoint_mismatch", device_id=None, value=None, limit=None)
    parsed = hl7.parse(alarm_message(event, IDENTITY, "A0005", SENT))
    assert len(parsed["OBX"][0]) < 19 or str(parsed["OBX"][0][18]) == ""
