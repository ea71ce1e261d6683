"""Delivered rate from the slope of volume infused, aware of the pump's state."""

from __future__ import annotations

import pytest

from drivers.readings import PumpReading
from edge.alarms.rate import RateEstimator, RateStatus
from tests.edge.alarms.timeline import RATE, infusion, pump, quantize


def last_status(estimator: RateEstimator, stream: list[tuple[float, PumpReading]]) -> RateStatus:
    status = None
    for _, reading in stream:
        status = estimator.update(reading)
    assert status is not None
    return status


@pytest.mark.parametrize(
    ("delivered", "programmed"), [(54.0, 54.0), (40.0, 54.0), (70.0, 54.0), (5.0, 5.0), (3.0, 54.0)]
)
def test_steady_rate_through_a_quantised_counter(delivered: float, programmed: float) -> None:
    estimator = RateEstimator()
    stream = infusion(0, 1200, delivered=delivered, rate=programmed)
    estimates = [estimator.update(r).delivered_ml_h for _, r in stream]
    known = [e for e in estimates if e is not None]
    assert known, "an estimate within 20 min"
    # the counter steps 0.1 mL; the window holds >= 2 mL at the programmed rate, so the
    # error stays within a few % of the programmed rate
    assert all(abs(e - delivered) / programmed < 0.05 for e in known)


def test_nothing_during_the_start_up_transient() -> None:
    estimator = RateEstimator()
    first = [
        estimator.update(r).delivered_ml_h for t, r in infusion(0, 900, delivered=RATE) if t < 170
    ]
    assert first == [None] * len(first)


def test_window_covers_two_millilitres_at_low_rates() -> None:
    estimator = RateEstimator()
    timed = [(t, estimator.update(r)) for t, r in infusion(0, 900, delivered=5.0, rate=5.0)]
    first = next(t for t, s in timed if s.delivered_ml_h is not None)
    # 2 mL at 5 mL/h is 1440 s, clamped to 600 s; start-up 60 s, 90 % of the window
    assert 60 + 540 <= first <= 60 + 600


def test_deviation_is_signed_percent_of_programmed() -> None:
    status = RateStatus(True, programmed_ml_h=50.0, delivered_ml_h=40.0)
    assert status.deviation_pct == pytest.approx(-20.0)
    assert RateStatus(False, 50.0, 40.0).deviation_pct is None
    assert RateStatus(True, 50.0, None).deviation_pct is None


def test_rate_change_restarts_the_estimate() -> None:
    estimator = RateEstimator()
    assert last_status(estimator, list(infusion(0, 400))).delivered_ml_h is not None
    changed = estimator.update(pump(405, volume=quantize(405 * RATE / 3600), rate=60.0))
    assert changed.delivered_ml_h is None
    assert changed.applicable


def test_bolus_is_not_judged_and_restarts_the_estimate() -> None:
    estimator = RateEstimator()
    last_status(estimator, list(infusion(0, 400)))
    bolus = estimator.update(pump(405, volume=7.0, bolus=True))
    assert bolus.applicable
    assert bolus.delivered_ml_h is None
    after = estimator.update(pump(410, volume=7.5))
    assert after.delivered_ml_h is None  # start-up again after the bolus


@pytest.mark.parametrize("state", ["kvo"])
def test_kvo_is_not_applicable(state: str) -> None:
    estimator = RateEstimator()
    last_status(estimator, list(infusion(0, 400)))
    status = estimator.update(pump(405, volume=6.0, state="kvo"))
    assert not status.applicable
    assert status.flow_while_stopped_ml is None


def test_volume_counted_while_stopped() -> None:
    estimator = RateEstimator()
    last_status(estimator, list(infusion(0, 400)))
    first = estimator.update(pump(405, volume=6.0, state="stopped"))
    assert first.flow_while_stopped_ml == 0.0
    later = estimator.update(pump(410, volume=6.8, state="stopped"))
    assert later.flow_while_stopped_ml == pytest.approx(0.8)
    assert not later.applicable
    again = estimator.update(pump(415, volume=6.8, state="infusing"))
    assert again.flow_while_stopped_ml is None


def test_counter_reset_and_gap_restart_the_segment() -> None:
    estimator = RateEstimator()
    last_status(estimator, list(infusion(0, 400)))
    assert estimator.update(pump(405, volume=0.0)).delivered_ml_h is None
    estimator = RateEstimator(max_gap_s=30)
    last_status(estimator, list(infusion(0, 400)))
    assert estimator.update(pump(440, volume=6.6)).delivered_ml_h is None


def test_no_programmed_rate_or_volume_is_unknown() -> None:
    estimator = RateEstimator()
    assert estimator.update(pump(0, volume=1.0, rate=None)).delivered_ml_h is None
    assert estimator.update(pump(5, volume=None)).delivered_ml_h is None
