"""Reading models: the contract's codes and units, validated once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from drivers.readings import (
    DEVICE_CONDITIONS,
    OBSERVATION_KINDS,
    Observation,
    ObservationState,
    PumpReading,
    PumpStatus,
    VitalsReading,
    parse_reading,
    shared_observation,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_the_contract_codes_are_in_the_table() -> None:
    codes = {kind.code: kind.unit for kind in OBSERVATION_KINDS}
    assert codes["MDC_PRESS_BLD_NONINV_SYS"] == "mm[Hg]"
    assert codes["MDC_FLOW_FLUID_PUMP"] == "mL/h"
    assert codes["MDC_PULS_OXIM_SAT_O2"] == "%"
    assert codes["MDC_RESP_RATE"] == "/min"
    assert codes["MDC_RATE_DOSE"] is None  # the pump's own unit


def test_a_wrong_unit_is_refused() -> None:
    with pytest.raises(ValidationError, match="measured in mm\\[Hg\\], not kPa"):
        Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=16.0, unit="kPa")


def test_a_valid_observation_needs_a_value() -> None:
    with pytest.raises(ValidationError, match="needs a value"):
        Observation(code="MDC_ECG_HEART_RATE", value=None, unit="/min")
    missing = Observation(code="MDC_ECG_HEART_RATE", value=None, unit="/min", state="invalid")
    assert missing.value is None


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        VitalsReading(device_id="m", bed="b", ts=datetime(2026, 1, 1))


def test_json_round_trip_keeps_the_kind() -> None:
    nibp_time = NOW - timedelta(minutes=2)
    vitals = VitalsReading(
        device_id="monitor-1",
        bed="bed-1",
        ts=NOW,
        observations=(
            Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=141, unit="mm[Hg]", ts=nibp_time),
            Observation(code="MDC_ECG_HEART_RATE", value=80, unit="/min", state="questionable"),
        ),
    )
    pump = PumpReading(
        device_id="pump-1",
        bed="bed-1",
        ts=NOW,
        pump=PumpStatus(state="kvo", drug="Ketamine"),
        observations=(Observation(code="MDC_FLOW_FLUID_PUMP", value=52.5, unit="mL/h"),),
    )
    assert parse_reading(vitals.model_dump_json()) == vitals
    assert parse_reading(pump.model_dump_json()) == pump
    assert vitals.value("MDC_ECG_HEART_RATE") == 80
    assert vitals.value("MDC_RESP_RATE") is None


def test_readings_are_frozen() -> None:
    reading = VitalsReading(device_id="m", bed="b", ts=NOW)
    with pytest.raises(ValidationError):
        reading.bed = "other"  # type: ignore[misc]


def test_device_conditions_are_a_fixed_set_each_once_and_survive_json() -> None:
    reading = VitalsReading(
        device_id="ox-1", bed="bed-1", ts=NOW, conditions=("sensor_off", "device_alarm")
    )
    assert parse_reading(reading.model_dump_json()).conditions == ("sensor_off", "device_alarm")
    assert VitalsReading(device_id="m", bed="b", ts=NOW).conditions == ()
    assert "low_signal_quality" in DEVICE_CONDITIONS
    with pytest.raises(ValidationError):
        VitalsReading(device_id="m", bed="b", ts=NOW, conditions=("on_fire",))
    with pytest.raises(ValidationError):
        VitalsReading(device_id="m", bed="b", ts=NOW, conditions=("sensor_off", "sensor_off"))


def test_the_pulse_oximetry_codes_are_percentages() -> None:
    codes = {kind.code: kind.unit for kind in OBSERVATION_KINDS}
    for code in ("MDC_PULS_OXIM_PERF_REL", "X_MASIMO_SPCO", "X_MASIMO_SPMET", "X_MASIMO_PVI"):
        assert codes[code] == "%"


SHARED_CODES = st.sampled_from(
    [("MDC_FLOW_FLUID_PUMP", "mL/h"), ("MDC_PULS_OXIM_SAT_O2", "%"), ("X_UNKNOWN", "mg")]
)
SHARED_UNITS = st.sampled_from(["mL/h", "%", "mg", ""])
SHARED_VALUES = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 52.5, 97.0])
    | st.integers(-3, 3)
)
SHARED_STATES = st.sampled_from(["valid", "questionable", "invalid", "unavailable"])


@given(
    calls=st.lists(
        st.tuples(SHARED_CODES, st.booleans(), SHARED_UNITS, SHARED_VALUES, SHARED_STATES),
        max_size=30,
    )
)
def test_a_shared_observation_is_the_one_validation_gives(
    calls: list[tuple[tuple[str, str], bool, str, float | None, ObservationState]],
) -> None:
    """Same fields, same JSON, same errors as ``Observation(...)``, whatever came before
    (a repeat is served from the shared ones)."""
    for (code, table_unit), use_table_unit, other_unit, value, state in calls:
        unit = table_unit if use_table_unit else other_unit
        try:
            fresh = Observation(code=code, value=value, unit=unit, state=state)
        except ValidationError as exc:
            refused = [error["msg"] for error in exc.errors()]
        else:
            refused = []
        if refused:
            with pytest.raises(ValidationError) as raised:
                shared_observation(code, value, unit, state)
            assert [error["msg"] for error in raised.value.errors()] == refused
            continue
        shared = shared_observation(code, value, unit, state)
        assert shared.model_dump_json() == fresh.model_dump_json()
        assert shared == fresh or value != value  # NaN is unequal to itself


def test_a_repeated_observation_is_validated_once() -> None:
    first = shared_observation("MDC_FLOW_FLUID_PUMP", 52.5, "mL/h")
    assert shared_observation("MDC_FLOW_FLUID_PUMP", 52.5, "mL/h") is first
    assert shared_observation("MDC_FLOW_FLUID_PUMP", 52.5, "mL/h", "questionable") is not first
    zero = shared_observation("MDC_FLOW_FLUID_PUMP", 0.0, "mL/h")
    assert shared_observation("MDC_FLOW_FLUID_PUMP", -0.0, "mL/h").model_dump()["value"] == -0.0
    assert str(shared_observation("MDC_FLOW_FLUID_PUMP", -0.0, "mL/h").value) == "-0.0"
    assert str(zero.value) == "0.0"
