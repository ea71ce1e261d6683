"""What the engine keeps per device: timing for ``device_offline``, the rate estimator, NIBP
tracker, and the bad-frame window for ``link_errors``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from edge.alarms.rate import RateEstimator
from edge.alarms.vitals import NibpTracker

__all__ = ["BadFrameWindow", "DeviceInfo", "DeviceTrack"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A configured device: its bed and its silence timeout in s (``DeviceConfig.timeout_s``)."""

    device_id: str
    bed: str
    timeout_s: float = 10.0


class BadFrameWindow:
    """The share of bad frames (%) on a device's link over the last ``window_s``, from the
    link's cumulative counters (``DeviceState.frames_ok``/``frames_bad``) sampled over time."""

    def __init__(self) -> None:
        self._samples: deque[tuple[datetime, int, int]] = deque()

    def add(self, at: datetime, ok: int, bad: int, window_s: float) -> float | None:
        """Add a sample; the bad share over the window ending at ``at``, ``None`` when no
        frame was counted in it. Counters that went down (a new link session) restart it."""
        if self._samples and (ok < self._samples[-1][1] or bad < self._samples[-1][2]):
            self._samples.clear()
        self._samples.append((at, ok, bad))
        while len(self._samples) > 2 and (at - self._samples[1][0]).total_seconds() >= window_s:
            self._samples.popleft()
        _, ok0, bad0 = self._samples[0]
        frames = (ok - ok0) + (bad - bad0)
        return None if frames <= 0 else (bad - bad0) / frames * 100.0


@dataclass(slots=True)
class DeviceTrack:
    """The engine's view of one device. ``registered_at``/``last_seen`` are monotonic s;
    ``forced_offline``: the device's session reported it offline and no reading came since."""

    info: DeviceInfo
    registered_at: float
    last_seen: float | None = None
    last_ts: datetime | None = None
    forced_offline: bool = False
    rate: RateEstimator = field(default_factory=RateEstimator)
    nibp: NibpTracker = field(default_factory=NibpTracker)
    frames: BadFrameWindow = field(default_factory=BadFrameWindow)

    def __post_init__(self) -> None:
        self.rate.max_gap_s = max(15.0, self.info.timeout_s)

    def silence_s(self, now: float) -> float:
        """Seconds without a reading (since registration when there was none)."""
        since = self.last_seen if self.last_seen is not None else self.registered_at
        return now - since

    def offline(self, now: float) -> bool:
        """Silent for its timeout, or reported offline by its session."""
        return self.forced_offline or self.silence_s(now) >= self.info.timeout_s
