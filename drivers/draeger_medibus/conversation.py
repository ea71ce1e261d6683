"""The host side of MEDIBUS, sans I/O (fact sheet §5).

::

    open ─> ICC ─echo─> device ID ─> [ measured data ($) ─> current alarms (') ] every period_s
     ^                                       │ a reading per cycle; NOP when idle for keepalive_s
     └── no byte for reply_timeout_s while a reply is due (or 10 s in all) ──┘  ICC again

One command of ours is outstanding at a time. A corrupt response (bad checksum) or a NAK
("your command was corrupt") makes the same command go out again, at most twice in a row;
then the link is initialised again. Commands from the device (ICC, NOP, time changed and
any other) are answered with an echo, a device-identification request with an empty one.
The reading of a cycle carries the measured data of its ``$`` response and, as the condition
``device_alarm``, whether its ``'`` response listed any alarm. The current alarms themselves
are kept in :attr:`MedibusConversation.alarms` and logged when they change (device phrases
such as ``APNEA EVITA``; no patient data).
"""

from __future__ import annotations

import logging
import math

from drivers.base import DeviceTarget, Exchange, Instant, next_period
from drivers.draeger_medibus import codes
from drivers.draeger_medibus.codec import (
    Alarm,
    DeviceIdentity,
    parse_alarms,
    parse_data,
    parse_identity,
    to_reading,
)
from drivers.draeger_medibus.framer import NAK, MedibusFramer, Message, command, response
from drivers.draeger_medibus.options import MedibusOptions
from drivers.errors import DecodeError

__all__ = ["REPLY_LIMIT_S", "MedibusConversation"]

log = logging.getLogger(__name__)

REPLY_LIMIT_S = 10.0
"""A reply must be complete this long after its command (protocol doc "Time-Out")."""
_RESENDS = 2


class MedibusConversation:
    """The client side of one MEDIBUS port (one device)."""

    def __init__(self, target: DeviceTarget, options: MedibusOptions | None = None) -> None:
        self._target = target
        self._options = options or MedibusOptions()
        self._framer = MedibusFramer()
        self._pending: int | None = None  # the command code awaiting its reply
        self._sent_at = self._heard_at = 0.0
        self._next_poll = -math.inf  # the first poll is due at once, and sets the schedule
        self._resends = 0
        self._values: dict[int, float] | None = None
        self.linked = False
        self.identity: DeviceIdentity | None = None
        self.alarms: tuple[Alarm, ...] = ()
        self.inits = 0
        """ICCs sent (the first, then one per lost link)."""

    def _send(self, code: int, at: Instant, *, resend: bool = False) -> bytes:
        self._resends = self._resends + 1 if resend else 0
        self._pending = code
        self._sent_at = self._heard_at = at.monotonic
        return command(code)

    def _initialise(self, at: Instant) -> bytes:
        self.inits += 1
        self.linked = False
        self._values = None
        return self._send(codes.ICC, at)

    def open(self, at: Instant) -> bytes:
        """The ICC that starts the link; call once after the port opened."""
        return self._initialise(at)

    def receive(self, data: bytes, at: Instant) -> Exchange:
        """Frame and handle ``data``; never raises."""
        exchange = Exchange()
        if data:
            self._heard_at = at.monotonic
        out = bytearray()
        for item in self._framer.feed(data):
            if not isinstance(item, Message):
                exchange.errors.append(item.reason)
                if self._pending is not None:
                    out += self._retry(at)
            elif item.kind == "command":
                exchange.frames_ok += 1
                out += _answer(item)
            else:
                out += self._reply(item, at, exchange)
        exchange.send = bytes(out)
        return exchange

    def _retry(self, at: Instant) -> bytes:
        """The pending command again after a corrupt reply or a NAK, or a new ICC."""
        assert self._pending is not None
        if self._resends >= _RESENDS:
            return self._initialise(at)
        return self._send(self._pending, at, resend=True)

    def _reply(self, message: Message, at: Instant, exchange: Exchange) -> bytes:
        if self._pending is None:
            exchange.errors.append(f"unexpected response to 0x{message.code:02X}")
            return b""
        if message.code == NAK:
            exchange.errors.append(f"device refused command 0x{self._pending:02X} as corrupt")
            return self._retry(at)
        if message.code != self._pending:
            exchange.errors.append(
                f"response to 0x{message.code:02X} while 0x{self._pending:02X} is pending"
            )
            return b""
        exchange.frames_ok += 1
        try:
            return self._handle(message, at, exchange)
        except DecodeError as exc:
            exchange.errors.append(str(exc))
            return self._retry(at)

    def _handle(self, message: Message, at: Instant, exchange: Exchange) -> bytes:
        """The step after the reply to the pending command."""
        code, self._pending = message.code, None
        if code == codes.ICC:
            self.linked = True
            return self._send(codes.DEVICE_ID, at)
        if code == codes.DEVICE_ID:
            self._identified(parse_identity(message.data))
            return self._poll(at)
        if code == codes.DATA_CP1:
            self._values = parse_data(message.data)
            return self._send(codes.ALARMS_CP1, at)
        if code == codes.ALARMS_CP1:
            self._alarms(parse_alarms(message.data))
            if self._values is not None:
                exchange.readings.append(to_reading(self._values, self.alarms, self._target, at))
            self._values = None
        return b""  # NOP echo, or the end of a cycle: wait for the next tick

    def _identified(self, identity: DeviceIdentity) -> None:
        if identity != self.identity:
            log.info(
                "MEDIBUS device %s: %s %r, revision %s",
                self._target.device_id,
                identity.number,
                identity.name,
                identity.revision,
            )
        self.identity = identity

    def _alarms(self, alarms: tuple[Alarm, ...]) -> None:
        if alarms != self.alarms:
            shown = ", ".join(f"{a.code:02X} {a.phrase} (p{a.priority})" for a in alarms)
            log.info("MEDIBUS device %s alarms: %s", self._target.device_id, shown or "none")
        self.alarms = alarms

    def _poll(self, at: Instant) -> bytes:
        self._next_poll = next_period(self._next_poll, self._options.period_s, at.monotonic)
        return self._send(codes.DATA_CP1, at)

    def next_tick_at(self) -> float | None:
        """When a reply is overdue, the next poll or the next keep-alive is due."""
        if self._pending is not None:
            silence = self._heard_at + self._options.reply_timeout_s
            return min(silence, self._sent_at + REPLY_LIMIT_S)
        return min(self._next_poll, self._sent_at + self._options.keepalive_s)

    def tick(self, at: Instant) -> bytes:
        """ICC after a lost link; else the poll or a NOP when due."""
        now = at.monotonic
        if self._pending is not None:
            silent = now >= self._heard_at + self._options.reply_timeout_s
            if silent or now >= self._sent_at + REPLY_LIMIT_S:
                return self._initialise(at)
            return b""
        if now >= self._next_poll:
            return self._poll(at)
        if now >= self._sent_at + self._options.keepalive_s:
            return self._send(codes.NOP, at)
        return b""

    def close(self, at: Instant) -> bytes:
        """STOP: the device ends the link."""
        self._pending = None
        self.linked = False
        return command(codes.STOP)


def _answer(message: Message) -> bytes:
    """The echo for a command from the device (device ID: an empty identification)."""
    return response(message.code)
