"""The login throttle's rules on an injected clock: lockouts per name at an address, per name
everywhere and per address, growing and capped, and a bounded memory."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import HttpConfig
from edge.web.throttle import NAME_WIDE_FACTOR, LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle_of(clock: FakeClock, capacity: int = 10_000, **http: Any) -> LoginThrottle:
    return LoginThrottle(HttpConfig(**http), monotonic=clock, capacity=capacity)


def fail(throttle: LoginThrottle, name: str, address: str) -> list[str]:
    """One failed attempt (which must be allowed); the scopes it locked."""
    assert throttle.refusal(name, address) is None
    throttle.begin(name, address)
    return [lockout.scope for lockout in throttle.failed(name, address)]


def test_a_name_is_locked_at_an_address_for_a_growing_capped_time() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_lockout_s=30, login_max_lockout_s=100)
    for _ in range(4):
        assert fail(throttle, "nurse.kim", "10.0.0.9") == []
    assert fail(throttle, "nurse.kim", "10.0.0.9") == ["name@address"]
    refusal = throttle.refusal("nurse.kim", "10.0.0.9")
    assert refusal is not None
    assert (refusal.scope, refusal.retry_after) == ("name@address", 30)
    assert throttle.refusal("nurse.kim", "10.0.0.7") is None  # her own station
    assert throttle.refusal("viewer.lee", "10.0.0.9") is None
    lockouts = []
    for _ in range(3):
        clock.now += refusal.seconds + 0.1
        for _ in range(5):
            fail(throttle, "nurse.kim", "10.0.0.9")
        refusal = throttle.refusal("nurse.kim", "10.0.0.9")
        assert refusal is not None
        lockouts.append(refusal.retry_after)
    assert lockouts == [60, 100, 100]  # doubled, then capped


def test_a_success_clears_the_name_but_not_the_address() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_address_failures=6)
    for _ in range(4):
        fail(throttle, "nurse.kim", "10.0.0.9")
    throttle.begin("nurse.kim", "10.0.0.9")
    throttle.succeeded("nurse.kim", "10.0.0.9")
    for _ in range(2):
        fail(throttle, "nurse.kim", "10.0.0.9")  # 4 + 2 would have locked the name
    refusal = throttle.refusal("nurse.kim", "10.0.0.9")
    assert refusal is not None
    assert refusal.scope == "address"  # 6 failures from the address, the success not undoing any


def test_an_address_is_locked_after_failures_with_many_names() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_address_failures=30)
    for index in range(29):
        assert fail(throttle, f"guess-{index}", "10.0.0.66") == []
    assert fail(throttle, "guess-29", "10.0.0.66") == ["address"]
    refusal = throttle.refusal("nurse.kim", "10.0.0.66")
    assert refusal is not None
    assert refusal.scope == "address"
    assert throttle.refusal("nurse.kim", "10.0.0.7") is None


def test_typos_of_a_busy_station_do_not_lock_it() -> None:
    """20 nurses on one station, each with two typos in ten minutes, then logged in."""
    clock = FakeClock()
    throttle = throttle_of(clock)
    for index in range(20):
        name = f"nurse.{index}"
        fail(throttle, name, "10.0.0.7")
        fail(throttle, name, "10.0.0.7")
        assert throttle.refusal(name, "10.0.0.7") is None
        throttle.begin(name, "10.0.0.7")
        throttle.succeeded(name, "10.0.0.7")
        clock.now += 25.0
    assert throttle.refusal("nurse.last", "10.0.0.7") is None


def test_a_name_is_locked_everywhere_only_by_failures_from_several_addresses() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_name_failures=5)
    addresses = [f"10.0.1.{index}" for index in range(NAME_WIDE_FACTOR)]
    for address in addresses[:-1]:
        for _ in range(5):
            fail(throttle, "nurse.kim", address)
    assert throttle.refusal("nurse.kim", "10.0.0.7") is None
    locked = [fail(throttle, "nurse.kim", addresses[-1]) for _ in range(5)][-1]
    assert sorted(locked) == ["name", "name@address"]
    refusal = throttle.refusal("nurse.kim", "10.0.0.7")
    assert refusal is not None
    assert refusal.scope == "name"
    clock.now += refusal.seconds + 0.1
    assert throttle.refusal("nurse.kim", "10.0.0.7") is None


def test_attempts_in_progress_count_so_a_burst_cannot_overrun_the_limit() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_name_failures=5)
    started = 0
    for _ in range(50):
        if throttle.refusal("nurse.kim", "10.0.0.9") is None:
            throttle.begin("nurse.kim", "10.0.0.9")
            started += 1
    assert started == 5
    throttle.abandoned("nurse.kim", "10.0.0.9")  # e.g. busy: counts for nothing
    assert throttle.refusal("nurse.kim", "10.0.0.9") is None


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, login_window_s=60)
    for _ in range(4):
        fail(throttle, "nurse.kim", "10.0.0.9")
    clock.now += 61.0
    for _ in range(4):
        assert fail(throttle, "nurse.kim", "10.0.0.9") == []


@pytest.mark.parametrize("addresses", [1, 5000])
def test_cycling_names_does_not_grow_memory_past_the_cap(addresses: int) -> None:
    clock = FakeClock()
    throttle = throttle_of(clock, capacity=500, login_address_failures=10_000)
    for index in range(5000):
        address = f"10.{index % addresses // 256}.{index % addresses % 256}.1"
        name = f"random-{index}"
        if throttle.refusal(name, address) is None:
            throttle.begin(name, address)
            throttle.failed(name, address)
        clock.now += 0.01
    assert all(held <= 500 for held in throttle.tracked().values())
    assert throttle.tracked()["name"] == 500
