"""Wire faults, sans I/O: windows per device role, garbage pacing, spoiled-frame draws."""

from __future__ import annotations

import math
from typing import Any

import yaml

from drivers.sim.faults import DeviceRole, Garbage
from drivers.sim.scenario import parse_scenario
from drivers.sim.timeline import Timeline
from drivers.sim.wire import WirePlan, WireState

MIN = 60.0


def plan(faults: list[dict[str, Any]], role: DeviceRole = "pumps", seed: int = 0) -> WirePlan:
    data = {
        "name": "t",
        "description": "d",
        "duration_min": 60,
        "pumps": [{"slot": "11"}],
        "faults": faults,
    }
    return WirePlan(Timeline(parse_scenario(yaml.safe_dump(data))), role, seed)


def test_clean_line() -> None:
    assert plan([]).state(0) == WireState()
    assert plan([]).next_edge_s(0) == math.inf


def test_windows_and_roles() -> None:
    faults = [
        {"kind": "silence", "at_min": 1, "duration_s": 30, "device": "monitor"},
        {"kind": "disconnect", "at_min": 2, "duration_s": 30},
        {"kind": "byte_by_byte", "at_min": 3, "duration_s": 60, "gap_ms": 5},
        {"kind": "byte_by_byte", "at_min": 3.5, "duration_s": 60, "gap_ms": 1},
    ]
    pumps, monitor = plan(faults), plan(faults, "monitor")
    assert not pumps.state(1 * MIN).silent
    assert monitor.state(1 * MIN).silent
    assert pumps.state(2 * MIN).disconnected
    assert monitor.state(2 * MIN + 29).disconnected
    assert not pumps.state(2 * MIN + 30).disconnected
    assert pumps.state(3.6 * MIN).byte_gap_s == 0.005  # the slower one wins
    assert pumps.state(4.2 * MIN).byte_gap_s == 0.001
    assert pumps.next_edge_s(0) == 2 * MIN  # the monitor's silence is not ours
    assert monitor.next_edge_s(0) == 1 * MIN
    assert pumps.next_edge_s(2 * MIN) == 2 * MIN + 30


def test_garbage_bursts_are_paced_in_real_time() -> None:
    wire = plan([{"kind": "garbage", "at_min": 1, "duration_s": 60, "every_s": 2, "length": 8}])
    assert wire.garbage(59, 0.0) == b""
    first = wire.garbage(MIN, 10.0)
    assert len(first) == 8
    assert wire.garbage(MIN + 30, 11.9) == b""
    assert len(wire.garbage(MIN + 40, 12.0)) == 8
    assert wire.garbage(2 * MIN, 20.0) == b""  # window closed
    assert isinstance(wire.state(MIN).garbage, Garbage)


def test_garbage_repeats_with_the_seed() -> None:
    faults = [{"kind": "garbage", "at_min": 0, "every_s": 1, "length": 32}]
    one, two, other = plan(faults, seed=1), plan(faults, seed=1), plan(faults, seed=2)
    assert [one.garbage(0, t) for t in range(5)] == [two.garbage(0, t) for t in range(5)]
    assert one.garbage(0, 9) != other.garbage(0, 9)


def test_spoiled_frames_follow_the_fraction() -> None:
    wire = plan([{"kind": "bad_checksum", "at_min": 1, "duration_s": 60, "fraction": 0.3}])
    assert not any(wire.spoil_next_frame(30) for _ in range(100))
    spoiled = sum(wire.spoil_next_frame(MIN) for _ in range(2000))
    assert 500 < spoiled < 700
    always = plan([{"kind": "bad_checksum", "at_min": 0, "fraction": 1}])
    assert all(always.spoil_next_frame(0) for _ in range(20))
