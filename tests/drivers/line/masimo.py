"""The Masimo ASCII 1 fact sheet's example lines and what the sheet says they carry, and the
``line`` driver reading them with the shipped config's options.

For the cross-driver comparison: ``comparable(readings)`` reduces Readings to what both the
``masimo_ascii`` driver and ``line`` must agree on (kind, code, unit, value, state), so that
``comparable(masimo_readings(E1)) == comparable(line_readings(E1))``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers.base import DeviceTarget, Instant
from drivers.line.driver import conversation_for
from drivers.line.options import LineOptions
from drivers.readings import PumpReading, VitalsReading
from edge.config import load_config

CONFIG = Path(__file__).resolve().parents[3] / "config" / "masimo-line.yaml"
TARGET = DeviceTarget("oximeter-1", "chair-1")
AT = Instant(0.0, datetime(2025, 1, 2, 10, 0, tzinfo=UTC))

E1 = (
    b"01/02/25 10:00:00 SN=0000123456 SPO2=098% BPM=072 PI=02.35% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000800\r\n"
)
E3 = (
    b"01/02/25 10:00:02 SN=0000123456 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000020\r\n"
)
Row = tuple[str, str, str, float | None, str]

STATED: dict[bytes, list[Row]] = {
    # Sheet section 5: "E1 -> SPO2 98, BPM 72, PI 2.35, others None" (EXC 0x800: normal).
    E1: [
        ("vitals", "MDC_PULS_OXIM_SAT_O2", "%", 98.0, "valid"),
        ("vitals", "MDC_PULS_OXIM_PULS_RATE", "/min", 72.0, "valid"),
        ("vitals", "MDC_PULS_OXIM_PERF_REL", "%", 2.35, "valid"),
    ],
    # "E3 sensor off -> all numerics None": dashes are no value, never zero.
    E3: [
        ("vitals", "MDC_PULS_OXIM_SAT_O2", "%", None, "unavailable"),
        ("vitals", "MDC_PULS_OXIM_PULS_RATE", "/min", None, "unavailable"),
        ("vitals", "MDC_PULS_OXIM_PERF_REL", "%", None, "unavailable"),
    ],
}
"""The sheet's example lines -> the observations it states for them."""


def shipped_options() -> LineOptions:
    """The options of the oximeter in config/masimo-line.yaml, validated as config check does."""
    (device,) = load_config(CONFIG).devices
    assert device.driver == "line"
    options: dict[str, Any] = device.options
    return LineOptions.model_validate(options)


def line_readings(line: bytes) -> list[PumpReading | VitalsReading]:
    """What ``line`` with the shipped Masimo options makes of ``line``."""
    exchange = conversation_for(TARGET, shipped_options()).receive(line, AT)
    assert not exchange.errors, exchange.errors
    return exchange.readings


def comparable(readings: list[PumpReading | VitalsReading]) -> list[Row]:
    """Readings reduced to (kind, code, unit, value, state), sorted by code."""
    rows = [
        (reading.kind, obs.code, obs.unit, obs.value, obs.state)
        for reading in readings
        for obs in reading.observations
    ]
    return sorted(rows, key=lambda row: row[1])
