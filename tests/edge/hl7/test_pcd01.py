"""PCD-01 ORU^R01: every message parsed back by hl7apy (validated against v2.6) and
python-hl7, and checked field by field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import hl7
import pytest
from hl7apy.exceptions import ValidationError

from edge.alarms.models import TreatmentSession
from edge.charting import BedCharter
from edge.hl7.identity import Hl7Identity
from edge.hl7.pcd01 import chart_message, reading_message
from tests.edge.hl7.messages import IDENTITY, T0, pump, strict, vitals

SENT = T0 + timedelta(seconds=1)


def _observations(parsed: Any) -> list[Any]:
    order = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_ORDER_OBSERVATION
    return [group.OBX for group in order.ORU_R01_OBSERVATION]


def test_vitals_reading_validates_against_v26_and_carries_every_field() -> None:
    parsed = strict(reading_message(vitals(), IDENTITY, "C0001", SENT))
    assert parsed.msh.msh_3.to_er7() == "INFUSION-EDGE^0123456789ABCDEF^EUI-64"
    assert parsed.msh.msh_4.to_er7() == "CLINIC"
    assert parsed.msh.msh_7.to_er7() == "20250101100001.000+0000"
    assert parsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert parsed.msh.msh_10.to_er7() == "C0001"
    assert (parsed.msh.msh_15.to_er7(), parsed.msh.msh_16.to_er7()) == ("NE", "AL")
    assert parsed.msh.msh_18.to_er7() == "UNICODE UTF-8"
    assert parsed.msh.msh_21.to_er7().startswith("IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376")
    patient = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_PATIENT
    assert patient.PID.pid_3.to_er7() == "V0042^^^CLINIC^VN"
    assert patient.PID.pid_5.to_er7() == "^^^^^^U"
    visit = patient.ORU_R01_VISIT.PV1
    assert visit.pv1_2.to_er7() == "O"
    assert visit.pv1_3.to_er7() == "INF^^chair-1"
    assert visit.pv1_19.to_er7() == "V0042"
    obr = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_ORDER_OBSERVATION.OBR
    assert obr.obr_4.to_er7() == "182777000^monitoring of patient^SNOMED-CT"
    assert obr.obr_7.to_er7() == "20250101100000.000+0000"
    rows = [
        (
            obx.obx_2.to_er7(),
            obx.obx_3.to_er7(),
            obx.obx_4.to_er7(),
            obx.obx_5.to_er7(),
            obx.obx_6.to_er7(),
            obx.obx_11.to_er7(),
            obx.obx_14.to_er7(),
        )
        for obx in _observations(parsed)
    ]
    cuff, now = "20250101095955.000+0000", "20250101100000.000+0000"
    mmhg = "266016^MDC_DIM_MMHG^MDC^mm[Hg]^mm[Hg]^UCUM"
    assert rows == [
        ("", "69798^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC", "1.0.0.0", "", "", "X", ""),
        ("NM", "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "1.0.1.1", "120", mmhg, "R", cuff),
        ("NM", "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "1.0.1.2", "80", mmhg, "R", cuff),
        ("NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "1.0.1.3", "93", mmhg, "R", cuff),
        (
            "NM",
            "147842^MDC_ECG_HEART_RATE^MDC",
            "1.0.2.1",
            "72",
            "264864^MDC_DIM_BEAT_PER_MIN^MDC^/min^/min^UCUM",
            "R",
            now,
        ),
        (
            "NM",
            "150456^MDC_PULS_OXIM_SAT_O2^MDC",
            "1.0.3.1",
            "98.5",
            "262688^MDC_DIM_PERCENT^MDC^%^%^UCUM",
            "R",
            now,
        ),
        (
            "NM",
            "X_MASIMO_SPCO^carboxyhaemoglobin (SpCO)^99EDGE",
            "1.0.6.1",
            "2.5",
            "262688^MDC_DIM_PERCENT^MDC^%^%^UCUM",
            "R",
            now,
        ),
    ]
    mds = _observations(parsed)[0]
    assert mds.obx_18.to_er7() == "00112233445566FF^mon-1^00112233445566FF^EUI-64"


def test_pump_reading_has_the_pump_containment_and_the_drug_name_escaped() -> None:
    drug = "Ket|amine ^35&mg~ \\ 50ml"
    message = reading_message(pump(drug=drug), IDENTITY, "C0002", SENT)
    parsed = strict(message)
    rows = [(o.obx_3.to_er7(), o.obx_4.to_er7(), o.obx_11.to_er7()) for o in _observations(parsed)]
    assert rows[:3] == [
        ("69985^MDC_DEV_PUMP_INFUS_MDS^MDC", "1.0.0.0", "X"),
        ("69986^MDC_DEV_PUMP_INFUS_VMD^MDC", "1.1.0.0", "X"),
        ("126978^MDC_DEV_PUMP_INFUS_CHAN_DELIVERY^MDC", "1.1.1.0", "X"),
    ]
    assert [r[1] for r in rows[3:]] == ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"]
    assert _observations(parsed)[0].obx_18.to_er7() == "pump-1^INFUSION-EDGE"
    # python-hl7, independently: the drug name comes back exactly, the values and units too.
    other = hl7.parse(message)
    obx = other.segments("OBX")
    assert other.unescape(str(obx[3][5])) == drug
    assert str(obx[3][2]) == "ST"
    assert [(str(s[3][0][1]), str(s[5]), str(s[6][0][3])) for s in obx[4:]] == [
        ("MDC_FLOW_FLUID_PUMP", "75", "mL/h"),
        ("MDC_VOL_FLUID_DELIV", "12.5", "mL"),
        ("MDC_VOL_FLUID_TBI_REMAIN", "37.5", "mL"),
    ]


def test_without_a_visit_number_nothing_is_invented() -> None:
    identity = Hl7Identity(facility="CLINIC")
    message = reading_message(vitals(bed="chair-2"), identity, "C0003", SENT)
    segment = hl7.parse(message).segment("PID")
    assert str(segment[3]) == ""
    assert str(segment[5]) == "^^^^^^U"
    assert "chair-2" in str(hl7.parse(message).segment("PV1")[3])
    # hl7apy's only complaint: v2.6 makes PID-3 required (docs/clinical-outputs.md: configure
    # a visit number for receivers that insist on it).
    with pytest.raises(ValidationError, match="PID_3"):
        strict(message)


def test_chart_rows_become_one_message_with_an_mds_per_device() -> None:
    session = TreatmentSession(
        session_id="chair-1.20250101T095500000Z",
        bed="chair-1",
        phase="infusion",
        started_at=T0 - timedelta(minutes=5),
        infusion_started_at=T0,
    )
    charter = BedCharter(interval_s=300)
    assert charter.session_changed(session) == []
    assert charter.reading(pump(T0)) != []  # the mark at the infusion start
    rows = charter.reading(vitals(T0 + timedelta(seconds=310)))  # the next mark, and a cuff
    assert [row.reason for row in rows] == ["interval", "nibp"]
    parsed = strict(chart_message(rows[0], IDENTITY, "C0004", SENT))
    obr = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_ORDER_OBSERVATION.OBR
    assert obr.obr_7.to_er7() == "20250101100500.000+0000"  # the mark, not the reading
    observations = _observations(parsed)
    mds = [(o.obx_3.to_er7(), o.obx_4.to_er7()) for o in observations if o.obx_11.to_er7() == "X"]
    assert mds == [  # devices in the order of the chart's codes: NIBP first
        ("69798^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC", "1.0.0.0"),
        ("69985^MDC_DEV_PUMP_INFUS_MDS^MDC", "2.0.0.0"),
        ("69986^MDC_DEV_PUMP_INFUS_VMD^MDC", "2.1.0.0"),
        ("126978^MDC_DEV_PUMP_INFUS_CHAN_DELIVERY^MDC", "2.1.1.0"),
    ]
    values = {o.obx_3.to_er7().split("^")[1]: o.obx_5.to_er7() for o in observations}
    assert values["MDC_FLOW_FLUID_PUMP"] == "75"
    assert values["MDC_PRESS_BLD_NONINV_SYS"] == "120"
    assert values["MDC_ECG_HEART_RATE"] == "72"
