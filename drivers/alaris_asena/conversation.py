"""Alaris Asena host conversation, sans I/O: handshake, then a read-only poll cycle.

Sequence (fact sheet §5), strictly one request outstanding::

    open          -> INST_SERIALNO          <- INST_SERIALNO^<serial>
    every poll    -> INF                    <- INF^... (14 fields)
                  -> INF_VTBI               <- INF_VTBI^<state>^<vtbi>^ml^<end action>
                  -> ALARM (only if INF field 2 is not '-')   <- ALARM^<code>^...
                  -> SYRINGE_STATUS         <- SYRINGE_STATUS^<brand>^<size>^<state>
                  one Reading, stamped with the INF answer's arrival time

Error handling: no answer within ``response_timeout_s`` (the pump's own
``COMMS_RESPONSE_MAX`` is 4 s) or a bad frame: the request is sent once more; a second miss
ends the cycle (no reading) and counts a failure. An answer echoing another command: input
is dropped and the request resent after :data:`RESYNC_S`. An answer that does not decode
ends the cycle. :data:`MAX_FAILURES` failed cycles in a row: the handshake again.

Remote mode: the sheet does not know whether the pump answers ``INF`` without remote
control. If the pump answers the handshake but has never answered a status query since the
link opened, each later handshake answer reports a device error :data:`REMOTE_MODE_HINT`;
the driver never sends ``REMOTE_CTRL`` or any other command that changes the pump (see
:mod:`.commands`): every byte it writes comes from :func:`~.commands.encode_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.alaris_asena import commands as q
from drivers.alaris_asena.codec import (
    NO_ALARM,
    InfStatus,
    Vtbi,
    build_reading,
    decode_alarm,
    decode_inf,
    decode_syringe,
    decode_vtbi,
)
from drivers.alaris_asena.framer import AsenaFrame, AsenaFramer
from drivers.base import BadFrame, DeviceError, DeviceTarget, Exchange, Instant, next_period
from drivers.errors import DecodeError

__all__ = ["MAX_FAILURES", "REMOTE_MODE_HINT", "RESYNC_S", "AsenaConversation"]

MAX_FAILURES = 3
RESYNC_S = 0.5
REMOTE_MODE_HINT = (
    "answers INST_SERIALNO but not INF: the pump may need remote mode enabled on its own panel"
)


@dataclass(slots=True)
class _Cycle:
    """What one poll cycle has gathered so far."""

    started_at: Instant
    inf: InfStatus | None = None
    inf_at: Instant | None = None
    vtbi: Vtbi | None = None
    alarm: str | None = None


class AsenaConversation:
    """The host side for the one pump ``targets[0]``; times in seconds."""

    def __init__(
        self,
        targets: Sequence[DeviceTarget],
        *,
        poll_period_s: float = 3.0,
        response_timeout_s: float = 4.0,
    ) -> None:
        if len(targets) != 1:
            raise ValueError("an Alaris Asena port carries exactly one pump")
        self._target = targets[0]
        self._period = poll_period_s
        self._timeout = response_timeout_s
        self._framer = AsenaFramer()
        self._pending: str | None = None  # the query awaiting its answer
        self._deadline = 0.0
        self._attempts = 0
        self._resend_at: float | None = None
        self._next_poll: float | None = None
        self._cycle_due = 0.0  # monotonic s the current cycle was due
        self._cycle: _Cycle | None = None
        self._failures = 0
        self._status_answered = False
        self.serial: str | None = None
        self.sent: list[str] = []
        """Every query sent, in order (for diagnostics and tests)."""

    # -- sending --------------------------------------------------------------------------

    def _send(self, name: str, now: float) -> bytes:
        data = q.encode_query(name)
        self._pending, self._deadline = name, now + self._timeout
        self._resend_at = None
        self.sent.append(name)
        return data

    def _ask(self, name: str, now: float) -> bytes:
        self._attempts = 1
        return self._send(name, now)

    def _handshake(self, now: float) -> bytes:
        self._cycle, self._next_poll = None, None
        self._framer.reset()
        return self._ask(q.INST_SERIALNO, now)

    def open(self, at: Instant) -> bytes:
        return self._handshake(at.monotonic)

    def close(self, at: Instant) -> bytes:
        return b""

    def next_tick_at(self) -> float | None:
        if self._resend_at is not None:
            return self._resend_at
        if self._pending is not None:
            return self._deadline
        return self._next_poll

    def tick(self, at: Instant) -> bytes:
        now = at.monotonic
        if self._resend_at is not None and now >= self._resend_at:
            assert self._pending is not None
            return self._send(self._pending, now)
        if self._pending is not None and now >= self._deadline:
            return self._missed(now)
        if self._pending is None and self._next_poll is not None and now >= self._next_poll:
            self._cycle, self._cycle_due = _Cycle(at), self._next_poll
            return self._ask(q.INF, now)
        return b""

    # -- failures -------------------------------------------------------------------------

    def _missed(self, now: float) -> bytes:
        """The pending query got no usable answer: once more, else the cycle failed."""
        assert self._pending is not None
        if self._attempts < 2:
            self._attempts += 1
            self._framer.reset()
            return self._send(self._pending, now)
        return self._fail(now)

    def _fail(self, now: float) -> bytes:
        self._pending = None
        self._failures += 1
        if self._failures >= MAX_FAILURES or self.serial is None:
            self._failures = 0
            return self._handshake(now)
        self._end_cycle(now)
        return b""

    def _end_cycle(self, now: float) -> None:
        if self._cycle is None:
            following = now + self._period
        else:  # a period after the cycle was due: a tick a little late stretches nothing
            following = next_period(self._cycle_due, self._period, self._cycle.started_at.monotonic)
        self._cycle, self._pending, self._resend_at = None, None, None  # no resync after it
        self._next_poll = max(following, now)

    # -- receiving ------------------------------------------------------------------------

    def receive(self, data: bytes, at: Instant) -> Exchange:
        exchange = Exchange()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                exchange.errors.append(item.reason)
                if self._pending is not None and self._resend_at is None:
                    exchange.send += self._missed(at.monotonic)
                continue
            exchange.send += self._answer(item, at, exchange)
        return exchange

    def _answer(self, frame: AsenaFrame, at: Instant, exchange: Exchange) -> bytes:
        pending = self._pending
        if pending is None or self._resend_at is not None:
            exchange.errors.append(f"unexpected {frame.command[:20]!r} answer")
            return b""
        if frame.command != pending:
            exchange.errors.append(f"answer to {frame.command[:20]!r}, not {pending}")
            self._framer.reset()
            self._resend_at = at.monotonic + RESYNC_S
            return b""
        try:
            sent = self._step(pending, frame.fields, at, exchange)
        except DecodeError as exc:
            exchange.errors.append(f"{pending}: {exc}")
            self._end_cycle(at.monotonic)
            return b""
        exchange.frames_ok += 1
        return sent

    def _step(
        self, pending: str, fields: tuple[str, ...], at: Instant, exchange: Exchange
    ) -> bytes:
        now = at.monotonic
        if pending == q.INST_SERIALNO:
            if len(fields) < 2 or not fields[1].strip():
                raise DecodeError("INST_SERIALNO answer without a serial number")
            if self.serial is not None and not self._status_answered:
                exchange.device_errors.append(DeviceError(self._target.device_id, REMOTE_MODE_HINT))
            self.serial = fields[1].strip()
            self._pending = None
            self._next_poll = now
            return b""
        cycle = self._cycle
        assert cycle is not None
        if pending == q.INF:
            cycle.inf, cycle.inf_at = decode_inf(fields), at
            self._status_answered = True
            return self._ask(q.INF_VTBI, now)
        if pending == q.INF_VTBI:
            cycle.vtbi = decode_vtbi(fields)
            assert cycle.inf is not None
            if cycle.inf.alarm != NO_ALARM:
                return self._ask(q.ALARM, now)
            return self._ask(q.SYRINGE_STATUS, now)
        if pending == q.ALARM:
            cycle.alarm = decode_alarm(fields)
            return self._ask(q.SYRINGE_STATUS, now)
        syringe = decode_syringe(fields)
        assert cycle.inf is not None
        assert cycle.inf_at is not None
        exchange.readings.append(
            build_reading(self._target, cycle.inf_at, cycle.inf, cycle.vtbi, cycle.alarm, syringe)
        )
        self._failures = 0
        self._end_cycle(now)
        return b""
