"""The BCC codec: S4 to readings, no-value markers, flags, bit fields, GNERR, unit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivers.base import DeviceTarget, Instant
from drivers.bbraun_bcc.codec import Answer, Block, decode_answer
from drivers.bbraun_bcc.records import Record, split_records
from drivers.bbraun_bcc.units import UNIT_CODES, ucum_unit
from drivers.readings import PumpFlags, PumpReading, observation_kind
from tests.drivers.bbraun_bcc.vectors import S4_BLOCK1_RECORDS, S4_BLOCK2_RECORDS

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
AT1 = Instant(100.0, T0)
AT2 = Instant(101.2, T0 + timedelta(seconds=1.2))
PUMP_11 = DeviceTarget("pump-11", "bed-4", "11")
PUMP_12 = DeviceTarget("pump-12", "bed-4", "12")


def s4_blocks() -> list[Block]:
    return [
        Block(split_records("\x1e".join(S4_BLOCK1_RECORDS).encode()), AT1),
        Block(split_records("\x1e".join(S4_BLOCK2_RECORDS).encode()), AT2),
    ]


def one_pump(*pairs: tuple[str, str], slot: str = "11") -> Answer:
    records = tuple(Record(1, f"501{slot}", name, value) for name, value in pairs)
    return decode_answer([Block(records, AT1)], [DeviceTarget("p", "b", slot)])


def values(reading: PumpReading) -> dict[str, tuple[float | None, str, str]]:
    return {obs.code: (obs.value, obs.unit, obs.state) for obs in reading.observations}


def test_s4_ketamine_pump() -> None:
    answer = decode_answer(s4_blocks(), [PUMP_11, PUMP_12])
    assert answer.errors == []
    assert answer.general_error is None
    ketamine = answer.readings[0]
    assert (ketamine.device_id, ketamine.bed, ketamine.ts) == ("pump-11", "bed-4", T0)
    assert values(ketamine) == {
        "MDC_FLOW_FLUID_PUMP": (75.0, "mL/h", "valid"),
        "MDC_VOL_FLUID_DELIV": (12.5, "mL", "valid"),
        "MDC_VOL_FLUID_TBI_REMAIN": (37.5, "mL", "valid"),
        "MDC_RATE_DOSE": (0.75, "mg/kg/h", "valid"),
        "MDC_TIME_PD_REMAIN": (1800.0, "s", "valid"),
        "X_BBRAUN_PRESS_REL_ALARM": (12.0, "%", "valid"),
    }
    assert ketamine.pump.state == "infusing"
    assert ketamine.pump.drug == "Ketamine 35mg/50ml"
    assert ketamine.pump.bolus is False
    assert ketamine.pump.flags == PumpFlags()


def test_s4_nacl_pump_has_its_block_time_and_no_dose() -> None:
    nacl = decode_answer(s4_blocks(), [PUMP_11, PUMP_12]).readings[1]
    assert nacl.ts == AT2.wall
    assert nacl.value("MDC_FLOW_FLUID_PUMP") == 100.0
    assert nacl.value("MDC_VOL_FLUID_DELIV") == 120.3
    assert nacl.value("MDC_VOL_FLUID_TBI_REMAIN") == pytest.approx(379.7)
    assert nacl.value("MDC_TIME_PD_REMAIN") == 13669
    assert nacl.value("MDC_RATE_DOSE") is None
    assert "MDC_RATE_DOSE" not in values(nacl)  # dose mode off: not reported at all
    assert (nacl.pump.state, nacl.pump.drug) == ("infusing", "NaCl 0.9%")


def test_only_configured_pumps_are_read() -> None:
    answer = decode_answer(s4_blocks(), [PUMP_12, DeviceTarget("x", "b", "21")])
    assert [r.device_id for r in answer.readings] == ["pump-12"]


def test_every_observation_code_is_in_the_table() -> None:
    for reading in decode_answer(s4_blocks(), [PUMP_11, PUMP_12]).readings:
        for obs in reading.observations:
            assert observation_kind(obs.code) is not None, obs.code


@pytest.mark.parametrize("marker", ["_NV", "_NA"])
def test_no_value_markers_are_unavailable(marker: str) -> None:
    (reading,) = one_pump(("INRT", marker), ("INVI", marker), ("INVTB", "50.0")).readings
    assert values(reading) == {
        "MDC_FLOW_FLUID_PUMP": (None, "mL/h", "unavailable"),
        "MDC_VOL_FLUID_DELIV": (None, "mL", "unavailable"),
        "MDC_VOL_FLUID_TBI_REMAIN": (None, "mL", "unavailable"),
    }


def test_absent_parameters_give_no_observation_and_unknown_ones_are_skipped() -> None:
    (reading,) = one_pump(("INRT", "5.00"), ("PATID", "SECRET"), ("NEWTHING", "x,y")).readings
    assert values(reading) == {"MDC_FLOW_FLUID_PUMP": (5.0, "mL/h", "valid")}
    assert "SECRET" not in reading.model_dump_json()
    assert reading.pump.state == "stopped"


@pytest.mark.parametrize(
    ("pairs", "remaining"),
    [
        ((("INVTB", "50.0"), ("INVI", "12.5")), 37.5),
        ((("INVTB", "50.0"), ("INVI", "60.0")), 0.0),
        ((("INVTB", "50.0"), ("INVI", "12.5"), ("VOLREMAIN", "30.25")), 30.25),
        ((("INVTB", "50.0"), ("INVI", "12.5"), ("VOLREMAIN", "_NV")), 37.5),
        ((("INVTB", "0.0"), ("INVI", "12.5")), None),
        ((("INVTB", "_NV"), ("INVI", "12.5")), None),
        ((("VOLREMAIN", "_NA"),), None),
    ],
)
def test_remaining_volume(pairs: tuple[tuple[str, str], ...], remaining: float | None) -> None:
    (reading,) = one_pump(*pairs).readings
    assert values(reading)["MDC_VOL_FLUID_TBI_REMAIN"][0] == remaining


PROGRAMMED = (("INDORT", "2.5"), ("INDORTU", "71"))
RUNNING = ("STATUS1", "0x00000080h")


@pytest.mark.parametrize(
    ("pairs", "dose"),
    [
        ((("INDORT", "0.750"), ("INDORTU", "69")), (0.75, "mg/kg/h", "valid")),
        ((*PROGRAMMED, ("DORT", "2.4"), ("DORTU", "71")), (2.4, "ug/kg/min", "valid")),
        ((*PROGRAMMED, ("DORT", "_NV"), ("DORTU", "71")), (2.5, "ug/kg/min", "valid")),
        ((("INDORT", "_NV"), ("INDORTU", "48")), (None, "mg/h", "unavailable")),
        ((("INDORT", "1.0"), ("INDORTU", "84"), ("INDOCAL", "1")), (1.0, "[iU]/kg/h", "valid")),
    ],
)  # fmt: skip
def test_dose_rate(pairs: tuple[tuple[str, str], ...], dose: tuple[float | None, str, str]) -> None:
    (reading,) = one_pump(*pairs).readings
    assert values(reading)["MDC_RATE_DOSE"] == dose


@pytest.mark.parametrize(
    "pairs",
    [
        (("INDORT", "0.750"), ("INDORTU", "69"), ("INDOCAL", "0")),
        (("INDORT", "0.750"), ("INDORTU", "3")),  # hh:mm is not a dose unit
        (("INDORT", "0.750"), ("INDORTU", "_NV")),
        (("INDORT", "0.750"),),
    ],
)
def test_no_dose_rate_without_dose_mode_or_unit(pairs: tuple[tuple[str, str], ...]) -> None:
    (reading,) = one_pump(*pairs).readings
    assert "MDC_RATE_DOSE" not in values(reading)


def test_remaining_time_65535_means_no_end() -> None:
    (reading,) = one_pump(("INRMT", "65535")).readings
    assert values(reading)["MDC_TIME_PD_REMAIN"] == (None, "s", "unavailable")


@pytest.mark.parametrize(
    ("pairs", "state", "flags", "bolus"),
    [
        ((("INM3", "1"), ("INM2", "1")), "infusing", {}, True),
        ((("INM3", "0"), ("INM10", "1")), "kvo", {}, False),
        ((("INM3", "1"), ("INA3", "1")), "alarm", {"occlusion": True}, False),
        ((("INA15", "1"),), "alarm", {"air_in_line": True}, False),
        # At its volume limit and keeping the vein open: KVO, with the flag (the normal end).
        ((("INA7", "1"), ("INM10", "1")), "kvo", {"end_of_volume": True}, False),
        ((("INA16", "1"), ("INM10", "1")), "kvo", {"end_of_volume": True}, False),
        ((("INA7", "1"),), "alarm", {"end_of_volume": True}, False),  # stopped at the limit
        (
            (("INA7", "1"), ("INM10", "1"), ("INA3", "1")),
            "alarm",
            {"end_of_volume": True, "occlusion": True},
            False,
        ),
        ((("INA2", "1"),), "alarm", {"end_of_volume": True}, False),
        ((("INA12", "1"), ("INM3", "1")), "infusing", {"near_end": True}, False),
        ((("INA11", "1"), ("INM3", "1")), "infusing", {"battery": True}, False),
        ((("INA1", "1"),), "alarm", {"battery": True}, False),
        ((("INA6", "_NV"), ("INA13", "_NV"), ("INM3", "1")), "infusing", {}, False),
        ((("INA8", "1"),), "alarm", {}, False),
    ],
)
def test_flags_and_state(
    pairs: tuple[tuple[str, str], ...], state: str, flags: dict[str, bool], bolus: bool
) -> None:
    (reading,) = one_pump(*pairs).readings
    assert reading.pump.state == state
    assert reading.pump.flags == PumpFlags(**flags)
    assert reading.pump.bolus is bolus


@pytest.mark.parametrize(
    ("pairs", "state", "flags", "bolus"),
    [
        ((("RUNSTATE", "2"),), "infusing", {}, False),
        ((("RUNSTATE", "1"),), "stopped", {}, False),
        ((("RUNSTATE", "8"),), "kvo", {}, False),
        ((("RUNSTATE", "6"),), "alarm", {}, False),
        ((("ALARM1", "0x00000400h"),), "alarm", {"occlusion": True}, False),
        ((("ALARM1", "1024"),), "alarm", {"occlusion": True}, False),
        ((("ALARM1", "0x10000000"),), "alarm", {"air_in_line": True}, False),
        ((("ALARM1", "00002000h"),), "alarm", {"end_of_volume": True}, False),
        ((("ALARM1", "00002000h"), ("STATUS1", "0x00002000h")), "kvo", {"end_of_volume": True},
         False),
        ((("ALARM1", "0x00000004h"),), "alarm", {"battery": True}, False),
        ((("ALARM1", "0x00000001h"), ("STATUS1", "0x00000080h")), "infusing", {}, False),
        ((("ALARM2", "0x80000000h"),), "alarm", {}, False),
        ((("PREALARM", "0x00000004h"), RUNNING), "infusing", {"near_end": True}, False),
        ((("PREALARM", "16"),), "stopped", {"battery": True}, False),
        ((("STATUS1", "0x00002000h"),), "kvo", {}, False),
        ((("STATUS1", "0x00000C80h"),), "infusing", {}, True),
    ],
)  # fmt: skip
def test_bit_fields(
    pairs: tuple[tuple[str, str], ...], state: str, flags: dict[str, bool], bolus: bool
) -> None:
    (reading,) = one_pump(*pairs).readings
    assert (reading.pump.state, reading.pump.flags, reading.pump.bolus) == (
        state,
        PumpFlags(**flags),
        bolus,
    )


def test_drug_falls_back_to_the_short_name() -> None:
    assert one_pump(("INSOL", "_NV"), ("INSOLSN", "Keta\ue021")).readings[0].pump.drug == (
        "Keta\ue021"
    )
    assert one_pump(("INSOL", "_NV"), ("INSOLSN", "_NV")).readings[0].pump.drug is None


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("INRT", "fast"), "INRT 'fast' is not a decimal number"),
        (("INRT", "nan"), "INRT 'nan' is not a decimal number"),
        (("INRT", "1_0"), "INRT '1_0' is not a decimal number"),
        (("INA3", "2"), "INA3 '2' is not 0 or 1"),
        (("ALARM1", "0xZZ"), "ALARM1 '0xzz' is not a bit field"),
        (("RUNSTATE", "-1"), "RUNSTATE '-1' is not a bit field"),
    ],
)
def test_bad_values_drop_only_that_pump(pair: tuple[str, str], message: str) -> None:
    records = (
        Record(1, "50111", *pair),
        Record(1, "50112", "INRT", "3.00"),
    )
    answer = decode_answer([Block(records, AT1)], [PUMP_11, PUMP_12])
    assert answer.errors == [f"pump 11: {message}"]
    assert [r.device_id for r in answer.readings] == ["pump-12"]


def test_gnerr_39_drops_the_removed_pump() -> None:
    records = (
        Record(1, "50100", "FMNOR", "1"),
        Record(1, "50111", "GNERR", "39"),
        Record(1, "50112", "INRT", "3.00"),
    )
    answer = decode_answer([Block(records, AT1)], [PUMP_11, PUMP_12])
    assert [r.device_id for r in answer.readings] == ["pump-12"]
    assert answer.pump_errors == {"11": 39}
    assert answer.errors == []


@pytest.mark.parametrize(("value", "code"), [("11", 11), ("68", 68), ("x", -1)])
def test_general_gnerr(value: str, code: int) -> None:
    answer = decode_answer([Block((Record(1, "50100", "GNERR", value),), AT1)], [PUMP_11])
    assert (answer.readings, answer.general_error) == ([], code)


@pytest.mark.parametrize(
    ("code", "unit"),
    [("69", "mg/kg/h"), ("31", "mg/mL"), (" 71 ", "ug/kg/min"), ("1", "mL/h"), ("36", "[iU]/mL")],
)
def test_unit_codes(code: str, unit: str) -> None:
    assert ucum_unit(code) == unit


@pytest.mark.parametrize("code", [None, "", "3", "156", "999", "x", "\u00b2", "-1"])
def test_unit_codes_without_mapping(code: str | None) -> None:
    assert ucum_unit(code) is None


def test_unit_table_covers_every_dose_rate_code() -> None:
    per_time = [*range(44, 86), *range(98, 101), *range(102, 105), *range(106, 109)]
    per_time += [*range(110, 113), *range(114, 117), *range(121, 130), *range(133, 137)]
    per_time += [140, 141, 142, 143, 145, 146, 147, 151, 152, 155, 1]
    missing = [code for code in per_time if code not in UNIT_CODES]
    assert missing == []
    assert all(unit and " " not in unit for unit in UNIT_CODES.values())
