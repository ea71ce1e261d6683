"""Config loading: every example loads; every kind of mistake is refused with its location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.cli import main
from edge.config import Config, ConfigError, load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("*.yaml"))


def minimal(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "site": "clinic",
        "edge_id": "edge-1",
        "beds": {"bed-1": {}, "bed-2": {}},
        "devices": [
            {"id": "pump-1", "bed": "bed-1", "driver": "textline", "port": "/dev/ttyS10"},
            {"id": "monitor-1", "bed": "bed-1", "driver": "textline", "port": "/dev/ttyS11"},
        ],
    }
    config.update(overrides)
    return config


def write(tmp_path: Path, data: dict[str, Any] | str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def problems(tmp_path: Path, data: dict[str, Any] | str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    return {p.location: f"{p.message} | {p.hint}" for p in caught.value.problems}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.devices
    for device in config.devices:
        assert device.bed in config.beds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_passes_config_check_without_warnings(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok" in out
    assert "warning" not in out


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"demo.yaml", "ketamine-clinic.yaml"}


@pytest.mark.parametrize("name", ["ketamine-clinic.yaml", "demo.yaml"])
def test_the_clinic_examples_are_five_beds_each_with_pump_monitor_and_order(name: str) -> None:
    config = load_config(CONFIG_DIR / name)
    assert len(config.beds) == 5
    for bed_id, bed in config.beds.items():
        assert bed.order is not None
        drivers = sorted(d.driver for d in config.devices if d.bed == bed_id)
        if bed_id == "chair-5":  # a GE monitor and a Masimo oximeter
            assert drivers == ["bbraun_bcc", "ge_dri", "masimo_ascii"]
        else:
            assert drivers == ["bbraun_bcc", "intellivue"]


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()))
    assert config.mqtt.topic_prefix == "infusion-edge/v1"
    assert config.mqtt.protocol == "5"
    assert config.alarms.hypertension.medium_systolic == 160
    assert config.alarms.hypertension.extreme_diastolic == 120
    assert config.alarms.rate_deviation.high_pct == 25
    assert config.alarms.spo2_low.high_below == 85
    assert config.devices[0].timeout_s == 10


def test_infusion_order_implies_a_rate() -> None:
    order = {
        "drug": "Ketamine",
        "concentration_mg_per_ml": 1.0,
        "dose_mg_per_kg": 0.5,
        "weight_kg": 70,
        "duration_min": 40,
    }
    config = Config(**minimal(beds={"bed-1": {"order": order}}))
    bed_order = config.beds["bed-1"].order
    assert bed_order is not None
    assert bed_order.rate_ml_per_h() == pytest.approx(52.5)  # 35 mL over 40 min


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFUSION_EDGE_MQTT__URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("INFUSION_EDGE_MQTT__PASSWORD", "s3cret")
    monkeypatch.setenv("INFUSION_EDGE_LOG__LEVEL", "DEBUG")
    config = load_config(write(tmp_path, minimal(mqtt={"username": "edge"})))
    assert config.mqtt.url == "mqtts://broker.example:8883"
    assert config.mqtt.username == "edge"  # the file's other keys survive
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)
    assert config.log.level == "DEBUG"


def test_environment_values_are_validated_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFUSION_EDGE_HTTP__PORT", "99999")
    assert "http.port" in problems(tmp_path, minimal())


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(mqtt={"urll": "mqtt://x:1"}, sitee="x"))
    assert "unknown key 'urll'" in found["mqtt.urll"]
    assert "did you mean 'url'" in found["mqtt.urll"]
    assert "sitee" in found
    device = minimal()["devices"][0] | {"baud": 9600}
    found = problems(tmp_path, minimal(devices=[device]))
    assert "unknown key 'baud'" in found["devices[0].baud"]


def test_duplicate_device_ids(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[1]["id"] = "pump-1"
    found = problems(tmp_path, minimal(devices=devices))
    assert "duplicate device id 'pump-1' (first at devices[0])" in found["devices[1].id"]


def test_two_devices_on_one_port(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[1]["port"] = devices[0]["port"]
    found = problems(tmp_path, minimal(devices=devices))
    assert "serves one device per port" in found["devices[1].port"]


def test_one_port_reached_by_two_names_is_one_port(tmp_path: Path) -> None:
    target = tmp_path / "ttyUSB0"
    target.touch()
    alias = tmp_path / "usb-FTDI-by-id"
    alias.symlink_to(target)
    devices = minimal()["devices"]
    devices[0]["port"], devices[1]["port"] = str(target), str(alias)
    assert "devices[1].port" in problems(tmp_path, minimal(devices=devices))


def test_undeclared_bed(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0]["bed"] = "bed-9"
    found = problems(tmp_path, minimal(devices=devices))
    assert "bed 'bed-9' is not declared" in found["devices[0].bed"]


def test_unknown_driver(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0]["driver"] = "alaris"
    found = problems(tmp_path, minimal(devices=devices))
    assert "unknown driver 'alaris'" in found["devices[0].driver"]


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ({"baudrate": 9601}, "not a serial baud rate"),
        ({"bytesize": 9}, "Input should be 5, 6, 7 or 8"),
        ({"parity": "X"}, "Input should be"),
        ({"stopbits": 3}, "stopbits must be 1, 1.5 or 2"),
        ({"stopbits": 1.5, "bytesize": 8}, "1.5 stop bits exist only with 5 data bits"),
        ({"rtscts": True, "xonxoff": True}, "choose one flow control"),
    ],
)
def test_impossible_serial_settings(tmp_path: Path, serial: dict[str, Any], expected: str) -> None:
    devices = minimal()["devices"]
    devices[0]["serial"] = serial
    found = problems(tmp_path, minimal(devices=devices))
    assert any(
        loc.startswith("devices[0].serial") and expected in text for loc, text in found.items()
    ), found


def test_limits_in_the_wrong_order(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(alarms={"hypertension": {"high_systolic": 150}}))
    assert "high_systolic (150) must be above medium_systolic (160)" in found["alarms.hypertension"]
    found = problems(tmp_path, minimal(alarms={"spo2_low": {"high_below": 92}}))
    assert "medium_below (90) must be above high_below (92)" in found["alarms.spo2_low"]


def test_per_bed_overrides_merge_and_are_checked(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path, minimal(alarms={"beds": {"bed-2": {"hypertension": {"rise_systolic": 45}}}})
        )
    )
    assert config.alarms.for_bed("bed-2").hypertension.rise_systolic == 45
    assert config.alarms.for_bed("bed-2").hypertension.medium_systolic == 160
    assert config.alarms.for_bed("bed-1").hypertension.rise_systolic == 40
    bad = {"beds": {"bed-2": {"hypertension": {"high_systolic": 155}}}}
    found = problems(tmp_path, minimal(alarms=bad))
    assert "must be above" in found["alarms.beds.bed-2.hypertension"]
    found = problems(tmp_path, minimal(alarms={"beds": {"bed-7": {}}}))
    assert "not declared" in found["alarms.beds.bed-7"]


def test_ids_must_be_safe_in_mqtt_topics(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0]["id"] = "pump/1+"
    found = problems(tmp_path, minimal(devices=devices))
    assert "no spaces, '/', '+', '#'" in found["devices[0].id"]


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0]["bed"] = "bed-9"
    devices[1]["id"] = "pump-1"
    devices[1]["port"] = devices[0]["port"]
    found = problems(tmp_path, minimal(devices=devices))
    assert {"devices[0].bed", "devices[1].id", "devices[1].port"} <= set(found)


def test_stale_must_come_before_offline(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0] |= {"stale_after_s": 20, "timeout_s": 10}
    found = problems(tmp_path, minimal(devices=devices))
    assert "must be below timeout_s" in found["devices[0]"]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    found = problems(tmp_path, "site: clinic\nedge_id: [oops\n")
    (location,) = found
    assert location.endswith(":3:1") or ":2:" in location
    assert "not valid YAML" in found[location]


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, "site: a\nedge_id: e\nsite: b\n")
    assert any("duplicate key 'site'" in text for text in found.values())


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    assert any("expected a mapping" in text for text in problems(tmp_path, "- a\n- b\n").values())


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, minimal())
    assert main(["config", "check", str(good)]) == 0
    assert "ok (2 beds, 2 devices)" in capsys.readouterr().out
    devices = minimal()["devices"]
    devices[1]["id"] = "pump-1"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(minimal(devices=devices, mqtt={"port": 1})))
    assert main(["config", "check", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml: 2 errors" in err
    assert "devices[1].id: duplicate device id 'pump-1'" in err
    assert "mqtt.port: unknown key 'port'" in err


def test_cli_schema_is_the_config_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"site", "edge_id", "mqtt", "devices", "beds", "alarms"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_addresses_follow_the_driver(tmp_path: Path) -> None:
    rack = [
        {
            "id": f"pump-{n}",
            "bed": "bed-1",
            "driver": "bbraun_bcc",
            "port": "/dev/ttyS20",
            "address": slot,
        }
        for n, slot in enumerate(["11", "12", "12", "4Z"])
    ]
    rack.append({"id": "pump-9", "bed": "bed-2", "driver": "bbraun_bcc", "port": "/dev/ttyS21"})
    devices = [*minimal()["devices"], *rack]
    devices[0]["address"] = "1"
    found = problems(tmp_path, minimal(devices=devices))
    assert "does not use addresses" in found["devices[0].address"]
    assert "address '12' on port '/dev/ttyS20' is also 'pump-1'" in found["devices[4].address"]
    assert "cannot use address '4Z'" in found["devices[5].address"]
    assert "needs an address" in found["devices[6].address"]
    assert "'11', '1A'" in found["devices[6].address"]  # the hint explains the slot format


def test_a_rack_of_pumps_shares_one_port(tmp_path: Path) -> None:
    rack = [
        {
            "id": f"pump-{n}",
            "bed": "bed-1",
            "driver": "bbraun_bcc",
            "port": "/dev/ttyS20",
            "address": slot,
        }
        for n, slot in enumerate(["11", "12", "13", "14"])
    ]
    config = load_config(write(tmp_path, minimal(devices=rack)))
    assert [d.address for d in config.devices] == ["11", "12", "13", "14"]


def bcc_pump(**fields: Any) -> dict[str, Any]:
    pump = {"id": "pump-1", "bed": "bed-1", "driver": "bbraun_bcc", "port": "/dev/ttyS20"}
    return pump | {"address": "11"} | fields


def test_a_timeout_shorter_than_the_poll_period_allows_is_refused_naming_both_keys(
    tmp_path: Path,
) -> None:
    pumps = [bcc_pump(options={"poll_period_s": 8}, timeout_s=10)]
    found = problems(tmp_path, minimal(devices=pumps))
    assert set(found) == {"devices[0].timeout_s"}
    text = found["devices[0].timeout_s"]
    assert "below the 16 s this device needs with devices[0].options.poll_period_s" in text
    assert "raise devices[0].timeout_s to at least 16" in text


def test_a_stale_time_below_the_poll_period_is_refused(tmp_path: Path) -> None:
    pumps = [bcc_pump(options={"poll_period_s": 4}, stale_after_s=3, timeout_s=20)]
    found = problems(tmp_path, minimal(devices=pumps))
    text = found["devices[0].stale_after_s"]
    assert "below the device's reporting period (4 s, from devices[0].options.poll_period_s)" in (
        text
    )


def test_the_intellivue_floor_leaves_time_for_one_reassociation(tmp_path: Path) -> None:
    monitor = {"id": "monitor-1", "bed": "bed-1", "driver": "intellivue", "port": "/dev/ttyS9"}
    found = problems(tmp_path, minimal(devices=[monitor | {"timeout_s": 6}]))
    text = found["devices[0].timeout_s"]
    assert "below the 7 s" in text
    assert "devices[0].options.poll_timeout_s and devices[0].options.association_retry_s" in text
    load_config(write(tmp_path, minimal(devices=[monitor | {"timeout_s": 7}])))


def test_a_configured_period_sets_the_floor(tmp_path: Path) -> None:
    devices = minimal()["devices"]
    devices[0] |= {"period_s": 5, "timeout_s": 8}
    found = problems(tmp_path, minimal(devices=devices))
    assert (
        "below the 10 s this device needs with devices[0].period_s"
        in (found["devices[0].timeout_s"])
    )


def test_stale_timing_follows_the_configured_poll_period(tmp_path: Path) -> None:
    pumps = [
        bcc_pump(options={"poll_period_s": 5}),  # timeout 10: stale at 1.5 periods, not 5 s
        bcc_pump(id="pump-2", address="12", options={"poll_period_s": 1}),
        bcc_pump(id="pump-3", address="13", options={"poll_period_s": 6}, timeout_s=30),
    ]
    config = load_config(write(tmp_path, minimal(devices=pumps)))
    driver = config.driver_for(config.devices[0])
    periods = [device.expected_period(driver) for device in config.devices]
    stale = [device.stale_after(driver) for device in config.devices]
    assert periods == [5.0, 1.0, 6.0]
    assert stale == [7.5, 3.0, 15.0]
    assert all(s > p for s, p in zip(stale, periods, strict=True))
