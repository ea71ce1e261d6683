"""Smoke runs of the benchmark harnesses, so they cannot rot; the figures are not checked."""

from __future__ import annotations

import pytest

from bench import publish

pytestmark = pytest.mark.integration


async def test_publish_benchmark_runs() -> None:
    table = await publish.main(300)
    assert "| outbox, replay after an outage |" in table
