"""The ``hl7`` config section, the beds' visit numbers and the devices' EUI-64: validated,
errors located, in the JSON Schema, overridable from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config
from edge.hl7.identity import Hl7Identity
from tests.edge.test_config import minimal, problems, write


def test_hl7_is_off_unless_configured(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, minimal())).hl7 is None


def test_a_full_hl7_section_loads_and_gives_the_identities(tmp_path: Path) -> None:
    data = minimal(
        hl7={"url": "mllp://10.0.0.5:2575", "eui64": "0123456789ABCDEF", "point_of_care": "INF"},
        beds={"bed-1": {"visit_number": "V-1234"}, "bed-2": {}},
    )
    data["devices"][1]["eui64"] = "00112233445566FF"
    config = load_config(write(tmp_path, data))
    assert config.hl7 is not None
    assert (config.hl7.observations, config.hl7.chart_interval_s) == ("charted", 300.0)
    identity = Hl7Identity.from_config(config, config.hl7)
    assert identity.facility == "clinic"
    assert identity.visits == {"bed-1": "V-1234"}
    assert identity.equipment == {"monitor-1": "00112233445566FF"}


@pytest.mark.parametrize(
    ("hl7", "location"),
    [
        ({"url": "http://host:2575"}, "hl7.url"),
        ({"url": "mllp://host"}, "hl7.url"),
        ({"url": "mllp://h:1", "eui64": "0123"}, "hl7.eui64"),
        ({"url": "mllp://h:1", "observations": "sometimes"}, "hl7.observations"),
        ({"url": "mllp://h:1", "chart_interval_s": 1}, "hl7.chart_interval_s"),
        ({"url": "mllp://h:1", "sending_facility": "A|B"}, "hl7.sending_facility"),
        ({"url": "mllp://h:1", "tls": {}}, "hl7"),
        ({"url": "mllp://h:1", "urll": "x"}, "hl7.urll"),
    ],
)
def test_bad_hl7_settings_are_located(
    tmp_path: Path, hl7: dict[str, object], location: str
) -> None:
    assert location in problems(tmp_path, minimal(hl7=hl7))


def test_a_visit_number_with_an_hl7_delimiter_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(beds={"bed-1": {"visit_number": "V^1"}, "bed-2": {}}))
    assert "beds.bed-1.visit_number" in found


def test_environment_sets_the_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFUSION_EDGE_HL7__URL", "mllps://hl7.example:6661")
    config = load_config(write(tmp_path, minimal()))
    assert config.hl7 is not None
    assert config.hl7.url == "mllps://hl7.example:6661"


def test_config_schema_shows_the_hl7_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "hl7" in schema["properties"]
    assert "Hl7Config" in schema["$defs"]
    assert "visit_number" in schema["$defs"]["BedConfig"]["properties"]
