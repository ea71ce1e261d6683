"""The driver contract: what a device protocol gives the daemon.

A driver is a frozen :class:`Driver` value in the registry. The daemon never sees frames: it
opens the link, then drives a sans-I/O :class:`Conversation` with the bytes it reads and the
time, writes back what the conversation asks to send, and forwards the readings. This fits
passive devices that stream (the conversation only decodes) as well as request/response
protocols (B. Braun BCC polls, IntelliVue association and extended polls), without I/O, clocks
or asyncio inside a driver.

Inside a driver the layers are: framer (bytes -> frames, never raises on bad input, reports
:class:`BadFrame` instead) -> codec (frame -> readings, raises :class:`~drivers.errors.DecodeError`)
-> conversation (protocol state: what to send next, when).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from drivers.errors import DecodeError
from drivers.link import SerialSettings
from drivers.readings import PumpReading, VitalsReading

__all__ = [
    "BadFrame",
    "Conversation",
    "DeviceError",
    "DeviceTarget",
    "Driver",
    "Exchange",
    "Framer",
    "Instant",
    "NoOptions",
    "StreamConversation",
    "TimingFloor",
    "next_period",
]

MIN_TIMEOUT_PERIODS = 2  # a device's timeout spans at least this many of its reporting periods

FrameT = TypeVar("FrameT")
FrameT_co = TypeVar("FrameT_co", covariant=True)


def next_period(due: float | None, period_s: float, now: float) -> float:
    """When something done every ``period_s`` s is next due, having been done at ``now``
    (monotonic s) for the time ``due``: a period after ``due`` when ``now`` falls in the
    period that began then (a late tick moves nothing: the schedule keeps its phase), else a
    period after ``now`` (the first time, or after a pause or a retry)."""
    if due is not None and due <= now < due + period_s:
        return due + period_s
    return now + period_s


@dataclass(frozen=True, slots=True)
class Instant:
    """A moment as the session sees it: ``monotonic`` seconds for timing, ``wall`` (UTC) for
    timestamps on readings."""

    monotonic: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """One configured device on a link. ``address`` selects it on a shared port (the slot of a
    pump in a rack, ``"11"`` for pillar 1 slot 1); ``None`` where the port has one device."""

    device_id: str
    bed: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame the framer had to drop: bad checksum, bad length, overlong, truncated."""

    reason: str


class Framer(Protocol[FrameT_co]):
    """Sans-I/O framer: bytes in, frames and bad-frame markers out, in wire order.

    ``feed`` never raises on any input; its buffer is capped and it resyncs on the next start
    marker.
    """

    def feed(self, data: bytes) -> Sequence[FrameT_co | BadFrame]: ...


@dataclass(frozen=True, slots=True)
class DeviceError:
    """What the device side said about one configured device instead of data: ``reason`` is
    short, readable and free of patient data ("slot empty: pump removed (GNERR 39)").
    ``counted``: an error the device reported at its address, or an answer refused for it,
    which counts in the device's error counter; ``False`` for a state inferred without one
    (its slot absent from a complete answer)."""

    device_id: str
    reason: str
    counted: bool = True


@dataclass(slots=True)
class Exchange:
    """What a conversation made of received bytes: readings, bytes to send, frame counts.

    ``errors`` holds one short reason per bad frame or undecodable message (for logs).
    ``device_errors`` holds what the device side reported for a configured device instead of
    its data (the session shows the latest as that device's ``last_error`` until its next
    reading, and counts the ``counted`` ones).
    """

    readings: list[PumpReading | VitalsReading] = field(default_factory=list)
    send: bytes = b""
    frames_ok: int = 0
    errors: list[str] = field(default_factory=list)
    device_errors: list[DeviceError] = field(default_factory=list)


