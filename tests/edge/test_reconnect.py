"""The reconnect policy: a missing port at a fixed short interval, backoff only for errors that
repeat while the port is there, a fresh start after a link that brought readings."""

from __future__ import annotations

import pytest

from edge.backoff import Backoff
from edge.reconnect import (
    MISSING_RETRY_S,
    SILENT_REOPEN_S,
    Outcome,
    ReconnectPolicy,
    reopen_after,
)


def policy() -> ReconnectPolicy:
    return ReconnectPolicy(Backoff(initial=0.5, cap=30.0, floor=0.1, rand=lambda: 1.0))


def test_a_missing_port_is_retried_every_second_however_long_it_is_gone() -> None:
    reconnect = policy()
    delays = [reconnect.delay_after(Outcome.MISSING) for _ in range(60)]
    assert delays == [MISSING_RETRY_S] * 60
    assert pytest.approx(1.0) == MISSING_RETRY_S
    assert reconnect.backoff.attempt == 0  # a missing port does not grow the backoff


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.LOST])
def test_errors_that_repeat_while_the_port_is_there_back_off(outcome: Outcome) -> None:
    reconnect = policy()
    delays = [reconnect.delay_after(outcome) for _ in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_link_that_brought_readings_starts_the_backoff_again() -> None:
    reconnect = policy()
    for _ in range(6):
        reconnect.delay_after(Outcome.LOST)
    assert reconnect.delay_after(Outcome.LOST, had_reading=True) == 0.5
    assert reconnect.delay_after(Outcome.LOST) == 1.0


def test_missing_then_present_but_failing_keeps_backing_off() -> None:
    reconnect = policy()
    assert reconnect.delay_after(Outcome.FAILED) == 0.5
    assert reconnect.delay_after(Outcome.MISSING) == MISSING_RETRY_S
    assert reconnect.delay_after(Outcome.FAILED) == 1.0


def test_a_silent_link_is_reopened_at_once() -> None:
    reconnect = policy()
    assert [reconnect.delay_after(Outcome.SILENT) for _ in range(5)] == [SILENT_REOPEN_S] * 5
    assert SILENT_REOPEN_S <= 0.2


@pytest.mark.parametrize(
    ("stale_after_s", "timeout_s", "expected"),
    [(3.0, 10.0, 5.0), (7.5, 10.0, 9.5), (1.0, 2.0, 2.0), (15.0, 30.0, 17.0)],
)
def test_a_silent_link_is_reopened_2_s_past_the_stale_time_at_the_latest_at_the_timeout(
    stale_after_s: float, timeout_s: float, expected: float
) -> None:
    assert reopen_after(stale_after_s, timeout_s) == expected
