"""Prometheus metrics: names, bounded labels, zero from the start, no clinical values, and
`promtool check metrics` clean."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drivers.readings import Observation, VitalsReading
from edge.alarms.engine import AlarmEngine
from edge.bus import Bus
from edge.clock import SystemClock
from edge.config import Config
from edge.device_state import DeviceState
from edge.items import OutputItem
from edge.metrics import EdgeMetrics
from edge.publish.ack_signing import Verdict
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import MessageClass, NewMessage, Outbox

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONFIG = Config(
    site="clinic",
    edge_id="edge-1",
    beds={"bed-1": {}, "bed-2": {}},
    devices=[
        {"id": "monitor-1", "bed": "bed-1", "driver": "textline", "port": "/dev/ttyS30"},
        {
            "id": "pump-1",
            "bed": "bed-1",
            "driver": "bbraun_bcc",
            "port": "/dev/ttyS31",
            "address": "11",
        },
        {
            "id": "pump-2",
            "bed": "bed-2",
            "driver": "bbraun_bcc",
            "port": "/dev/ttyS31",
            "address": "12",
        },
    ],
)


@pytest.fixture
async def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path / "outbox.sqlite", max_messages=100, max_age_s=3600)
    await box.open()
    return box


def metrics_for(outbox: Outbox, counters: PublisherCounters) -> EdgeMetrics:
    engine = AlarmEngine.from_config(CONFIG, SystemClock())
    return EdgeMetrics(CONFIG, "0.1.0", lambda: counters, outbox, engine)


def value(metrics: EdgeMetrics, name: str, **labels: str) -> float:
    for sample_labels, sample_value in metrics.samples()[name]:
        if sample_labels == labels:
            return sample_value
    raise KeyError((name, labels))


async def test_every_series_exists_at_zero_with_bounded_labels(outbox: Outbox) -> None:
    try:
        metrics = metrics_for(outbox, PublisherCounters())
        families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
        assert families["infusion_edge_device_connected"].samples[0].value == 0
        devices = {s.labels["device"] for s in families["infusion_edge_device_connected"].samples}
        assert devices == {"monitor-1", "pump-1", "pump-2"}
        links = {s.labels["link"] for s in families["infusion_edge_link_frames"].samples}
        assert links == {"device[monitor-1]", "link[/dev/ttyS31]"}
        raised = families["infusion_edge_alarms_raised"].samples
        assert {s.labels["priority"] for s in raised} == {"high", "medium", "low"}
        assert all(s.name.endswith("_total") for s in raised)
        assert families["infusion_edge_build_info"].samples[0].labels == {"version": "0.1.0"}
        acks = {s.labels["result"]: s.value for s in families["infusion_edge_mqtt_acks"].samples}
        assert acks == dict.fromkeys(
            [
                "accepted",
                "unsigned",
                "unknown_dashboard",
                "bad_signature",
                "stale",
                "replayed",
                "malformed",
            ],
            0,
        )
    finally:
        await outbox.close()


async def test_values_follow_the_daemon(outbox: Outbox) -> None:
    try:
        counters = PublisherCounters(connected=True, delivered=7, refused=1, stalls=3)
        counters.acks[Verdict.BAD_SIGNATURE] += 2
        metrics = metrics_for(outbox, counters)
        bus: Bus[OutputItem] = Bus()
        items = bus.subscribe("metrics")
        await bus.publish(
            DeviceState(
                device_id="pump-2",
                bed="bed-2",
                driver="bbraun_bcc",
                connection="online",
                since=NOW,
                last_reading_at=None,
                frames_ok=40,
                frames_bad=3,
                reconnects=2,
            )
        )
        await bus.publish(
            VitalsReading(
                device_id="monitor-1",
                bed="bed-1",
                ts=NOW,
                observations=(
                    Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=182, unit="mm[Hg]"),
                ),
            )
        )
        await bus.close()
        await metrics.consume(items)
        await outbox.put([NewMessage("t", b"x", MessageClass.TELEMETRY)])
        assert value(metrics, "device_connected", device="pump-2", bed="bed-2") == 1
        assert value(metrics, "link_frames", link="link[/dev/ttyS31]", result="bad") == 3
        assert value(metrics, "link_reconnects", link="link[/dev/ttyS31]") == 2
        assert (
            value(metrics, "device_last_reading_timestamp_seconds", device="monitor-1", bed="bed-1")
            == NOW.timestamp()
        )
        assert value(metrics, "mqtt_publishes", result="refused") == 1
        assert value(metrics, "mqtt_stalls") == 3
        assert value(metrics, "mqtt_acks", result="bad_signature") == 2
        assert value(metrics, "mqtt_acks", result="accepted") == 0
        assert value(metrics, "outbox_messages") == 1
        text = metrics.render().decode()
        samples = [line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")]
        assert all(float(v) != 182 for _, v in samples)  # no clinical value reaches a metric
        assert all("182" not in name for name, _ in samples)
    finally:
        await outbox.close()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
async def test_promtool_accepts_the_exposition(outbox: Outbox) -> None:
    try:
        text = metrics_for(outbox, PublisherCounters()).render()
        result = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, check=False
        )
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
        assert result.stdout.decode().strip() == ""  # no lint warnings either
    finally:
        await outbox.close()


async def test_implausible_values_are_counted_per_device_from_its_state(outbox: Outbox) -> None:
    try:
        metrics = metrics_for(outbox, PublisherCounters())
        for device, bed in (("monitor-1", "bed-1"), ("pump-1", "bed-1"), ("pump-2", "bed-2")):
            assert value(metrics, "observations_implausible", device=device, bed=bed) == 0
        state = DeviceState(
            device_id="pump-1",
            bed="bed-1",
            driver="bbraun_bcc",
            connection="online",
            since=NOW,
            last_reading_at=NOW,
            frames_ok=5,
            frames_bad=0,
            reconnects=0,
            implausible=4,
        )
        assert "implausible" not in state.model_dump()  # to the metrics, not into MQTT
        bus: Bus[OutputItem] = Bus()
        items = bus.subscribe("metrics")
        await bus.publish(state)
        await bus.close()
        await metrics.consume(items)
        assert value(metrics, "observations_implausible", device="pump-1", bed="bed-1") == 4
        assert value(metrics, "observations_implausible", device="pump-2", bed="bed-2") == 0
    finally:
        await outbox.close()


async def test_storage_faults_and_the_memory_tier_are_exposed(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the outbox's directory should be")
    box = Outbox(blocker / "outbox.sqlite", max_messages=100, max_age_s=3600)
    await box.open()
    try:
        engine = AlarmEngine.from_config(CONFIG, SystemClock())
        faults = {"outbox": box.faulted, "alarm_log": False}
        metrics = EdgeMetrics(CONFIG, "0.1.0", PublisherCounters, box, engine, lambda: dict(faults))
        await box.put([NewMessage("t", b"x", MessageClass.TELEMETRY)] * 3)
        assert value(metrics, "storage_fault", store="outbox") == 1
        assert value(metrics, "storage_fault", store="alarm_log") == 0
        assert value(metrics, "outbox_memory_messages") == 3
        assert value(metrics, "outbox_messages") == 3
        assert 'infusion_edge_storage_fault{store="outbox"} 1.0' in metrics.render().decode()
    finally:
        await box.close()
