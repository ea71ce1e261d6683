"""B. Braun BCC host conversation, sans I/O: ALIVE, MEM:GET polls, ACK/NAK, multi-block answers.

One conversation serves every pump of one ComDevice (one rack, one port). Sequence (fact
sheet §4 and §8)::

    open      -> ADMIN:ALIVE (bedId "1")       <- 50100,GNACK,0 (ETX)   take the bedId from it
    +0.1 s    -> ACK
    +0.5 s    -> MEM:GET (that bedId)          <- pump 11 block (ETB)
    +0.1 s    -> ACK                           <- pump 12 block (ETB)   ...
    +0.1 s    -> ACK                           <- pump 1x block (ETX)   readings emitted here
    +0.1 s    -> ACK
    next poll -> MEM:GET, ``poll_period_s`` after the previous one, >= 0.5 s after this ACK

Error handling:

- A bad block (framing, length, checksum, stuffing): NAK (after the same 0.1 s) and wait for
  the retransmission; more than ``max_naks`` NAKs in a row: give up and re-run ADMIN:ALIVE.
- A well-framed block whose records do not parse is ACKed (a retransmission would not fix
  it), reported in ``Exchange.errors`` and not counted in ``frames_ok``.
- No expected block within ``response_timeout_s`` of the request or of our last ACK/NAK:
  re-run ADMIN:ALIVE with bedId ``1``. So does a GNERR 68 answer (bad request); an ALIVE
  answer without GNACK is retried one poll period later.
- What the rack says about a pump instead of its data (GNERR 39, 811, 4x at its address; its
  slot absent; GNERR 11) goes to ``Exchange.device_errors`` (:mod:`.faults`).
- bedId: the first GNACK's bedId is learned (kept in ``bed_ids`` across conversations), unless
  ``expected_bed_id`` is given; an answer or a later ALIVE answer framed with another one
  (another rack on the line, a swapped cable) is ACKed but refused: no readings, a counted
  device error per pump, ALIVE again one poll period later.

Readings carry the arrival time of the block that held their pump. Timing is driven by
``tick`` (due at :meth:`BccConversation.next_tick_at`); ``receive`` never sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from drivers.base import BadFrame, DeviceTarget, Exchange, Instant, next_period
from drivers.bbraun_bcc.codec import Block, decode_answer
from drivers.bbraun_bcc.faults import SlotFaults, foreign_rack
from drivers.bbraun_bcc.framer import BccFramer
from drivers.bbraun_bcc.frames import BccFrame, Control
from drivers.bbraun_bcc.identity import BedIdMemory
from drivers.bbraun_bcc.records import (
    GENERAL_ADDRESS,
    INITIAL_BED_ID,
    Record,
    alive_request,
    is_slot,
    mem_get_request,
    split_records,
)
from drivers.errors import DecodeError

__all__ = [
    "ACK_DELAY_S",
    "MAX_NAKS",
    "MAX_PUMPS",
    "MIN_POLL_GAP_S",
    "BccConversation",
    "check_targets",
]

ACK_DELAY_S = 0.1
"""Wait after a block before answering ACK/NAK (spec p.9)."""
MIN_POLL_GAP_S = 0.5
"""Least time between the last ACK of an answer and the next request (spec p.10)."""
MAX_NAKS = 3
"""NAKs in a row for one block before the conversation starts over with ADMIN:ALIVE."""
MAX_PUMPS = 24
GNERR_BAD_REQUEST = 68
_SLACK_S = 1e-6  # a deadline computed as t + 0.1 is due at a tick at t + 0.1


def _reached(now: float, when: float) -> bool:
    return now >= when - _SLACK_S


def check_targets(targets: Sequence[DeviceTarget]) -> None:
    """Raise :class:`ValueError` unless ``targets`` are 1-24 pumps with distinct valid slots."""
    if not targets:
        raise ValueError("a B. Braun BCC port needs at least one pump")
    if len(targets) > MAX_PUMPS:
        raise ValueError(f"{len(targets)} pumps on one B. Braun BCC port (at most {MAX_PUMPS})")
    seen: set[str] = set()
    for target in targets:
        slot = target.address
        if slot is None or not is_slot(slot):
            raise ValueError(
                f"device {target.device_id!r}: address {slot!r} is not a B. Braun pump slot "
                "(pillar 1-3 then slot 1-9 or A-O, counted bottom-up, e.g. '11', '1A')"
            )
        if slot in seen:
            raise ValueError(f"device {target.device_id!r}: slot {slot} is used twice")
        seen.add(slot)


@dataclass(frozen=True, slots=True)
class _Reply:
    """An ACK or NAK due at ``due`` (monotonic s); ``last`` if it acknowledges an ETX block."""

    control: Control
    due: float
    last: bool = False


class BccConversation:
    """The host side of BCC request mode for the pumps ``targets`` of one ComDevice.

    Times in seconds. ``poll_period_s`` >= 0.5 is the MEM:GET interval; ``stuffing`` must
    match the ComDevice. :attr:`bed_id` is the ComDevice's name once ALIVE succeeded;
    ``expected_bed_id``, if given, is the only one accepted; else the one in ``bed_ids`` for
    these targets, else the first one answered (then remembered in ``bed_ids``).
    """

    def __init__(
        self,
        targets: Sequence[DeviceTarget],
        *,
        poll_period_s: float = 5.0,
        response_timeout_s: float = 5.0,
        stuffing: bool = True,
        ack_delay_s: float = ACK_DELAY_S,
        max_naks: int = MAX_NAKS,
        expected_bed_id: str | None = None,
        bed_ids: BedIdMemory | None = None,
    ) -> None:
        check_targets(targets)
        if poll_period_s < MIN_POLL_GAP_S:
            raise ValueError(f"poll_period_s must be at least {MIN_POLL_GAP_S} s")
        self._targets = tuple(targets)
        self._poll_period = poll_period_s
        self._timeout = response_timeout_s
        self._stuffing = stuffing
        self._ack_delay = ack_delay_s
        self._max_naks = max_naks
        self._framer = BccFramer(stuffing=stuffing)
        self.bed_id = INITIAL_BED_ID
        self._waiting: Literal["alive", "answer"] | None = None
        self._deadline = 0.0  # while waiting: when the expected block is overdue
        self._reply: _Reply | None = None
        self._next_at: float | None = None  # while idle: when to send the next request
        self._earliest_next = 0.0  # the next request not before this, whatever the ACK time
        self._next_alive = True
        self._alive_ok = False
        self._blocks: list[Block] = []
        self._naks = 0
        self._following_poll = 0.0  # monotonic s the poll after the last one is due
        self._bed_ids = bed_ids
        learned = bed_ids.get(self._targets) if bed_ids is not None else None
        self._learned = expected_bed_id or learned  # given, remembered, or the first GNACK's
        self._foreign: str | None = None  # another bedId seen in the current answer
        self._faults = SlotFaults(self._targets)

    def open(self, at: Instant) -> bytes:
        """Start the link: ADMIN:ALIVE with bedId ``1``."""
        return self._send_alive(at)

    def close(self, at: Instant) -> bytes:
        """BCC has no release request: stop, send nothing."""
        self._waiting, self._reply, self._next_at = None, None, None
        return b""

    def receive(self, data: bytes, at: Instant) -> Exchange:
        """Frame ``data``; schedule ACK/NAK; readings when the last block of an answer came."""
        exchange = Exchange()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                self._on_bad_frame(item, at, exchange)
            elif isinstance(item, BccFrame):
                self._on_block(item, at, exchange)
            # a stray ACK/NAK byte from the ComDevice means nothing to the host
        return exchange

    def next_tick_at(self) -> float | None:
        """When the pending ACK/NAK, the response timeout or the next request is due."""
        if self._reply is not None:
            return self._reply.due
        if self._waiting is not None:
            return self._deadline
        return self._next_at

    def tick(self, at: Instant) -> bytes:
        """Send a due ACK/NAK, re-run ALIVE after a timeout, or send the next request."""
        now = at.monotonic
        if self._reply is not None:
            return self._send_reply(now) if _reached(now, self._reply.due) else b""
        if self._waiting is not None:
            return self._send_alive(at) if _reached(now, self._deadline) else b""
        if self._next_at is not None and _reached(now, self._next_at):
            return self._send_alive(at) if self._next_alive else self._send_poll(now)
        return b""

    def _on_bad_frame(self, bad: BadFrame, at: Instant, exchange: Exchange) -> None:
        exchange.errors.append(bad.reason)
        if self._waiting is None or self._reply is not None:
            return
        self._naks += 1
        if self._naks > self._max_naks:
            self._start_over(at.monotonic + MIN_POLL_GAP_S)
            return
        self._reply = _Reply(Control.NAK, at.monotonic + self._ack_delay)

    def _on_block(self, frame: BccFrame, at: Instant, exchange: Exchange) -> None:
        expected = self._waiting is not None and (
            self._reply is None or self._reply.control is Control.NAK
        )
        records: tuple[Record, ...] = ()
        try:
            records = split_records(frame.information)
        except DecodeError as exc:
            exchange.errors.append(str(exc))
        else:
            exchange.frames_ok += 1
        if not expected:
            return  # unsolicited: counted, not acknowledged
        self._naks = 0
        self._reply = _Reply(Control.ACK, at.monotonic + self._ack_delay, frame.last)
        if self._waiting == "alive":
            self._on_alive_answer(frame, records, at, exchange)
        else:
            if frame.bed_id != self.bed_id:
                self._foreign = frame.bed_id
            self._blocks.append(Block(records, at))
            if frame.last:
                self._on_answer_complete(exchange, at)

    def _on_alive_answer(
        self, frame: BccFrame, records: tuple[Record, ...], at: Instant, exchange: Exchange
    ) -> None:
        if any(r.address == GENERAL_ADDRESS and r.parameter == "GNACK" for r in records):
            if self._learned is not None and frame.bed_id != self._learned:
                reason = foreign_rack(frame.bed_id, self._learned)
                exchange.device_errors.extend(self._faults.refused(reason))
            else:
                self._alive_ok = True
                self.bed_id = self._learned = frame.bed_id
                if self._bed_ids is not None:
                    self._bed_ids.learn(self._targets, frame.bed_id)
        if frame.last:
            self._next_alive = not self._alive_ok
            self._earliest_next = 0.0 if self._alive_ok else at.monotonic + self._poll_period

    def _on_answer_complete(self, exchange: Exchange, at: Instant) -> None:
        blocks, self._blocks = self._blocks, []
        if self._foreign is not None:
            reason = foreign_rack(self._foreign, self.bed_id)
            exchange.device_errors.extend(self._faults.refused(reason))
            self._foreign, self._next_alive = None, True
            self._earliest_next = at.monotonic + self._poll_period
            return
        answer = decode_answer(blocks, self._targets)
        exchange.readings.extend(answer.readings)
        exchange.errors.extend(answer.errors)
        exchange.device_errors.extend(self._faults.after_answer(answer))
        self._next_alive = answer.general_error == GNERR_BAD_REQUEST
        self._earliest_next = 0.0 if self._next_alive else self._following_poll

    def _send_reply(self, now: float) -> bytes:
        reply = self._reply
        assert reply is not None
        self._reply = None
        if reply.control is Control.ACK and reply.last:
            self._waiting = None
            self._next_at = max(now + MIN_POLL_GAP_S, self._earliest_next)
        else:
            self._deadline = now + self._timeout
        return reply.control.to_bytes()

    def _start_over(self, when: float) -> None:
        self._waiting, self._reply = None, None
        self._next_alive, self._next_at = True, when

    def _send_alive(self, at: Instant) -> bytes:
        self._framer.reset()
        self.bed_id = INITIAL_BED_ID
        self._blocks, self._naks, self._alive_ok, self._reply = [], 0, False, None
        self._foreign = None
        self._waiting, self._deadline = "alive", at.monotonic + self._timeout
        return alive_request().to_bytes(self._stuffing)

    def _send_poll(self, now: float) -> bytes:
        self._blocks, self._naks, self._foreign = [], 0, None
        self._waiting, self._deadline = "answer", now + self._timeout
        # a period after this poll was due, not after this tick (which may come a little late)
        self._following_poll = next_period(self._next_at, self._poll_period, now)
        return mem_get_request(self.bed_id).to_bytes(self._stuffing)
