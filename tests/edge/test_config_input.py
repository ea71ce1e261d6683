"""Hostile config input: the file is bounded (size, nesting, aliases, entries) and every
``INFUSION_EDGE_...`` variable must name a setting; each refusal is located and quick."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from edge.config import ENV_PREFIX, Config, ConfigError, load_config
from edge.config_env import check_environment
from edge.config_errors import MAX_PROBLEMS
from edge.config_yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_ITEMS, MAX_NODES, read_yaml
from tests.edge.test_config import minimal, problems, write

pytestmark = pytest.mark.timeout(20)  # the unbounded reader ran past 60 s on these files

REPO = Path(__file__).resolve().parents[2]
HEAD = "site: clinic\nedge_id: edge-1\n"
SECRET = "s" * 40


def refusal(path: Path) -> tuple[str, str, float]:
    """The single problem of loading ``path`` (location, message) and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    elapsed = time.monotonic() - started
    (problem,) = caught.value.problems
    return problem.location, problem.message, elapsed


def alias_bomb(levels: int = 10, width: int = 10) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return HEAD + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_within_a_second(tmp_path: Path) -> None:
    path = write(tmp_path, alias_bomb())
    location, message, elapsed = refusal(path)
    assert elapsed < 1.0
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+", location)
    assert f"more than {MAX_NODES} values" in message


def test_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    text = HEAD + (
        "order: &ketamine {drug: Ketamine, concentration_mg_per_ml: 1, dose_mg_per_kg: 0.5,"
        " weight_kg: 70, duration_min: 40}\n"
        "beds: {bed-1: {order: *ketamine}, bed-2: {order: *ketamine}}\n"
    )
    data = read_yaml(write(tmp_path, text))
    assert data["beds"]["bed-2"]["order"]["drug"] == "Ketamine"


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    location, message, _ = refusal(write(tmp_path, HEAD + "x: &loop [1, *loop]\n"))
    assert location.endswith(":3:14")
    assert "alias *loop inside its own anchor" in message


@pytest.mark.parametrize(
    "nested",
    [
        "x: " + "[" * 100_000 + "]" * 100_000,  # flow lists
        "x: " + "{a: " * 100_000 + "1" + "}" * 100_000,  # flow mappings
        "x:\n  " + "- " * 100_000 + "1",  # block lists on one line
    ],
    ids=["flow-lists", "flow-mappings", "block-lists"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, nested: str) -> None:
    path = write(tmp_path, HEAD + nested + "\n")
    location, message, elapsed = refusal(path)
    assert re.fullmatch(rf"{re.escape(str(path))}:[34]:\d+", location)
    assert f"nested deeper than {MAX_DEPTH} levels" in message
    assert elapsed < 1.0


def test_the_depth_limit_is_exact(tmp_path: Path) -> None:
    lists = MAX_DEPTH - 1  # the top-level mapping is the first level
    assert read_yaml(write(tmp_path, HEAD + "x: " + "[" * lists + "]" * lists + "\n"))
    _, message, _ = refusal(write(tmp_path, HEAD + "x: " + "[" * (lists + 1) + "]" * (lists + 1)))
    assert "nested deeper" in message


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(64 * 1024 * 1024)  # sparse: 64 MiB that cost no disk
    location, message, elapsed = refusal(path)
    assert location == str(path)
    assert f"larger than {MAX_FILE_BYTES} bytes" in message
    assert elapsed < 1.0
    write(tmp_path, HEAD + "#" * (MAX_FILE_BYTES - len(HEAD)))
    assert read_yaml(tmp_path / "edge.yaml") == {"site": "clinic", "edge_id": "edge-1"}


def test_a_large_list_under_an_unknown_key_is_refused_quickly(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "nope:\n" + "- 1\n" * 200_000)
    location, message, elapsed = refusal(path)
    assert location == f"{path}:{3 + MAX_ITEMS + 1}:3"  # the 1,001st item
    assert f"a list of more than {MAX_ITEMS} entries" in message
    assert elapsed < 1.0
    location, message, _ = refusal(write(tmp_path, HEAD + "nope:\n" + "- 1\n" * MAX_ITEMS))
    assert (location, message) == ("nope", "unknown key 'nope'")


def test_a_file_at_the_limits_is_checked_within_two_seconds(tmp_path: Path) -> None:
    lists = MAX_NODES // MAX_ITEMS - 1
    body = "".join(f"  - [{','.join(['1'] * MAX_ITEMS)}]\n" for _ in range(lists))
    text = HEAD + "nope:\n" + body + "#" * MAX_FILE_BYTES
    path = write(tmp_path, text[:MAX_FILE_BYTES])
    location, message, elapsed = refusal(path)
    assert (location, message) == ("nope", "unknown key 'nope'")
    assert elapsed < 2.0


def test_a_flood_of_errors_is_summed_up(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(devices=[{}] * 300))  # 4 missing keys each
    assert len(found) == MAX_PROBLEMS + 1
    assert found["(top level)"].startswith(f"and {1200 - MAX_PROBLEMS} more errors")


def test_a_bad_mqtt_url_gets_a_url_hint(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(mqtt={"url": "http://broker/path"}))
    assert "use mqtt://HOST:PORT or mqtts://HOST:PORT" in found["mqtt.url"]
    assert "letters, digits" not in found["mqtt.url"]


def test_an_unknown_variable_is_refused_with_the_closest_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFUSION_EDGE_MQTT_URL", "mqtt://broker:1883")  # one underscore
    monkeypatch.setenv("INFUSION_EDGE_PASSWORD", "x")
    monkeypatch.setenv("INFUSION_EDGE_NOPE", "1")
    found = problems(tmp_path, minimal())
    assert found["INFUSION_EDGE_MQTT_URL"].startswith(
        "unknown setting (did you mean INFUSION_EDGE_MQTT__URL?)"
    )
    assert "did you mean INFUSION_EDGE_MQTT__PASSWORD?" in found["INFUSION_EDGE_PASSWORD"]
    assert "did you mean INFUSION_EDGE_" in found["INFUSION_EDGE_NOPE"]
    assert len(found) == 3


def test_an_unknown_nested_variable_is_refused_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFUSION_EDGE_MQTT__URLL", "mqtt://broker:1883")
    monkeypatch.setenv("INFUSION_EDGE_BEDS__BED_1__LABLE", "Chair 1")
    monkeypatch.setenv("INFUSION_EDGE_DEVICES__0__PORT", "/dev/ttyS3")
    found = problems(tmp_path, minimal())
    assert "did you mean INFUSION_EDGE_MQTT__URL?" in found["INFUSION_EDGE_MQTT__URLL"]
    assert (
        "did you mean INFUSION_EDGE_BEDS__BED_1__LABEL?"
        in found["INFUSION_EDGE_BEDS__BED_1__LABLE"]
    )
    assert "INFUSION_EDGE_DEVICES is set whole, as JSON" in found["INFUSION_EDGE_DEVICES__0__PORT"]
    assert len(found) == 3  # not again as mqtt.urll, beds.bed_1.lable or devices


@pytest.mark.parametrize(
    ("variable", "kind"),
    [
        ("INFUSION_EDGE_DEVICES", "list"),
        ("INFUSION_EDGE_HTTP__USERS", "list"),
        ("INFUSION_EDGE_MQTT", "mapping"),
        ("INFUSION_EDGE_MQTT__TLS", "mapping"),
        ("INFUSION_EDGE_BEDS", "mapping"),
    ],
)
def test_a_list_or_mapping_that_is_not_json_is_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, kind: str
) -> None:
    monkeypatch.setenv(variable, "garbage")
    found = problems(tmp_path, minimal())
    assert list(found) == [variable]
    assert found[variable].startswith(f"a {kind} from the environment must be JSON")


