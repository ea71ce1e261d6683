"""Smoke runs of the benchmark harnesses, so they cannot rot; the figures are not checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import baselines, floor, publish, run_all, stages
from bench.alarm_latency import alarm_latency
from bench.common import spread
from bench.http_flood import http_flood
from bench.pipeline import Point, measure_point
from bench.station import station
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_run_all_never_writes_the_curated_results_unless_told() -> None:
    default = run_all.parse([]).output
    assert default.name == "latest.md"
    assert default.parent == Path(run_all.__file__).parent
    told = run_all.parse(["--output", "bench/RESULTS.md"]).output
    assert told == Path("bench/RESULTS.md")


async def test_publish_benchmark_runs() -> None:
    table = await publish.main(300)
    assert "| outbox, replay after an outage |" in table


async def test_stages_benchmark_runs() -> None:
    table = await stages.main(runs=1, readings=30)
    assert "| alarm engine on_reading |" in table


async def test_link_floor_polls_every_link_at_its_rate() -> None:
    result = await floor.link_floor(links=4, rate_hz=5.0, seconds=2.0)
    assert 14 <= result.exchanges_per_s <= 26  # 4 links x 5 Hz, one grid step either side
    assert result.cpu_us_per_exchange > 0


def test_floor_table_sums_the_parts_and_sets_them_against_the_target() -> None:
    stage = {name: spread([10.0]) for name in stages.STAGES}  # 10 µs each
    label = "N=200, real rates (1 Hz)"
    links = {label: floor.LinkFloor(200, 1.0, 200.0, 50.0)}
    point = Point(200, 200.0, 5.0, 10.0, 0.7, 60.0, 0.1, 100, 0, 0, 0)  # 700 µs a reading
    text = "\n".join(run_all._floor_text((links, 60.0), stage, {label: [point]}, 10_000.0))
    # 50 link + 60 publish + (10 conversation + 10 alarms + 10 JSON + 10 put) = 150 µs;
    # the daemon 700 µs = 4.7x the floor; the target 250 µs, the floor 0.60 of it
    assert f"| {label} | 50.0 | 150 | 700 | 4.7 | 250 | 0.60 |" in text


async def test_baseline_at_the_subscriber_counts_every_message(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        rate = await baselines.bare_aiomqtt_delivered(broker.port, 200, 20)
    finally:
        broker.stop()
    assert rate > 0  # it raises unless the subscriber received all 200


async def test_pipeline_benchmark_delivers_every_reading(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        point = await measure_point(2, 3.0, broker, tmp_path / "ward")
    finally:
        broker.stop()
    assert point.exit_code == 0
    assert point.readings_per_s > 0
    assert point.last_seq > 0
    assert (point.missing, point.duplicates) == (0, 0)


async def test_alarm_latency_benchmark_sees_the_occlusion_alarm(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        result = await alarm_latency(
            2, broker, tmp_path / "ward", first_s=10.0, spread_s=1.0, settle_s=5.0
        )
    finally:
        broker.stop()
    assert result.occlusion_alarms == 1  # the one bed's pump
    assert 0 < result.p50_ms < 10_000


async def test_http_flood_benchmark_answers_the_nurse(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        result = await http_flood(
            2,
            broker,
            tmp_path / "ward",
            idle=20,
            streams=20,
            sessions=2,
            first_s=10.0,
            spread_s=4.0,  # 2 s blocks: a few readings of the 2 devices fall in each
            settle_s=4.0,
            blocks=2,
        )
    finally:
        broker.stop()
    # the one bed's occlusion, acknowledged (in the quiet block or the flood after it)
    assert len(result.acks_ms["quiet"]) + len(result.acks_ms["flood"]) == 1
    assert result.streams == {200: 16, 429: 4}  # 8 per login
    assert result.idle_opened >= 20
    assert result.rss_mb["flood"] > 0
    assert result.telemetry_ms["quiet"]
    assert result.telemetry_ms["flood"]


async def test_hl7_throughput_benchmark_runs() -> None:
    from bench import hl7_throughput

    table = await hl7_throughput.main(50)
    assert "| HL7 path, replay of a full queue |" in table


async def test_station_benchmark_draws_the_ward() -> None:
    results = await station(1, 3, 1.5)
    assert [(r.view, r.phase) for r in results] == [
        ("grid", "quiet"),
        ("grid", "load"),
        ("station", "quiet"),
        ("station", "load"),
    ]
    assert all(r.fps > 0 and r.heap_mb > 0 for r in results)
    assert results[1].published > 0
