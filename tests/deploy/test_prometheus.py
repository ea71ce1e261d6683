"""The Prometheus alert rules and config: promtool accepts them, the rules' unit tests pass, and
every alert is well formed, tested both ways and built on metrics the edge really exposes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import DEPLOY, EDGE_METRICS, load_yaml, metric_names, require_tool

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"

REQUIRED_ALERTS = {
    "EdgeDown": "critical",
    "DeviceFeedDown": "warning",
    "BrokerDisconnected": "critical",
    "OutboxGrowing": "warning",
    "OutboxBacklogOld": "warning",
    "OutboxDroppingTelemetry": "warning",
    "OutboxDroppingAlarms": "critical",
    "MqttPublishRefused": "warning",
    "LinkErrors": "warning",
    "StorageFault": "warning",
    "ClinicalOutputBacklogOld": "warning",
    "ClinicalOutputDropping": "warning",
    "ClinicalOutputQueueFault": "warning",
    "DashboardBrokerDisconnected": "critical",
    "DashboardLoginFailures": "warning",
    "DashboardStreamsRefused": "warning",
}
# Labels an annotation may print: targets, and the edge's bounded labels (ids from the config,
# fixed sets). Nothing else can reach an operator's message.
PRINTABLE_LABELS = {
    "instance", "job", "device", "bed", "link", "class", "result", "priority", "store",
    "output", "kind",
}  # fmt: skip
PROMTOOL_WHY = "Debian package prometheus; scripts/setup --test installs it"


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool", PROMTOOL_WHY)
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=50, check=False
    )


def _alerts() -> list[dict[str, Any]]:
    groups = load_yaml(RULES)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules_fails_when_a_rule_changes(tmp_path: Path) -> None:
    """The unit tests hold the rules to their thresholds: loosen one and they fail."""
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    loosened = RULES.read_text().replace(
        'increase(infusion_edge_outbox_dropped_total{class="alarm"}[1h])',
        'increase(infusion_edge_outbox_dropped_total{class="alarm"}[10m])',
    )
    assert loosened != RULES.read_text()
    (tmp_path / RULES.name).write_text(loosened)
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "OutboxDroppingAlarms" in result.stdout + result.stderr


def test_promtool_check_config() -> None:
    result = _promtool("check", "config", CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_alert_is_there_with_its_severity() -> None:
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in _alerts()}
    assert severities == REQUIRED_ALERTS


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_alert_tells_an_operator_what_to_check(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description"}
    assert len(annotations["summary"]) <= 80
    assert len(annotations["description"]) >= 120, "say what to check, not only what broke"
    printed = set(re.findall(r"\$labels\.(\w+)", " ".join(annotations.values())))
    assert printed <= PRINTABLE_LABELS


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_alert_uses_only_metrics_the_edge_exposes(rule: dict[str, Any]) -> None:
    used = metric_names(rule["expr"])
    assert used, rule["expr"]
    assert used <= EDGE_METRICS | {"up"}, used - EDGE_METRICS


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [case for test in load_yaml(RULE_TESTS)["tests"] for case in test["alert_rule_test"]]
    for name in REQUIRED_ALERTS:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name}: no case where it fires"
        assert any(not case["exp_alerts"] for case in mine), f"{name}: no case where it is quiet"
        for case in mine:
            for alert in case["exp_alerts"]:
                assert alert["exp_labels"]["severity"] == REQUIRED_ALERTS[name]
                assert set(alert["exp_annotations"]) == {"summary", "description"}


def test_prometheus_scrapes_the_edge_job_and_loads_the_rules() -> None:
    config = load_yaml(CONFIG)
    assert config["rule_files"] == [RULES.name]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    edge = jobs["infusion-edge"]
    assert edge.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for static in edge["static_configs"] for target in static["targets"]]
    assert targets == ["edge:8080"]  # the compose service and the port of its config
    assert 'up{job="infusion-edge"}' in RULES.read_text()
