"""Reading models: the contract's codes and units, validated once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from drivers.readings import (
    DEVICE_CONDITIONS,
    OBSERVATION_KINDS,
    Observation,
    PumpReading,
    PumpStatus,
    VitalsReading,
    parse_reading,
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
