"""Delivered rate from the times a quantised volume counter steps, aware of the pump's state.

The streams here are a B. Braun pump as the driver sees it: the volume counter floored to
0.1 mL, polled every ``poll`` s with the gaps varying ±10 % and each reading's time stamp off
by up to ±0.1 s (arrival jitter), from a random phase of the counter.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from drivers.readings import PumpReading
from edge.alarms.judges import Facts, RateDeviation
from edge.alarms.levels import LevelState
from edge.alarms.limits import RateDeviationLimits
from edge.alarms.rate import RateEstimator, RateHistory, RateStatus, RateWindow
from tests.edge.alarms.timeline import RATE, at, infusion, pump, quantize

LIMITS = RateDeviationLimits()
HIGH = RateDeviation("high_pct", "high_clear_pct")
MEDIUM = RateDeviation("medium_pct", "medium_clear_pct")
ONSET = 300.0  # s: the deviation starts here, the windows are full by then


def jittered(
    seed: int,
    end: float,
    *,
    rate: float = RATE,
    factor: float = 1.0,
    onset: float = ONSET,
    poll: float = 1.0,
    start: float = 0.0,
) -> Iterator[tuple[float, PumpReading]]:
    """(true time, reading): on rate until ``onset``, then ``factor`` x the programmed rate."""
    rng = random.Random(seed)
    t, offset = start + rng.uniform(0, poll), rng.uniform(0, 0.1)
    while t < end:
        elapsed = t - start
        delivered = elapsed if t < onset else onset - start + factor * (t - onset)
        volume = quantize(offset + rate * delivered / 3600.0)
        yield t, pump(t + rng.uniform(-0.1, 0.1), volume=volume, rate=rate)
        t += poll * rng.uniform(0.9, 1.1)


def detection(stream: Iterator[tuple[float, PumpReading]], judge: RateDeviation) -> float | None:
    """When the judge's hit began that then held on every reading to the stream's end."""
    estimator, level, since = RateEstimator(max_gap_s=15.0), LevelState(), None
    for t, reading in stream:
        verdict = judge(LIMITS, Facts(rate=estimator.update(reading)))
        level.step(verdict, at(t), 1e9, 0.0, 1e9)
        pending = level.pending_since
        since = None if pending is None else (pending - at(0)).total_seconds()
    return since


def hits(stream: Iterator[tuple[float, PumpReading]], limit: float) -> list[float]:
    estimator = RateEstimator(max_gap_s=15.0)
    return [t for t, r in stream if estimator.update(r).beyond(limit) is not None]


# -- detection at 50-60 mL/h, a 1 s poll ----------------------------------------------------


@pytest.mark.parametrize(
    ("factor", "judge", "within"),
    [(1.3, HIGH, 30.0), (0.7, HIGH, 30.0), (1.12, MEDIUM, 60.0), (0.88, MEDIUM, 60.0)],
)
@pytest.mark.parametrize("rate", [50.0, RATE, 60.0])
def test_sustained_deviation_is_detected_in_time(
    factor: float, judge: RateDeviation, within: float, rate: float
) -> None:
    for seed in range(8):
        stream = jittered(seed, ONSET + 400, rate=rate, factor=factor)
        since = detection(stream, judge)
        assert since is not None, seed
        assert ONSET <= since <= ONSET + within, (seed, since)


def test_a_stalled_counter_is_detected_without_any_step() -> None:
    stream = jittered(1, ONSET + 200, factor=0.0)
    since = detection(stream, HIGH)
    assert since is not None
    assert ONSET <= since <= ONSET + 30
    estimator = RateEstimator(max_gap_s=15.0)
    statuses = [estimator.update(r) for _, r in jittered(1, ONSET + 200, factor=0.0)]
    window = statuses[-1].beyond(25.0)
    assert window is not None
    assert window.at_most
    assert window.deviation_pct < -90


@pytest.mark.parametrize("factor", [0.96, 1.0, 1.04])
@pytest.mark.parametrize("poll", [1.0, 2.0, 5.0])
def test_no_detection_within_the_pumps_accuracy_over_40_minutes(factor: float, poll: float) -> None:
    for seed in range(3):
        stream = list(jittered(seed, 2400, factor=factor, onset=0.0, poll=poll))
        assert hits(iter(stream), 10.0) == [], seed
        assert hits(iter(stream), 25.0) == [], seed


def test_the_estimate_settles_on_the_delivered_rate() -> None:
    for delivered in (0.9 * RATE, RATE, 1.2 * RATE):
        estimator = RateEstimator()
        statuses = [
            estimator.update(r) for _, r in jittered(2, 600, factor=delivered / RATE, onset=0.0)
        ]
        late = statuses[-1]
        assert late.delivered_ml_h == pytest.approx(delivered, rel=0.02)
        assert late.longest is not None
        assert late.longest.span_s >= 140


def test_nothing_during_the_start_up_transient() -> None:
    estimator = RateEstimator()
    first = [estimator.update(r) for t, r in infusion(0, 900, delivered=RATE) if t < 60]
    assert all(s.windows == () for s in first)


def test_a_window_and_its_limit() -> None:
    status = RateStatus(
        True,
        50.0,
        (RateWindow(20, -30.0, 8.0), RateWindow(60, -12.0, 3.0), RateWindow(10, 40.0, 25.0)),
    )
    assert status.beyond(25.0) == RateWindow(20, -30.0, 8.0)  # 40 % is too imprecise for it
    assert status.beyond(10.0) == RateWindow(60, -12.0, 3.0)  # 8 % error > 10 - 5
    assert status.deviation_pct == -12.0  # the longest window
    assert status.delivered_ml_h == pytest.approx(44.0)
    assert RateStatus(False, 50.0, status.windows).beyond(10.0) is None
    upper = RateStatus(True, 50.0, (RateWindow(20, 30.0, 2.0, at_most=True),))
    assert upper.beyond(25.0) is None  # an upper bound says nothing of over-delivery


# -- what restarts the estimate ---------------------------------------------------------------


def test_rate_change_restarts_the_estimate() -> None:
    estimator = RateEstimator()
    statuses = [estimator.update(r) for _, r in infusion(0, 400)]
    assert statuses[-1].windows
    changed = estimator.update(pump(405, volume=quantize(405 * RATE / 3600), rate=60.0))
    assert changed.windows == ()
    assert changed.applicable


def test_bolus_is_not_judged_and_restarts_the_estimate() -> None:
    estimator = RateEstimator()
    [estimator.update(r) for _, r in infusion(0, 400)]
    bolus = estimator.update(pump(405, volume=7.0, bolus=True))
    assert bolus.applicable
    assert bolus.windows == ()
    after = [estimator.update(pump(405 + 5 * i, volume=7.5 + 0.1 * i)) for i in range(1, 12)]
    assert all(s.windows == () for s in after)  # start-up again after the bolus


def test_kvo_is_not_applicable() -> None:
    estimator = RateEstimator()
    [estimator.update(r) for _, r in infusion(0, 400)]
    status = estimator.update(pump(405, volume=6.0, state="kvo"))
    assert not status.applicable
    assert status.flow_while_stopped_ml is None


def test_volume_counted_while_stopped() -> None:
    estimator = RateEstimator()
    [estimator.update(r) for _, r in infusion(0, 400)]
    first = estimator.update(pump(405, volume=6.0, state="stopped"))
    assert first.flow_while_stopped_ml == 0.0
    later = estimator.update(pump(410, volume=6.8, state="stopped"))
    assert later.flow_while_stopped_ml == pytest.approx(0.8)
    assert not later.applicable
    again = estimator.update(pump(415, volume=6.8, state="infusing"))
    assert again.flow_while_stopped_ml is None
    assert again.windows == ()


def test_counter_reset_and_gap_restart_the_segment() -> None:
    estimator = RateEstimator()
    [estimator.update(r) for _, r in infusion(0, 400)]
    assert estimator.update(pump(405, volume=0.0)).windows == ()
    estimator = RateEstimator(max_gap_s=30)
    [estimator.update(r) for _, r in infusion(0, 400)]
    assert estimator.update(pump(440, volume=6.6)).windows == ()


def test_no_programmed_rate_or_volume_is_unknown() -> None:
    estimator = RateEstimator()
    assert estimator.update(pump(0, volume=1.0, rate=None)).windows == ()
    assert estimator.update(pump(5, volume=None)).windows == ()


# -- across a restart -------------------------------------------------------------------------


def resumed(history: RateHistory | None) -> RateEstimator:
    assert history is not None
    estimator = RateEstimator(max_gap_s=15.0)
    estimator.resume(RateHistory.model_validate_json(history.model_dump_json()))
    return estimator


def test_a_resumed_estimator_judges_within_seconds_of_the_restart() -> None:
    before = RateEstimator(max_gap_s=15.0)
    stream = list(jittered(3, 1200, factor=1.3, onset=640.0))
    for t, reading in stream:
        if t < 600:
            before.update(reading)
    history = before.snapshot()
    assert not before.dirty
    # saved at most 15 s before the daemon stopped, back 25 s later: 40 s without readings;
    # the free flow starts 15 s after the restart
    after = resumed(history)
    statuses = [(t, after.update(r)) for t, r in stream if t >= 640]
    judged = next(t for t, s in statuses if s.judged(10.0))
    assert judged <= 640 + 30
    first_hit = next(t for t, s in statuses if s.beyond(25.0) is not None)
    assert first_hit <= 640 + 30


def test_a_fresh_start_needs_its_start_up_and_windows() -> None:
    fresh = RateEstimator(max_gap_s=15.0)
    statuses = [(t, fresh.update(r)) for t, r in jittered(3, 1200) if t >= 640]
    judged = next(t for t, s in statuses if s.judged(10.0))
    assert 640 + 60 + 25 <= judged <= 640 + 120  # the estimate is back within 2 minutes


def test_a_stale_or_changed_history_starts_a_new_segment() -> None:
    before = RateEstimator(max_gap_s=15.0)
    for _, reading in jittered(4, 600):
        before.update(reading)
    volume = quantize(RATE * 900 / 3600)
    late = resumed(before.snapshot())
    assert late.update(pump(900, volume=volume)).windows == ()  # 300 s later: too old
    changed = resumed(before.snapshot())
    assert changed.update(pump(620, volume=volume, rate=60.0)).windows == ()
    assert RateEstimator().snapshot() is None
