"""``fhir sample``/``fhir refused`` and the ``fhir`` config section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle

from edge.cli import main
from edge.config import load_config
from tests.edge.test_config import minimal, problems, write


def test_sample_prints_valid_bundles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "sample"]) == 0
    chunks = capsys.readouterr().out.split("# transaction Bundle, ")[1:]
    titles = [chunk.split("\n", 1)[0] for chunk in chunks]
    assert titles == [
        "one monitor reading",
        "one pump reading",
        "a chart row (the cuff)",
        "alarm raised",
        "alarm acknowledged",
        "alarm ended",
    ]
    for chunk in chunks:
        Bundle.model_validate(json.loads(chunk.split("\n", 1)[1]))


def test_refused_needs_a_fhir_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, minimal())
    assert main(["fhir", "refused", "--config", str(path)]) == 1
    assert "no fhir section" in capsys.readouterr().err
    path.write_text(
        yaml.safe_dump(
            minimal(fhir={"base_url": "http://x/fhir", "queue_path": str(tmp_path / "f.sqlite")})
        )
    )
    assert main(["fhir", "refused", "--config", str(path)]) == 0
    assert "nothing was refused" in capsys.readouterr().out


def test_fhir_section_loads_with_bearer_auth(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, minimal(fhir={"base_url": "https://ehr/fhir", "bearer_token": "t0k"}))
    )
    assert config.fhir is not None
    assert config.fhir.bearer_token is not None
    assert "t0k" not in repr(config)


@pytest.mark.parametrize(
    ("fhir", "location"),
    [
        ({"base_url": "ftp://x"}, "fhir.base_url"),
        ({"base_url": "https://x/fhir/"}, "fhir.base_url"),
        (
            {"base_url": "https://ehr", "bearer_token": "a", "username": "u", "password": "p"},
            "fhir",
        ),
        ({"base_url": "https://ehr", "username": "u"}, "fhir"),
        ({"base_url": "https://ehr", "timeout_s": 0}, "fhir.timeout_s"),
    ],
)
def test_bad_fhir_settings_are_located(
    tmp_path: Path, fhir: dict[str, object], location: str
) -> None:
    assert location in problems(tmp_path, minimal(fhir=fhir))
