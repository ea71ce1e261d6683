"""Detection latency of the delivered-rate estimate (docs/biomed/alarms.md's table), and ``config
check``'s warning for a pump polled too slowly for its rate rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.alarms.rate_latency import TARGETS, detection_latency, slow_rate_rules
from edge.cli import main


@pytest.mark.parametrize(("factor", "level"), [(1.3, "high"), (0.7, "high")])
@pytest.mark.parametrize("rate", [50.0, 60.0])
def test_over_25_percent_is_detected_within_30_s_at_a_1_s_poll(
    rate: float, factor: float, level: str
) -> None:
    latency = detection_latency(rate, 1.0, factor, level)
    assert latency is not None
    assert latency <= 30


@pytest.mark.parametrize(("factor", "level"), [(1.12, "medium"), (0.88, "medium")])
@pytest.mark.parametrize("rate", [50.0, 60.0])
def test_over_10_percent_is_detected_within_60_s_at_a_1_s_poll(
    rate: float, factor: float, level: str
) -> None:
    latency = detection_latency(rate, 1.0, factor, level)
    assert latency is not None
    assert latency <= 60


def test_a_slower_poll_detects_later() -> None:
    fast = detection_latency(50.0, 1.0, 0.88, "medium")
    slow = detection_latency(50.0, 5.0, 0.88, "medium")
    assert fast is not None
    assert slow is not None
    assert slow > 60 > fast


def test_slow_rate_rules_names_each_level_once() -> None:
    assert slow_rate_rules("pump-1", 1.0, 54.0) == []
    warnings = slow_rate_rules("pump-1", 5.0, 54.0)
    assert len(warnings) == len(TARGETS)
    assert all(w.startswith("pump-1: polled every 5 s") for w in warnings)
    assert "rate_deviation high level" in warnings[0]
    assert "rate_deviation medium level" in warnings[1]


def test_config_check_warns_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pump = {"id": "pump-1", "bed": "bed-1", "driver": "bbraun_bcc", "port": "/dev/ttyS10"}
    config: dict[str, Any] = {
        "site": "clinic",
        "edge_id": "edge-1",
        "beds": {"bed-1": {}},
        "devices": [{**pump, "address": "11", "options": {"poll_period_s": 5}}],
    }
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump(config))
    assert main(["config", "check", str(slow)]) == 0
    out = capsys.readouterr().out
    assert "slow.yaml: ok (1 beds, 1 devices)" in out
    assert "warning: pump-1: polled every 5 s" in out
    assert "poll_period_s" in out
    config["devices"][0]["options"] = {"poll_period_s": 1}
    slow.write_text(yaml.safe_dump(config))
    assert main(["config", "check", str(slow)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_the_bench_table_has_a_row_per_rate_and_poll() -> None:
    from bench.rate_detection import table

    text = table([50.0], [1.0, 2.0])
    assert text.count("| 50 mL/h |") == 2
    assert "| +30% (high) |" in text