class Conversation(Protocol):
    """The protocol state of one open link, sans I/O.

    The session calls ``open`` once after the link opened, ``receive`` with every chunk read,
    ``tick`` when ``next_tick_at()`` is reached (polls, keep-alives, delayed ACKs, retries), and
    ``close`` before it closes the link (a release request). Each returns the bytes to write.
    """

    def open(self, at: Instant) -> bytes: ...

    def receive(self, data: bytes, at: Instant) -> Exchange: ...

    def next_tick_at(self) -> float | None:
        """The monotonic time (s) from which ``tick`` is next due, or ``None`` when nothing is
        due until more bytes arrive. Asked again after every ``open``, ``receive`` and
        ``tick``; a tick that comes earlier, or more often, is harmless. The session ticks a
        little after it (its ticker wakes on a grid shared by every link, see
        :func:`edge.session.tick_grid_at`): periodic requests keep their own phase
        (:func:`next_period`), so those late ticks never stretch a period."""
        ...

    def tick(self, at: Instant) -> bytes: ...

    def close(self, at: Instant) -> bytes: ...


class NoOptions(BaseModel):
    """Driver options for a driver that takes none."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class TimingFloor:
    """The shortest device ``timeout_s`` a driver supports (s), and the option keys it follows
    (``("poll_period_s",)``; empty: the driver's fixed period), for config messages."""

    seconds: float
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Driver:
    """A device protocol as the daemon sees it.

    ``conversation`` builds the protocol state for one link serving ``targets`` (one device,
    or up to ``max_devices_per_port`` addressed devices such as the pumps of a rack), with the
    per-device ``options`` validated by ``options``. ``period_s`` is the usual interval between
    readings, from which the silence timeouts default; ``period_option`` names the option that
    sets it instead (a poll period), see :meth:`period_for`. ``min_timeout`` gives the
    driver's own floor for a device's timeout beyond two periods (the time its protocol needs
    to recover a silent device), see :meth:`min_timeout_for`. ``address_pattern`` (a regular
    expression) is set by drivers whose devices are addressed on their port, such as pump
    slots in a rack; each such device must then have a matching address, explained by
    ``address_hint``.
    """

    name: str
    summary: str
    conversation: Callable[[Sequence[DeviceTarget], Any], Conversation]
    serial_defaults: SerialSettings = field(default_factory=SerialSettings)
    options: type[BaseModel] = NoOptions
    max_devices_per_port: int = 1
    period_s: float = 1.0
    address_pattern: str | None = None
    address_hint: str = ""
    period_option: str | None = None
    min_timeout: Callable[[Any], TimingFloor] | None = None

    def period_for(self, options: BaseModel) -> float:
        """Seconds between a device's readings with ``options`` (validated by ``options``)."""
        if self.period_option is None:
            return self.period_s
        return float(getattr(options, self.period_option))

    def min_timeout_for(self, options: BaseModel) -> TimingFloor:
        """The shortest ``timeout_s`` for a device with ``options``: two reporting periods
        (a device is never offline between two of its reports, and one lost report is not an
        outage), or the driver's own floor if longer."""
        keys = () if self.period_option is None else (self.period_option,)
        floor = TimingFloor(MIN_TIMEOUT_PERIODS * self.period_for(options), keys)
        if self.min_timeout is not None:
            own = self.min_timeout(options)
            if own.seconds > floor.seconds:
                return own
        return floor


class StreamConversation(Generic[FrameT]):
    """A conversation for devices that stream on their own: frame, decode, never send."""

    def __init__(
        self,
        framer: Framer[FrameT],
        decode: Callable[[FrameT, DeviceTarget, Instant], list[PumpReading | VitalsReading]],
        target: DeviceTarget,
    ) -> None:
        self._framer = framer
        self._decode = decode
        self._target = target

    def open(self, at: Instant) -> bytes:
        return b""

    def receive(self, data: bytes, at: Instant) -> Exchange:
        exchange = Exchange()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                exchange.errors.append(item.reason)
                continue
            try:
                exchange.readings.extend(self._decode(item, self._target, at))
            except DecodeError as exc:
                exchange.errors.append(str(exc))
            else:
                exchange.frames_ok += 1
        return exchange

    def next_tick_at(self) -> float | None:
        return None

    def tick(self, at: Instant) -> bytes:
        return b""

    def close(self, at: Instant) -> bytes:
        return b""
