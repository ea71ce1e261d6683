"""The plausibility table and check: every code at, inside and outside its bounds; values that
are not finite numbers; a diastolic not below its systolic; codes without a row."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from drivers.plausibility import (
    PLAUSIBLE_RANGES,
    Implausible,
    PlausibleRange,
    check_plausible,
)
from drivers.readings import (
    OBSERVATION_KINDS,
    Observation,
    PumpReading,
    PumpStatus,
    VitalsReading,
    observation_kind,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SYS, DIA, MEAN = (
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
)
EXPECTED = {
    SYS: (20, 300),
    DIA: (10, 250),
    MEAN: (15, 260),
    "MDC_ECG_HEART_RATE": (0, 350),
    "MDC_PULS_OXIM_PULS_RATE": (15, 350),
    "MDC_PULS_OXIM_SAT_O2": (0, 100),
    "MDC_RESP_RATE": (0, 150),
    "MDC_AWAY_RESP_RATE": (0, 150),
    "MDC_TEMP_BODY": (15, 45),
    "MDC_FLOW_FLUID_PUMP": (0, 1200),
    "MDC_VOL_FLUID_DELIV": (0, 10_000),
    "MDC_VOL_FLUID_TBI_REMAIN": (0, 10_000),
    "MDC_RATE_DOSE": (0, math.inf),
    "MDC_TIME_PD_REMAIN": (0, math.inf),
    "X_BBRAUN_PRESS_REL_ALARM": (0, 100),
    "MDC_PULS_OXIM_PERF_REL": (0, 30),
    "X_MASIMO_SPCO": (0, 100),
    "X_MASIMO_SPMET": (0, 100),
    "X_MASIMO_PVI": (0, 100),
    "MDC_VENT_RESP_RATE": (0, 150),
    "MDC_VOL_AWAY_TIDAL_EXP": (0, 4000),
    "MDC_VOL_MINUTE_AWAY": (0, 100),
    "MDC_PRESS_AWAY_INSP_PEAK": (-20, 150),
    "MDC_PRESS_RESP_PLAT": (-20, 150),
    "MDC_PRESS_AWAY_INSP_MEAN": (-20, 150),
    "MDC_VENT_PRESS_AWAY_END_EXP_POS": (-10, 60),
    "MDC_VENT_CONC_AWAY_O2_INSP": (18, 100),
    "MDC_AWAY_CO2_ET": (0, 150),
    "X_DRAEGER_CO2_ET_PCT": (0, 20),
    "X_ALARIS_PRESS_LINE": (-100, 2000),
}


def unit_of(code: str) -> str:
    kind = observation_kind(code)
    return kind.unit if kind is not None and kind.unit is not None else "mg/kg/h"


def obs(code: str, value: float | None, state: str = "valid") -> Observation:
    return Observation.model_validate(
        {"code": code, "value": value, "unit": unit_of(code), "state": state}
    )


def reading_of(*observations: Observation) -> PumpReading | VitalsReading:
    kinds = {observation_kind(o.code).reading_kind for o in observations}  # type: ignore[union-attr]
    if kinds == {"pump"}:
        return PumpReading(
            device_id="pump-1",
            bed="bed-1",
            ts=NOW,
            observations=observations,
            pump=PumpStatus(state="infusing"),
        )
    return VitalsReading(device_id="mon-1", bed="bed-1", ts=NOW, observations=observations)


def test_the_table_has_one_row_per_observation_kind_with_the_ranges_of_the_design() -> None:
    assert set(PLAUSIBLE_RANGES) == {kind.code for kind in OBSERVATION_KINDS}
    assert {code: (r.low, r.high) for code, r in PLAUSIBLE_RANGES.items()} == EXPECTED


def test_a_range_needs_low_below_high() -> None:
    for low, high in ((10, 10), (10, 5), (math.nan, 5), (0, math.nan)):
        with pytest.raises(ValueError, match="low < high"):
            PlausibleRange(low, high)


def bounds_cases() -> list[tuple[str, float, bool]]:
    cases = []
    for code, (low, high) in EXPECTED.items():
        cases += [(code, low, True), (code, low - 0.01, False)]
        if math.isfinite(high):
            cases += [
                (code, (low + high) / 2, True),
                (code, high, True),
                (code, high + 0.01, False),
            ]
        else:
            cases += [(code, 1e12, True)]
    return cases


@pytest.mark.parametrize(("code", "value", "plausible"), bounds_cases())
def test_each_code_at_inside_and_outside_its_bounds(
    code: str, value: float, plausible: bool
) -> None:
    reading = reading_of(obs(code, value))
    checked, found = check_plausible(reading)
    if plausible:
        assert (checked, found) == (reading, [])
        assert checked is reading  # nothing copied when nothing is replaced
    else:
        (replaced,) = checked.observations
        assert (replaced.value, replaced.state, replaced.unit) == (None, "invalid", unit_of(code))
        assert found == [Implausible(code, value, f"outside {PLAUSIBLE_RANGES[code]}")]
        assert checked.value(code) is None


@pytest.mark.parametrize("code", [*EXPECTED, "MDC_X_NOT_IN_THE_TABLE"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_values_that_are_not_finite_numbers_are_invalid_for_every_code(
    code: str, value: float
) -> None:
    observation = Observation(code=code, value=value, unit=unit_of(code))
    reading = VitalsReading(device_id="mon-1", bed="bed-1", ts=NOW, observations=(observation,))
    checked, found = check_plausible(reading)
    assert checked.observations[0].state == "invalid"
    assert checked.observations[0].value is None
    assert [(f.code, f.reason) for f in found] == [(code, "not a finite number")]
    assert math.isnan(found[0].value) if math.isnan(value) else found[0].value == value


def test_a_code_without_a_row_gets_the_finiteness_check_only() -> None:
    huge = Observation(code="MDC_X_NOT_IN_THE_TABLE", value=-1e300, unit="1")
    reading = VitalsReading(device_id="mon-1", bed="bed-1", ts=NOW, observations=(huge,))
    assert check_plausible(reading) == (reading, [])


def test_only_the_implausible_observations_change_and_the_rest_is_kept() -> None:
    stamped = obs(SYS, 1e300).model_copy(update={"ts": NOW})
    reading = reading_of(
        obs("MDC_PULS_OXIM_SAT_O2", -5),
        stamped,
        obs(DIA, 80),
        obs("MDC_ECG_HEART_RATE", -70),
        obs("MDC_RESP_RATE", 1e9),
        obs("MDC_PULS_OXIM_PULS_RATE", 72, "questionable"),
    )
    checked, found = check_plausible(reading)
    assert [(o.code, o.value, o.state) for o in checked.observations] == [
        ("MDC_PULS_OXIM_SAT_O2", None, "invalid"),
        (SYS, None, "invalid"),
        (DIA, 80, "valid"),  # a lone diastolic in range stays; no rule uses it without SBP
        ("MDC_ECG_HEART_RATE", None, "invalid"),
        ("MDC_RESP_RATE", None, "invalid"),
        ("MDC_PULS_OXIM_PULS_RATE", 72, "questionable"),
    ]
    assert checked.observations[1].ts == NOW
    assert [(f.code, f.value) for f in found] == [
        ("MDC_PULS_OXIM_SAT_O2", -5),
        (SYS, 1e300),
        ("MDC_ECG_HEART_RATE", -70),
        ("MDC_RESP_RATE", 1e9),
    ]
    assert (checked.device_id, checked.bed, checked.ts) == (reading.device_id, "bed-1", NOW)


def test_the_device_s_own_invalid_and_unavailable_observations_are_left_alone() -> None:
    reading = reading_of(obs(SYS, None, "unavailable"), obs("MDC_ECG_HEART_RATE", 500, "invalid"))
    assert check_plausible(reading) == (reading, [])


def test_a_questionable_value_out_of_range_is_invalid_too() -> None:
    checked, found = check_plausible(reading_of(obs("MDC_PULS_OXIM_SAT_O2", 101, "questionable")))
    assert checked.observations[0].state == "invalid"
    assert len(found) == 1


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 130), (90, 90), (60, 250)])
def test_a_diastolic_not_below_its_systolic_makes_the_whole_nibp_invalid(
    systolic: float, diastolic: float
) -> None:
    reading = reading_of(
        obs(SYS, systolic), obs(DIA, diastolic), obs(MEAN, 100), obs("MDC_ECG_HEART_RATE", 72)
    )
    checked, found = check_plausible(reading)
    states = {o.code: (o.value, o.state) for o in checked.observations}
    assert states == {
        SYS: (None, "invalid"),
        DIA: (None, "invalid"),
        MEAN: (None, "invalid"),
        "MDC_ECG_HEART_RATE": (72, "valid"),
    }
    reason = f"diastolic {diastolic:g} not below systolic {systolic:g}"
    assert found == [
        Implausible(SYS, systolic, reason),
        Implausible(DIA, diastolic, reason),
        Implausible(MEAN, 100, reason),
    ]


def test_a_diastolic_just_below_its_systolic_is_plausible() -> None:
    reading = reading_of(obs(SYS, 91), obs(DIA, 90), obs(MEAN, 90.5))
    assert check_plausible(reading) == (reading, [])


def test_the_pair_rule_compares_values_in_range_only() -> None:
    reading = reading_of(obs(SYS, 400), obs(DIA, 120), obs(MEAN, 150))
    checked, found = check_plausible(reading)
    assert [o.state for o in checked.observations] == ["invalid", "valid", "valid"]
    assert [f.code for f in found] == [SYS]


def test_other_ranges_can_be_given() -> None:
    ranges = {**PLAUSIBLE_RANGES, "MDC_FLOW_FLUID_PUMP": PlausibleRange(0, 1800)}
    reading = reading_of(obs("MDC_FLOW_FLUID_PUMP", 1500))
    assert check_plausible(reading, ranges) == (reading, [])
    assert check_plausible(reading)[0].value("MDC_FLOW_FLUID_PUMP") is None
