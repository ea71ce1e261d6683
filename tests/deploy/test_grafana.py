"""The Grafana dashboard and its provisioning: the JSON loads, shows technical health from the
edge's own metrics only, its queries parse, and the provisioning finds it in the compose stack."""

from __future__ import annotations

import json
import re
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import DEPLOY, EDGE_METRICS, ROOT, load_yaml, metric_names, require_tool

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "infusion-edge.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "infusion-edge.yml"

# Prometheus's own series: a target's health, and the alerts of deploy/prometheus/alerts.yml.
PROMETHEUS_SERIES = {"up", "ALERTS"}
MUST_SHOW = {
    "infusion_edge_device_connected",
    "infusion_edge_link_frames_total",
    "infusion_edge_outbox_messages",
    "infusion_edge_outbox_oldest_age_seconds",
    "infusion_edge_outbox_dropped_total",
    "infusion_edge_mqtt_publishes_total",
    "infusion_edge_alarms_active",
}
# Grafana's variables, as they expand for "all edges, all beds" over the last hour.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$instance": ".*",
    "$bed": ".*",
}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _expressions() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def test_dashboard_is_an_editable_file_with_a_stable_uid() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "infusion-edge"
    assert "no clinical values" in dashboard["description"].lower()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap() -> None:
    boxes = [panel["gridPos"] for panel in _dashboard()["panels"]]
    for box in boxes:
        assert box["x"] >= 0
        assert box["x"] + box["w"] <= 24
    for a, b in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, (a, b)


def test_queries_use_only_the_edges_metrics() -> None:
    used = set().union(*(metric_names(expr) for expr in _expressions()))
    assert used <= EDGE_METRICS | PROMETHEUS_SERIES, used - EDGE_METRICS
    assert used >= MUST_SHOW, MUST_SHOW - used
    variables = [v["definition"] for v in _dashboard()["templating"]["list"] if "definition" in v]
    for definition in variables:
        inner = re.fullmatch(r"label_values\((.*), \w+\)", definition)
        assert inner, definition
        assert metric_names(inner.group(1)) <= EDGE_METRICS


def test_every_panel_has_a_title_a_description_and_the_datasource_variable() -> None:
    templating = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert templating["datasource"]["type"] == "datasource"
    assert templating["datasource"]["query"] == "prometheus"
    for panel in _panels():
        assert panel["title"], panel["id"]
        assert panel["description"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]


def test_queries_parse(tmp_path: Path) -> None:
    """Each query, with Grafana's variables expanded, as a recording rule for promtool."""
    promtool = require_tool("promtool", "Debian package prometheus; scripts/setup --test")
    rules = []
    for number, expr in enumerate(_expressions()):
        for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_datasource_is_the_compose_prometheus() -> None:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True


def test_provisioning_points_at_the_mounted_dashboards() -> None:
    (provider,) = load_yaml(PROVIDERS)["providers"]
    grafana = load_yaml(ROOT / "docker-compose.yml")["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


@pytest.mark.parametrize("path", [DATASOURCES, PROVIDERS], ids=lambda path: path.name)
def test_provisioning_files_have_api_version_1(path: Path) -> None:
    assert load_yaml(path)["apiVersion"] == 1
