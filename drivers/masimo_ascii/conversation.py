"""masimo_ascii conversation: the device streams, the host only listens (sans I/O).

Each line is framed and decoded; a bad line or an undecodable value is one entry in
:attr:`~drivers.base.Exchange.errors`. What the tables do not know (a field name, a status
bit) is reported once per open link as an error entry too, so it reaches the log and the bad
frame count without flooding them every second. Supervision (no line for the timeout) is the
session's.
"""

from __future__ import annotations

from drivers.base import BadFrame, DeviceTarget, Exchange, Instant
from drivers.errors import DecodeError
from drivers.masimo_ascii.codec import decode
from drivers.masimo_ascii.framer import MasimoFramer

__all__ = ["MasimoConversation"]


class MasimoConversation:
    """One open Masimo serial port. ``skip_first_line``: drop the first line after opening
    (it may be a partial one)."""

    def __init__(self, target: DeviceTarget, *, skip_first_line: bool = True) -> None:
        self._framer = MasimoFramer(skip_first=skip_first_line)
        self._target = target
        self._noted: set[str] = set()

    def open(self, at: Instant) -> bytes:
        return b""

    def receive(self, data: bytes, at: Instant) -> Exchange:
        exchange = Exchange()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                exchange.errors.append(item.reason)
                continue
            try:
                decoded = decode(item, self._target, at)
            except DecodeError as exc:
                exchange.errors.append(str(exc))
                continue
            exchange.frames_ok += 1
            exchange.readings.append(decoded.reading)
            for note in decoded.unknown:
                if note not in self._noted:
                    self._noted.add(note)
                    exchange.errors.append(f"masimo: {note} not understood, ignored")
        return exchange

    def next_tick_at(self) -> float | None:
        return None

    def tick(self, at: Instant) -> bytes:
        return b""

    def close(self, at: Instant) -> bytes:
        return b""
