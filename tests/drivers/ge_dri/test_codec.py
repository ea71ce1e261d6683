"""Basic records -> readings: the example record, markers and status bits, cuff stamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drivers.base import DeviceTarget, Instant
from drivers.ge_dri import basic
from drivers.ge_dri.basic import Group
from drivers.ge_dri.codec import NibpCuffs, decode_record, observations
from drivers.ge_dri.framer import DriFramer
from drivers.ge_dri.monitor import MonitorValues, basic_groups
from drivers.readings import Observation, VitalsReading
from tests.drivers.ge_dri.vectors import E4_BASIC_RECORD

TARGET = DeviceTarget("monitor-1", "bed-1")
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> Instant:
    return Instant(seconds, T0 + timedelta(seconds=seconds))


def values_of(reading: VitalsReading) -> dict[str, float | None]:
    return {obs.code: obs.value for obs in reading.observations}


def test_the_example_record_decodes_to_the_sheet_values() -> None:
    (record,) = DriFramer().feed(E4_BASIC_RECORD)
    assert isinstance(record, bytes)
    (reading,) = decode_record(record, TARGET, at(0), NibpCuffs())
    assert values_of(reading) == {
        "MDC_ECG_HEART_RATE": 72,
        "MDC_RESP_RATE": 14,
        "MDC_PRESS_BLD_NONINV_SYS": 120,
        "MDC_PRESS_BLD_NONINV_DIA": 80,
        "MDC_PRESS_BLD_NONINV_MEAN": 93,
        "MDC_TEMP_BODY": 36.8,
        "MDC_PULS_OXIM_SAT_O2": 98,
        "MDC_PULS_OXIM_PULS_RATE": 72,
        "MDC_AWAY_RESP_RATE": 14,
    }
    assert reading.ts == T0
    assert reading.device_id == "monitor-1"
    units = {obs.code: obs.unit for obs in reading.observations}
    assert units["MDC_TEMP_BODY"] == "Cel"
    assert units["MDC_PRESS_BLD_NONINV_SYS"] == "mm[Hg]"


def round_trip(groups: dict[str, Group]) -> dict[str, Group]:
    """``groups`` encoded as physdata and decoded again (absent ones filled in)."""
    return basic.decode_groups(basic.encode_groups(groups))


def found_in(groups: dict[str, Group], cuffs: NibpCuffs, when: float) -> dict[str, Observation]:
    return {o.code: o for o in observations(round_trip(groups), cuffs, at(when).wall)}


def decode(
    values: MonitorValues, cuffs: NibpCuffs | None = None, when: float = 0
) -> dict[str, Observation]:
    return found_in(basic_groups(values), cuffs or NibpCuffs(), when)


def test_markers_give_no_value() -> None:
    groups = basic_groups(MonitorValues())
    groups["spo2"] = Group(3, 0, (-32767, -32766, -32767, -32767))
    groups["t1"] = Group(3, 6, (-32763,))
    found = found_in(groups, NibpCuffs(), 0)
    assert (found["MDC_PULS_OXIM_SAT_O2"].value, found["MDC_PULS_OXIM_SAT_O2"].state) == (
        None,
        "invalid",
    )
    assert found["MDC_PULS_OXIM_PULS_RATE"].state == "unavailable"  # not updated
    assert found["MDC_TEMP_BODY"].state == "invalid"
    assert found["MDC_TEMP_BODY"].value is None
    none = decode(MonitorValues(hr=None, nibp=None))
    assert none["MDC_ECG_HEART_RATE"].value is None
    assert none["MDC_PRESS_BLD_NONINV_SYS"].state == "invalid"


def test_status_bits_decide_presence_and_state() -> None:
    groups = basic_groups(MonitorValues())
    groups["spo2"] = Group(0, 0, (9800, 72, 0, 0))  # module absent: nothing
    groups["ecg"] = Group(1 | (1 << 3), 0, (72, 0, 0, 0, 14))  # present, not measuring
    groups["co2"] = Group(3 | (1 << 5), 0, (500, 0, 14, 7600))  # occlusion
    found = found_in(groups, NibpCuffs(), 0)
    assert "MDC_PULS_OXIM_SAT_O2" not in found
    assert found["MDC_ECG_HEART_RATE"].state == "unavailable"
    assert found["MDC_AWAY_RESP_RATE"].state == "questionable"
    groups["ecg"] = Group(3 | (6 << 3), 0, (72, 0, 0, 0, 14))  # HR from pleth: not an ECG HR
    found = found_in(groups, NibpCuffs(), 0)
    assert "MDC_ECG_HEART_RATE" not in found
    assert found["MDC_RESP_RATE"].value == 14
    groups["nibp"] = Group(3, basic.NIBP_CALIBRATING, (12000, 8000, 9300, 0))
    found = found_in(groups, NibpCuffs(), 0)
    assert found["MDC_PRESS_BLD_NONINV_SYS"].state == "unavailable"


def test_one_cuff_keeps_one_stamp_and_a_changed_value_is_a_new_cuff() -> None:
    cuffs = NibpCuffs()
    values = MonitorValues(nibp=(140, 90, 107))
    decode(values, cuffs, -300)  # shown when the link opened: measured when, nobody knows
    values.nibp = (150, 95, 113)
    stamps = {decode(values, cuffs, t)["MDC_PRESS_BLD_NONINV_SYS"].ts for t in range(0, 300, 5)}
    assert stamps == {T0}
    values.nibp = (165, 100, 122)
    later = decode(values, cuffs, 300)["MDC_PRESS_BLD_NONINV_DIA"]
    assert later.ts == T0 + timedelta(seconds=300)
    assert later.value == 100
    assert decode(values, cuffs, 305)["MDC_PRESS_BLD_NONINV_MEAN"].ts == later.ts
    assert cuffs.count == 3


def test_the_first_cuff_of_a_link_has_no_stamp_so_a_reopen_cannot_double_it() -> None:
    """A reopened link (a new conversation) shows the cuff the monitor still displays: it
    carries no stamp, so the alarm engine takes it as new only if its values changed."""
    values = MonitorValues(nibp=(183, 113, 136))
    for cuffs in (NibpCuffs(), NibpCuffs()):  # before and after a reopen
        shown = decode(values, cuffs, 0)["MDC_PRESS_BLD_NONINV_SYS"]
        assert (shown.value, shown.state, shown.ts) == (183, "valid", None)
        assert decode(values, cuffs, 5)["MDC_PRESS_BLD_NONINV_SYS"].ts is None


def test_the_same_values_after_measuring_are_a_new_cuff() -> None:
    cuffs = NibpCuffs()
    values = MonitorValues(nibp=(150, 95, 113))
    assert decode(values, cuffs, 0)["MDC_PRESS_BLD_NONINV_SYS"].ts is None  # the link's first
    values.nibp_measuring = True
    during = decode(values, cuffs, 5)["MDC_PRESS_BLD_NONINV_SYS"]
    assert during.ts is None
    assert during.value == 150
    values.nibp_measuring = False
    after = decode(values, cuffs, 40)["MDC_PRESS_BLD_NONINV_SYS"]
    assert after.ts == T0 + timedelta(seconds=40)
    assert cuffs.count == 2
