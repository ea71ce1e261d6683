"""Polls keep their period when the session ticks a little late.

The session's ticker wakes on a grid shared by every link (``edge.session.tick_grid_at``) and
the event loop adds its own latency, so a conversation is ticked a few ms after the time it
asked for. Each polled driver schedules its next poll a period after the time the last one
was due (``drivers.base.next_period``), not after the late tick: a ward polled once a second
still gives one reading a second per device, whatever the lateness.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import DeviceTarget, Instant, next_period
from drivers.registry import get_driver
from drivers.sim.devices import SimTime, build_device
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.bundled import bundled
from edge.session import TICK_GRID_S, tick_grid_at

WALL0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SCENARIO_AT_S = 900.0  # mid-infusion in normal-ketamine
MONOTONIC0 = 12_345.678  # s; far from 0, off the grid


@given(st.floats(0.0, 1e7, allow_nan=False), st.sampled_from([0.01, 0.05, 0.1]))
def test_the_grid_point_is_the_first_multiple_at_or_after(t: float, grid_s: float) -> None:
    point = tick_grid_at(t, grid_s)
    steps = round(point / grid_s)
    assert point == pytest.approx(steps * grid_s, rel=1e-12, abs=1e-12)
    assert t - 1e-6 <= point < t + grid_s + 1e-6


def test_a_time_on_the_grid_stays_and_infinity_is_kept() -> None:
    assert tick_grid_at(3 * TICK_GRID_S) == pytest.approx(3 * TICK_GRID_S)
    assert tick_grid_at(3 * TICK_GRID_S + 1e-4) == pytest.approx(4 * TICK_GRID_S)
    assert tick_grid_at(float("inf")) == float("inf")
    assert tick_grid_at(float("-inf")) == float("-inf")


def test_next_period_keeps_the_phase_of_a_late_tick_only() -> None:
    assert next_period(10.0, 1.0, 10.04) == 11.0  # late by 40 ms: a period after the due time
    assert next_period(10.0, 1.0, 11.5) == 12.5  # a period or more late: from now
    assert next_period(10.0, 1.0, 9.5) == 10.5  # early (a forced poll): from now
    assert next_period(None, 1.0, 3.0) == 4.0  # the first time


POLLED = {  # driver -> options, pump slot, scenario
    "bbraun_bcc": ({"poll_period_s": 1.0}, "11", "normal-ketamine"),
    "intellivue": ({"poll_period_s": 1.0}, None, "normal-ketamine"),
    "draeger_medibus": ({"period_s": 1.0}, None, "ventilated-recovery"),
    "alaris_asena": ({"poll_period_s": 1.0}, None, "normal-ketamine"),
}


@pytest.mark.parametrize("driver_name", sorted(POLLED))
def test_late_ticks_do_not_stretch_the_poll_period(driver_name: str) -> None:
    options, slot, scenario = POLLED[driver_name]
    driver = get_driver(driver_name)
    target = DeviceTarget("dev-1", "bed-1", slot)
    conversation = driver.conversation([target], driver.options.model_validate(options))
    timeline = Timeline(load_scenario(bundled("scenarios") / f"{scenario}.yaml"))
    device = build_device(driver_name, timeline, [slot] if slot else [])
    jitter = random.Random(7)

    def instant(t: float) -> Instant:
        return Instant(MONOTONIC0 + t, WALL0 + timedelta(seconds=t))

    def answer(sent: bytes, t: float) -> bytes:
        """Hand ``sent`` to the device; what the host gets back, its answers to that first."""
        at = SimTime(t, SCENARIO_AT_S + t)
        back = device.receive(sent, at) if sent else b""
        return back + device.tick(at)

    readings: list[float] = []
    t = 0.0
    to_device = conversation.open(instant(t))
    seconds = 120.0
    while t < seconds:
        from_device = answer(to_device, t)
        to_device = b""
        if from_device:
            exchange = conversation.receive(from_device, instant(t))
            to_device += exchange.send
            readings += [t] * len(exchange.readings)
        due = conversation.next_tick_at()
        device_due = t + 0.1  # the simulator's own tick
        if to_device:
            continue  # written at once, answered in the same instant
        if due is None or due - MONOTONIC0 > device_due:
            t = device_due
            continue
        # the session's grid, plus 0.1-5 ms of event-loop latency
        t = tick_grid_at(due) - MONOTONIC0 + jitter.uniform(0.0001, 0.005)
        to_device = conversation.tick(instant(t))
    settled = [r for r in readings if r >= 20.0]  # after the link is up
    assert len(settled) == pytest.approx(seconds - 20.0, abs=2)  # one a second, not one per 1.05 s
