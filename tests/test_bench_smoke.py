"""Smoke runs of the benchmark harnesses, so they cannot rot; the figures are not checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import publish, stages
from bench.pipeline import measure_point
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


async def test_publish_benchmark_runs() -> None:
    table = await publish.main(300)
    assert "| outbox, replay after an outage |" in table


async def test_stages_benchmark_runs() -> None:
    table = await stages.main(runs=1, readings=30)
    assert "| alarm engine on_reading |" in table


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
