"""masimo_ascii codec: the sheet's examples as golden vectors, status bits to states and
conditions, dashes as no value, and the encoder round trip."""

from __future__ import annotations

import pytest

from drivers.errors import DecodeError
from drivers.masimo_ascii.codec import FIELDS, decode, encode, no_value
from drivers.masimo_ascii.framer import MasimoLine, parse_line
from drivers.masimo_ascii.status import decode_status
from drivers.readings import VitalsReading
from tests.drivers.masimo_ascii.vectors import AT, COLOR, E1, E2, E3, RADICAL5, TARGET, TREND

SPO2, PR, PI = "MDC_PULS_OXIM_SAT_O2", "MDC_PULS_OXIM_PULS_RATE", "MDC_PULS_OXIM_PERF_REL"


def reading_of(data: bytes) -> VitalsReading:
    line = parse_line(data.removesuffix(b"\n"))
    assert isinstance(line, MasimoLine), line
    return decode(line, TARGET, AT).reading


def states(reading: VitalsReading) -> dict[str, tuple[float | None, str]]:
    return {obs.code: (obs.value, obs.state) for obs in reading.observations}


def test_e1_a_normal_reading() -> None:
    reading = reading_of(E1)
    assert states(reading) == {
        SPO2: (98, "valid"),
        PR: (72, "valid"),
        PI: (2.35, "valid"),
        "X_MASIMO_SPCO": (None, "unavailable"),
        "X_MASIMO_SPMET": (None, "unavailable"),
        "X_MASIMO_PVI": (None, "unavailable"),
    }
    assert reading.conditions == ()
    assert reading.ts == AT.wall
    assert reading.device_id == "oximeter-1"
    assert {obs.unit for obs in reading.observations} == {"%", "/min"}


def test_e2_a_desaturation_alarm_with_low_quality_is_questionable() -> None:
    reading = reading_of(E2)
    found = states(reading)
    assert found[SPO2] == (88, "questionable")
    assert found[PR] == (112, "questionable")
    assert found[PI] == (0.41, "questionable")
    assert reading.conditions == ("device_alarm", "low_perfusion", "low_signal_quality")
    assert reading.value(SPO2) == 88  # questionable is still usable


def test_e3_sensor_off_gives_no_values_only_the_condition() -> None:
    reading = reading_of(E3)
    assert all(obs.value is None and obs.state == "unavailable" for obs in reading.observations)
    assert reading.conditions == ("sensor_off",)


def test_a_sensor_problem_hides_digits_the_device_still_sends() -> None:
    data = E1.replace(b"EXC=000800", b"EXC=000801")  # no sensor, yet SPO2=098
    reading = reading_of(data)
    assert reading.value(SPO2) is None
    assert states(reading)[SPO2] == (None, "unavailable")
    assert reading.conditions == ("no_sensor",)


@pytest.mark.parametrize(
    ("exc", "conditions", "effect"),
    [
        (0x000800, (), None),
        (0x000001, ("no_sensor",), "hide"),
        (0x000002, ("sensor_fault",), "hide"),
        (0x000080, ("sensor_fault",), "hide"),
        (0x000100, ("sensor_fault",), "hide"),
        (0x001000, ("cable_fault",), "hide"),
        (0x000004, ("low_perfusion",), "doubt"),
        (0x000008, ("pulse_search",), "doubt"),
        (0x000050, ("interference",), "doubt"),  # interference + ambient light: once
        (0x000400, ("low_signal_quality",), "doubt"),
        (0x000424, ("low_perfusion", "sensor_off", "low_signal_quality"), "hide"),
    ],
)
def test_exc_bits_to_conditions_and_effects(
    exc: int, conditions: tuple[str, ...], effect: str | None
) -> None:
    status = decode_status(0, exc)
    assert status.conditions == conditions
    assert status.effect_on(SPO2) == effect
    assert status.unknown == ()


def test_alarm_bits_and_the_low_confidence_bits_of_one_quantity() -> None:
    assert decode_status(0x0030, 0).conditions == ("device_alarm", "alarm_silenced")
    assert decode_status(0x0040, 0).conditions == ("low_battery",)
    spco = decode_status(0, 0x200000)
    assert spco.effect_on("X_MASIMO_SPCO") == "doubt"
    assert spco.effect_on(SPO2) is None
    assert decode_status(0x0080, 0x800200).unknown == (
        "ALARM 0x000080",
        "EXC 0x000200",
        "EXC 0x800000",
    )


def test_other_models_and_the_trend_spelling() -> None:
    radical5 = reading_of(RADICAL5)
    assert radical5.value(SPO2) == 97
    assert radical5.value(PI) == 1.2
    assert {obs.code for obs in radical5.observations} == {SPO2, PR, PI}
    color = decode(parse_line(COLOR.rstrip(b"\n")), TARGET, AT)  # type: ignore[arg-type]
    assert color.unknown == ()
    assert color.reading.value("X_MASIMO_SPCO") == 1.0
    assert color.reading.value("X_MASIMO_PVI") == 12
    assert color.reading.conditions == ("low_signal_quality",)  # EXC=0000C00
    trend = reading_of(TREND)
    assert trend.value(SPO2) == 96
    assert trend.value(PR) == 74
    assert states(trend)[SPO2] == (96, "questionable")


def test_unknown_fields_are_reported_and_skipped() -> None:
    line = MasimoLine("01/02/25 10:00:00", (("SPO2", "097%"), ("NEWTHING", "12")))
    decoded = decode(line, TARGET, AT)
    assert decoded.unknown == ("field NEWTHING",)
    assert decoded.reading.value(SPO2) == 97


@pytest.mark.parametrize(
    ("name", "raw"),
    [("SPO2", "9x8%"), ("SPO2", "1e2"), ("SPO2", "nan"), ("EXC", "00G800"), ("ALARM", ":")],
)
def test_values_that_are_neither_numbers_nor_dashes_are_decode_errors(name: str, raw: str) -> None:
    line = MasimoLine("01/02/25 10:00:00", ((name, raw),))
    with pytest.raises(DecodeError):
        decode(line, TARGET, AT)


def test_dashes_of_any_width_are_no_value_never_zero() -> None:
    assert all(no_value(raw) for raw in ("---", "--.-", "--.--", "+--", "--", ""))
    assert not any(no_value(raw) for raw in ("000", "00.00", "+05", "-5"))


def test_encode_then_decode_round_trips_every_field() -> None:
    values: dict[str, float | None] = {
        "SPO2": 93,
        "BPM": 101,
        "PI": 0.07,
        "SPCO": 2.5,
        "SPMET": None,
        "PVI": 14,
    }
    line = encode("12/31/26 23:59:59", values, alarm=0x0012, exc=0x000800)
    assert parse_line(line.to_bytes().removesuffix(b"\n")) == line
    reading = decode(line, TARGET, AT).reading
    by_name = {field.name: field.code for field in FIELDS}
    for name, value in values.items():
        assert reading.value(by_name[name]) == value
    assert reading.conditions == ("device_alarm",)
