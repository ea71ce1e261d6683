"""docker-compose.yml, without a Docker engine: it is valid under the Compose Specification's
JSON Schema (as shipped by the check-jsonschema package), every file it mounts exists, and
the services agree with each other: the edge's config reaches the simulators and the broker,
the demo credentials match the broker's password file, Prometheus and Mosquitto get the files
their configs name."""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import shlex
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.sim.cli import add_arguments as add_simulate_arguments
from edge.config import load_config
from tests.deploy.support import DEPLOY, ROOT, load_yaml

COMPOSE_FILE = ROOT / "docker-compose.yml"
SIMULATORS = ("sim-pump-1", "sim-monitor-1", "sim-pump-2", "sim-monitor-2")
IMAGE_CONFIG_DIR = "/opt/infusion-edge/config/"  # where the Dockerfile copies config/


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _mounts(service: str) -> dict[str, str]:
    """Bind mounts of a service: host path (relative to the repository) -> container path."""
    mounts = {}
    for volume in _services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[source] = target
    return mounts


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _passwords() -> dict[str, str]:
    text = (DEPLOY / "mosquitto" / "passwd").read_text(encoding="utf-8")
    return dict(line.split(":", 1) for line in text.splitlines() if line.strip())


def _password_matches(stored: str, password: str) -> bool:
    """Check a Mosquitto 2 password hash: ``$7$iterations$salt$hash``, PBKDF2-SHA512."""
    _, kind, iterations, salt, digest = stored.split("$")
    assert kind == "7", f"not a mosquitto_passwd PBKDF2-SHA512 hash: {stored[:8]}"
    derived = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return derived == base64.b64decode(digest)


def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (a test extra: pip install -e '.[test]')")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run(
        [*command, str(path)], capture_output=True, text=True, timeout=50, check=False
    )


def test_compose_file_follows_the_compose_specification() -> None:
    result = _check_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_compose_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["edge"]["restart_policy"] = "always"  # not a service key
    broken["services"]["mosquitto"]["ports"] = "1883"  # a string, not a list
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _check_schema(path)
    assert result.returncode == 1
    assert "restart_policy" in result.stdout + result.stderr


def test_every_mounted_file_and_build_input_exists() -> None:
    compose = _compose()
    named = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in named, f"{name} uses undeclared volume {source}"
        for env_file in service.get("env_file", []):
            assert (ROOT / env_file).is_file(), f"{name}: missing env_file {env_file}"
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file()


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_edge_config_is_valid_with_the_demo_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    edge = _services()["edge"]
    environment = {}
    for env_file in edge["env_file"]:
        environment.update(_env_file(ROOT / env_file))
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    (config_file,) = [s for s, t in _mounts("edge").items() if t == edge["command"][-1]]
    config = load_config(ROOT / config_file)
    assert config.mqtt.url == "mqtt://mosquitto:1883"
    assert config.mqtt.username == environment["INFUSION_EDGE_MQTT__USERNAME"]
    assert config.mqtt.password is not None
    assert config.http.bind == "0.0.0.0"
    assert config.http.port == 8080
    assert str(config.storage.outbox_path).startswith("/var/lib/infusion-edge/")
    state = [v for v in edge["volumes"] if v.endswith(":/var/lib/infusion-edge")]
    assert state, "the outbox must live in a volume"


def test_edge_devices_are_the_simulator_services() -> None:
    services = _services()
    edge = services["edge"]
    (config_file,) = [s for s, t in _mounts("edge").items() if t == edge["command"][-1]]
    devices = load_yaml(ROOT / config_file)["devices"]
    served = {}
    for name in SIMULATORS:
        args = dict(arg.removeprefix("--").split("=", 1) for arg in services[name]["command"][1:])
        assert services[name]["command"][0] == "simulate"
        assert args["host"] == "0.0.0.0"
        assert args["scenario"].startswith(IMAGE_CONFIG_DIR)
        assert (ROOT / "config" / args["scenario"].removeprefix(IMAGE_CONFIG_DIR)).is_file()
        served[(name, int(args["tcp"]))] = args["driver"]
        assert name in edge["depends_on"]
    wanted = {}
    for device in devices:
        url = urllib.parse.urlsplit(device["port"])
        assert url.scheme == "socket"
        wanted[(url.hostname, url.port)] = device["driver"]
    assert wanted == served


def test_demo_credentials_match_the_broker_password_file() -> None:
    passwords = _passwords()
    assert set(passwords) == {"edge", "dashboard"}
    edge_env = _env_file(DEPLOY / "compose" / "demo.env")
    user = edge_env["INFUSION_EDGE_MQTT__USERNAME"]
    assert _password_matches(passwords[user], edge_env["INFUSION_EDGE_MQTT__PASSWORD"])
    broker_env = _services()["mosquitto"]["environment"]
    probe_user = broker_env["MQTT_HEALTHCHECK_USER"]
    assert _password_matches(passwords[probe_user], broker_env["MQTT_HEALTHCHECK_PASSWORD"])
    assert not _password_matches(passwords["edge"], "dashboard-demo-only")


def test_mosquitto_gets_the_files_its_config_names() -> None:
    mounts = _mounts("mosquitto")
    conf = mounts["./deploy/mosquitto/mosquitto.conf"]
    assert conf == "/mosquitto/config/mosquitto.conf"  # the image's default config path
    settings = dict(
        line.split(None, 1)
        for line in (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert settings["password_file"] == mounts["./deploy/mosquitto/passwd"]
    assert settings["acl_file"] == mounts["./deploy/mosquitto/acl"]
    assert settings["allow_anonymous"] == "false"
    healthcheck = " ".join(_services()["mosquitto"]["healthcheck"]["test"][1:])
    assert "$$SYS/broker/uptime" in healthcheck


def test_prometheus_gets_its_config_and_rules() -> None:
    service = _services()["prometheus"]
    mounts = _mounts("prometheus")
    config_path = mounts["./deploy/prometheus/prometheus.yml"]
    assert f"--config.file={config_path}" in service["command"]
    rules = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["rule_files"]
    for rule_file in rules:
        assert mounts[f"./deploy/prometheus/{rule_file}"] == str(
            Path(config_path).parent / rule_file
        )


def test_services_have_healthchecks_where_one_can_probe() -> None:
    services = _services()
    for name in ("mosquitto", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    for name in SIMULATORS:  # a probe would take the simulator's only client slot
        assert services[name]["healthcheck"] == {"disable": True}
    assert "healthcheck" not in services["edge"]  # the image's HEALTHCHECK on /healthz
    assert services["edge"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"


def test_simulator_commands_are_valid_for_infusion_edge_simulate() -> None:
    """Each simulator's arguments parse as ``infusion-edge simulate`` arguments."""
    for name in SIMULATORS:
        command = [
            arg.replace(IMAGE_CONFIG_DIR, f"{ROOT}/config/") for arg in _services()[name]["command"]
        ]
        assert command[0] == "simulate"
        parser = argparse.ArgumentParser(prog="infusion-edge simulate", exit_on_error=False)
        add_simulate_arguments(parser)
        args = parser.parse_args(command[1:])
        assert args.tcp == 4001, shlex.join(command)
        assert args.scenario.is_file()
