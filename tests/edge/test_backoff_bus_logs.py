"""Small parts of the edge core: backoff, bus, logs, connection states."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from edge.backoff import Backoff
from edge.bus import Bus
from edge.device_state import connection_after
from edge.logs import JsonFormatter, KeyValueFormatter


def test_backoff_grows_is_capped_and_resets() -> None:
    backoff = Backoff(initial=0.5, cap=4.0, floor=0.1, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_is_jittered_above_a_floor() -> None:
    backoff = Backoff(initial=1.0, cap=8.0, floor=0.2, rand=lambda: 0.0)
    assert backoff.next_delay() == 0.2
    with pytest.raises(ValueError, match="floor <= initial <= cap"):
        Backoff(initial=10.0, cap=1.0)


async def test_bus_fans_out_in_order_and_drains_on_close() -> None:
    bus: Bus[int] = Bus()
    first, second = bus.subscribe("a"), bus.subscribe("b")
    for item in range(5):
        await bus.publish(item)
    await bus.close()
    assert [item async for item in first] == [0, 1, 2, 3, 4]
    assert [item async for item in second] == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        await bus.publish(9)


async def test_bus_applies_backpressure_instead_of_dropping() -> None:
    bus: Bus[int] = Bus()
    slow = bus.subscribe("slow", maxsize=2)
    await bus.publish(1)
    await bus.publish(2)
    blocked = asyncio.create_task(bus.publish(3))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    received = []
    async for item in slow:
        received.append(item)
        if item == 3:
            break
    await blocked
    assert received == [1, 2, 3]


@pytest.mark.parametrize(
    ("silence", "expected"),
    [(None, "offline"), (0.0, "online"), (2.9, "online"), (3.0, "stale"), (10.0, "offline")],
)
def test_connection_after_silence(silence: float | None, expected: str) -> None:
    assert connection_after(silence, stale_after_s=3.0, timeout_s=10.0) == expected


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("edge.session", logging.WARNING, __file__, 1, "link lost", (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_key_value_lines_carry_context_and_quote_spaces() -> None:
    line = KeyValueFormatter().format(_record(device="pump-1", error="no such port"))
    assert 'msg="link lost"' in line
    assert "device=pump-1" in line
    assert 'error="no such port"' in line
    assert "level=warning" in line


def test_json_lines_carry_context() -> None:
    line = json.loads(JsonFormatter().format(_record(device="pump-1", count=3)))
    assert line["msg"] == "link lost"
    assert line["device"] == "pump-1"
    assert line["count"] == 3
    assert line["logger"] == "edge.session"
