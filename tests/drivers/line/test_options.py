"""line options in a config: each mistake is refused by config loading, at its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import ConfigError, load_config

SPO2 = {"code": "MDC_PULS_OXIM_SAT_O2"}


def problems(tmp_path: Path, options: dict[str, Any]) -> dict[str, str]:
    """Location -> message of every problem ``config check`` reports for a line device."""
    device = {"id": "ox-1", "bed": "bed-1", "driver": "line", "port": "/dev/ttyS9"}
    config = {"site": "s", "edge_id": "e", "beds": {"bed-1": {}}, "devices": [device]}
    device["options"] = options  # type: ignore[assignment]
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return {p.location: p.message for p in caught.value.problems}


@pytest.mark.parametrize(
    ("options", "location", "message"),
    [
        ({"regex": "SPO2=(?P<SPO2>\\d+", "fields": {"SPO2": SPO2}}, "regex", "regular expr"),
        ({"fields": {"X": {"code": "MDC_NOPE"}}}, "fields.X.code", "unknown observation"),
        (
            {"fields": {"SPO2": {"code": "MDC_PULS_OXIM_SAT_O2", "unit": "1"}}},
            "fields.SPO2.unit",
            "measured in '%'",
        ),
        ({"regex": "HR=(?P<HR>\\d+)", "fields": {"SPO2": SPO2}}, "fields", "group for 'SPO2'"),
        ({"fields": {"SPO2": {**SPO2, "scale": 0}}}, "fields.SPO2.scale", "other than 0"),
        ({"terminator": ";"}, "terminator", "'\\r\\n'"),
        ({"checksum": {"kind": "crc32"}}, "checksum.kind", "xor8"),
        ({"regex": "(?P<SPO2>\\d+)", "keyvalue": {"separator": " "}}, "", "not both"),
        (
            {"fields": {"SPO2": SPO2, "RATE": {"code": "MDC_FLOW_FLUID_PUMP"}}},
            "fields",
            "mix pump and vitals",
        ),
        ({"fields": {"RATE": {"code": "MDC_FLOW_FLUID_PUMP"}}}, "", "need pump_state"),
        ({"fields": {"DOSE": {"code": "MDC_RATE_DOSE"}}}, "fields.DOSE", "give unit"),
        ({"fields": {"SPO2": {**SPO2, "no_vallue": ["---"]}}}, "fields.SPO2.no_vallue", "unknown"),
    ],
    ids=[
        "bad-regex",
        "unknown-code",
        "wrong-unit",
        "missing-group",
        "zero-scale",
        "terminator",
        "checksum-kind",
        "regex-and-keyvalue",
        "mixed-kinds",
        "pump-without-state",
        "unit-needed",
        "unknown-key",
    ],
)
def test_mistake_is_located(
    tmp_path: Path, options: dict[str, Any], location: str, message: str
) -> None:
    where = "devices[0].options" + (f".{location}" if location else "")
    found = problems(tmp_path, options)
    assert where in found, found
    assert message in found[where], found


def test_a_valid_regex_config_loads(tmp_path: Path) -> None:
    device = {
        "id": "ox-1",
        "bed": "bed-1",
        "driver": "line",
        "port": "/dev/ttyS9",
        "options": {"regex": "S=(?P<SPO2>\\d+)", "fields": {"SPO2": SPO2}, "period_s": 2},
    }
    config = {"site": "s", "edge_id": "e", "beds": {"bed-1": {}}, "devices": [device]}
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    (loaded,) = load_config(path).devices
    assert loaded.timeout_s >= 4  # two of the device's 2 s periods
