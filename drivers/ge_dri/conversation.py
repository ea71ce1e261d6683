"""The host side of the S/5 Computer Interface, sans I/O (fact sheet §6).

::

    open ──> displayed-values request (Basic class, every period_s) ──> records stream in
      ^                                                                      │
      └── no record for resend_after_s (since the last record or request) ───┘  request again

The interface has no keep-alive and no ACK: one request starts a stream that runs until the
monitor restarts or is told to stop, and a request is idempotent, so the supervision is
ours: after ``resend_after_s`` of silence the request goes out again (and again every
``resend_after_s`` while the monitor stays silent). ``close`` sends the stop request
(``tx_ival`` 0). ``Exchange.frames_ok`` counts good frames; ``Exchange.errors`` gets one
reason per bad frame (checksum, length) or malformed record.
"""

from __future__ import annotations

from drivers.base import BadFrame, DeviceTarget, Exchange, Instant
from drivers.errors import DecodeError
from drivers.ge_dri.codec import NibpCuffs, decode_record
from drivers.ge_dri.framer import DriFramer, frame
from drivers.ge_dri.options import GeDriOptions
from drivers.ge_dri.records import PhdbRequest

__all__ = ["GeDriConversation"]


class GeDriConversation:
    """The client side of one GE monitor's Computer Interface port."""

    def __init__(self, target: DeviceTarget, options: GeDriOptions | None = None) -> None:
        self._target = target
        self._options = options = options or GeDriOptions()
        self._framer = DriFramer()
        self._cuffs = NibpCuffs()
        self._deadline: float | None = None
        self.requests = 0
        """Displayed-values requests sent (the first, then one per silence)."""

    @property
    def cuffs(self) -> NibpCuffs:
        return self._cuffs

    def _request(self, at: Instant) -> bytes:
        self.requests += 1
        self._deadline = at.monotonic + self._options.resend_after_s
        return frame(PhdbRequest(interval_s=self._options.period_s).to_record())

    def open(self, at: Instant) -> bytes:
        """The displayed-values request; call once after the link opened."""
        return self._request(at)

    def receive(self, data: bytes, at: Instant) -> Exchange:
        """Frame and decode ``data``; never raises."""
        exchange = Exchange()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                exchange.errors.append(item.reason)
                continue
            try:
                readings = decode_record(item, self._target, at, self._cuffs)
            except DecodeError as exc:
                exchange.errors.append(str(exc))
                continue
            exchange.frames_ok += 1
            if readings and self._deadline is not None:
                self._deadline = at.monotonic + self._options.resend_after_s
            exchange.readings.extend(readings)
        return exchange

    def next_tick_at(self) -> float | None:
        """When the request is due again if no record comes first."""
        return self._deadline

    def tick(self, at: Instant) -> bytes:
        """The request again once ``resend_after_s`` passed without a record."""
        if self._deadline is None or at.monotonic < self._deadline:
            return b""
        return self._request(at)

    def close(self, at: Instant) -> bytes:
        """The stop request (``tx_ival`` 0)."""
        self._deadline = None
        return frame(PhdbRequest(interval_s=0).to_record())
