"""A stable stamp per cuff: RelativeTime anchored to wall time once, kept while the clocks
agree, so a cuff repeated in every poll result keeps one measurement time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drivers.base import Instant
from drivers.intellivue import codes
from drivers.intellivue.codec import decode_numerics
from drivers.intellivue.datatypes import Ava, u32
from drivers.intellivue.timebase import RelativeAnchor
from tests.drivers.intellivue.harness import TARGET
from tests.drivers.intellivue.test_codec import nibp

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
REL0 = 0x0012D687
TICKS = codes.TICKS_PER_SECOND
CUFF_REL = REL0 - 20 * TICKS  # the cuff was measured 20 s before the first result
DELAYS_S = (0.0123, 0.0009, 0.0311, 0.0047, 0.2, 0.0002)  # receive delays, poll to poll


def polls(count: int, anchor: RelativeAnchor | None) -> list[datetime]:
    """The cuff's stamp in ``count`` results a second apart, each received late by a
    different delay."""
    stamps: list[datetime] = []
    for n in range(count):
        received = NOW + timedelta(seconds=n + DELAYS_S[n % len(DELAYS_S)])
        at = Instant(100.0 + n, received)
        stamp = Ava(codes.NOM_ATTR_TIME_STAMP_REL, u32(CUFF_REL))
        decoded = decode_numerics([nibp(stamp)], REL0 + n * TICKS, TARGET, at, anchor=anchor)
        assert decoded.reading is not None
        assert decoded.reading.ts == received  # the reading itself: its receive time
        stamps += {o.ts for o in decoded.reading.observations if o.ts is not None}
    return stamps


def test_an_anchored_cuff_keeps_one_stamp_in_every_poll() -> None:
    stamps = polls(30, RelativeAnchor())
    assert set(stamps) == {NOW + timedelta(seconds=DELAYS_S[0]) - timedelta(seconds=20)}


def test_without_an_anchor_the_stamp_jitters_with_the_receive_delay() -> None:
    assert len(set(polls(6, None))) == 6


def test_the_anchor_is_taken_again_when_the_clocks_drift_apart() -> None:
    anchor = RelativeAnchor(max_skew_s=1.0)
    assert anchor.now_wall(REL0, NOW) == NOW
    late = NOW + timedelta(seconds=10.5)  # host clock stepped half a second
    assert anchor.now_wall(REL0 + 10 * TICKS, late - timedelta(seconds=0.5)) == late - timedelta(
        seconds=0.5
    )
    stepped = NOW + timedelta(seconds=22)  # 2 s off the anchor: re-anchored
    assert anchor.now_wall(REL0 + 20 * TICKS, stepped) == stepped
    assert anchor.now_wall(REL0 + 21 * TICKS, stepped) == stepped + timedelta(seconds=1)


def test_a_restarted_monitor_or_a_reset_takes_a_new_anchor() -> None:
    anchor = RelativeAnchor()
    anchor.now_wall(REL0, NOW)
    restarted = NOW + timedelta(seconds=5)
    assert anchor.now_wall(8000, restarted) == restarted  # RelativeTime went back: new anchor
    anchor.reset()
    other = NOW + timedelta(seconds=7.3)
    assert anchor.now_wall(9000, other) == other


def test_the_anchor_survives_the_relative_time_wrap() -> None:
    anchor = RelativeAnchor()
    near_wrap = (1 << 32) - 4 * TICKS
    anchor.now_wall(near_wrap, NOW)
    assert anchor.now_wall(6 * TICKS, NOW + timedelta(seconds=10.01)) == NOW + timedelta(seconds=10)