def test_a_bad_value_from_the_environment_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFUSION_EDGE_HTTP__PORT", "99999")
    monkeypatch.setenv("INFUSION_EDGE_DEVICES", '[{"id": "m1"}]')
    found = problems(tmp_path, minimal())
    assert "(from INFUSION_EDGE_HTTP__PORT)" in found["http.port"]
    assert "(from INFUSION_EDGE_DEVICES)" in found["devices[0].bed"]


def test_valid_variables_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFUSION_EDGE_MQTT__PASSWORD", "s3cret")
    monkeypatch.setenv("INFUSION_EDGE_HTTP__SESSION_SECRET", SECRET)
    monkeypatch.setenv("INFUSION_EDGE_HTTP__ACK_SECRET", SECRET)
    monkeypatch.setenv("INFUSION_EDGE_MQTT__TLS", "{}")
    monkeypatch.setenv("INFUSION_EDGE_BEDS__BED_3__LABEL", "Chair 3")
    monkeypatch.setenv("INFUSION_EDGE_ALARMS__BEDS__BED_3__SPO2_LOW__HIGH_BELOW", "80")
    monkeypatch.setenv("INFUSION_EDGE_ACKNOWLEDGEMENTS__DASHBOARDS__NORTH__SECRET", SECRET)
    monkeypatch.setenv("INFUSION_EDGE_PLAUSIBILITY", '{"MDC_RESP_RATE": {"max": 90}}')
    monkeypatch.setenv("infusion_edge_log__level", "DEBUG")  # letter case does not matter
    config = load_config(write(tmp_path, minimal()))
    assert config.mqtt.password is not None
    assert config.http.ack_secret is not None
    assert config.beds["bed_3"].label == "Chair 3"
    assert config.alarms.for_bed("bed_3").spo2_low.high_below == 80
    assert set(config.acknowledgements.dashboards) == {"north"}
    assert config.plausibility["MDC_RESP_RATE"].max == 90  # JSON keeps the case of keys
    assert config.log.level == "DEBUG"


def test_every_variable_named_in_the_project_is_a_setting() -> None:
    """Scripts, deploy files, the Dockerfile, code, docs and tests (bar the three that name
    wrong ones on purpose) name only variables that the config reads."""
    on_purpose = {
        Path(__file__).resolve(),
        REPO / "tests/integration/test_config_cli.py",
        REPO / "docs/biomed/configuration.md",  # shows the error for a misspelt name
    }
    places = ["edge", "drivers", "scripts", "deploy", "bench", "config", "tests", "docs"]
    files = [REPO / "Dockerfile", REPO / "docker-compose.yml"]
    files += [p for place in places for p in (REPO / place).rglob("*") if p.is_file()]
    names = set()
    for path in files:
        if path.resolve() in on_purpose or path.suffix in {".png", ".pyc"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        names |= set(re.findall(rf"{ENV_PREFIX}[A-Z0-9_]*[A-Z0-9]", text))
    assert "INFUSION_EDGE_MQTT__PASSWORD" in names
    check = check_environment(dict.fromkeys(names, "{}"), Config, ENV_PREFIX)
    assert check.problems == []
