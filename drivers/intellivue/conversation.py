"""The IntelliVue client conversation, sans I/O (fact sheet §4, §8, §11).

::

    open ──> ASSOCIATING ──AssociationResult──> CONFIGURING ──MDS Create──> POLLING
      ^       (AARQ sent)   (options granted)    (await MDS)    (answered,   (Extended Poll
      │                                                          first poll)  every poll_period_s)
      │   no answer (association_retry_s), no MDS Create (association_timeout_s), or no
      │   numerics (poll_timeout_s): Abort + Association Request at once
      │   Refuse of the first request after open (the monitor still holds our association
      │   from before the link was reopened): Abort + Association Request at once
      │   Refuse / Abort / Release Request from the monitor, or options not granted:
      └── BACKOFF (retry_backoff_s, doubled per failure in a row, capped) -> Abort + request

Every re-association starts with an Abort, so a monitor still holding our previous
association (the port has one client, so any association it holds is ours) drops it instead
of refusing the new request. The MDS Create event is answered whenever it arrives. When the
client has sent nothing for half the monitor's supervision timeout (derived from the granted
min_poll_period, fact sheet §11) it sends the recommended keep-alive, a single poll of the
Alert Monitor's static context. ``close`` releases a running association (Release Request)
or aborts one being set up.

Polls go out only once associated: after the Association Result, then the MDS Create
(answered even before the Association Result, without polling). Poll results are taken
only for the client's own outstanding invoke ids, in sequence, and linked series only whole
(:mod:`.results`); one reading per complete numerics result. ``Exchange.frames_ok`` counts
good frames; ``Exchange.errors`` gets one reason per bad frame, undecodable message, monitor
error or reject (with its value), foreign or out-of-sequence result, gap of lost results,
dropped linked series, and per value the codec invalidated (unit mismatch). ``counts`` keeps
the protocol-fault totals (:class:`~.results.ResultCounts`).
"""

from __future__ import annotations

import enum

from drivers.base import BadFrame, DeviceTarget, Exchange, Instant, next_period
from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    AssociationResult,
    Refuse,
    ReleaseRequest,
    ReleaseResult,
    supervision_timeout_s,
)
from drivers.intellivue.codec import decode_numerics
from drivers.intellivue.dataexport import (
    ErrorResult,
    EventReport,
    EventReportResult,
    MdsCreateEvent,
    PollRequest,
    RejectResult,
)
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.messages import Message, decode_message, wire
from drivers.intellivue.options import IntelliVueOptions
from drivers.intellivue.poll import PollResult
from drivers.intellivue.results import ResultCounts, ResultTracker
from drivers.intellivue.timebase import FirstSeen, MonitorClock, RelativeAnchor

__all__ = ["IntelliVueConversation", "Phase"]


class Phase(enum.Enum):
    """Where the client is in the association."""

    IDLE = "idle"
    ASSOCIATING = "associating"
    CONFIGURING = "configuring"
    POLLING = "polling"
    BACKOFF = "backoff"
    CLOSED = "closed"


class IntelliVueConversation:
    """The client side of one IntelliVue MIB/RS232 link (one monitor per port)."""

    def __init__(self, target: DeviceTarget, options: IntelliVueOptions | None = None) -> None:
        self._target = target
        self._options = options = options or IntelliVueOptions()
        self._framer = IntelliVueFramer()
        self._phase = Phase.IDLE
        self.last_failure: str | None = None
        """Why the last association ended or failed, for status displays."""
        self._deadline = self._next_poll = self._last_data = 0.0
        self._last_sent = self._retry_at = 0.0
        self._failures = 0
        self._aborted_first = False  # the pending request followed an Abort
        self._supervision_s = supervision_timeout_s(0)
        self._invoke = self._poll_number = 0
        self._clock: MonitorClock | None = None
        self._first_seen = FirstSeen()
        self._anchor = RelativeAnchor()  # one stable stamp per cuff across polls
        self._results = ResultTracker()

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def counts(self) -> ResultCounts:
        """Protocol faults counted on this link (lost, foreign, incomplete results ...)."""
        return self._results.counts

    def open(self, at: Instant) -> bytes:
        """The Association Request; call once after the link opened."""
        self._failures = 0
        return self._associate(at, abort_first=False)

    def receive(self, data: bytes, at: Instant) -> Exchange:
        """Frame and handle ``data``; never raises."""
        exchange = Exchange()
        out = bytearray()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                exchange.errors.append(item.reason)
                continue
            try:
                out += self._handle(decode_message(item.user_data), at, exchange)
            except DecodeError as exc:
                exchange.errors.append(str(exc))
            else:
                exchange.frames_ok += 1
        if out:
            self._last_sent = at.monotonic
        exchange.send = bytes(out)
        return exchange

    def next_tick_at(self) -> float | None:
        """When the association timeout, the retry, or (while polling) the poll timeout, the
        next poll or the next keep-alive is due."""
        if self._phase in (Phase.ASSOCIATING, Phase.CONFIGURING):
            return self._deadline
        if self._phase is Phase.BACKOFF:
            return self._retry_at
        if self._phase is Phase.POLLING:
            return min(
                self._last_data + self._options.poll_timeout_s,
                self._next_poll,
                self._last_sent + self._supervision_s / 2,
            )
        return None

    def tick(self, at: Instant) -> bytes:
        """Timeouts, retries, polls and keep-alives due at ``at``."""
        options, now_s = self._options, at.monotonic
        if self._phase is Phase.ASSOCIATING and now_s >= self._deadline:
            self.last_failure = f"no Association Result within {options.association_retry_s:g} s"
            return self._associate(at, abort_first=True)
        if self._phase is Phase.CONFIGURING and now_s >= self._deadline:
            self.last_failure = f"no MDS Create within {options.association_timeout_s:g} s"
            return self._associate(at, abort_first=True)
        if self._phase is Phase.BACKOFF and now_s >= self._retry_at:
            return self._associate(at, abort_first=True)
        if self._phase is not Phase.POLLING:
            return b""
        if now_s - self._last_data >= options.poll_timeout_s:
            self.last_failure = f"no poll result within {options.poll_timeout_s:g} s"
            return self._associate(at, abort_first=True)
        if now_s >= self._next_poll:
            return self._poll(at)
        if now_s - self._last_sent >= self._supervision_s / 2:
            return self._send(
                PollRequest.keep_alive(self._next_invoke(), self._next_poll_number()), at
            )
        return b""

    def close(self, at: Instant) -> bytes:
        """A Release Request when associated, an Abort while associating, else nothing."""
        phase, self._phase = self._phase, Phase.CLOSED
        if phase is Phase.POLLING:
            return wire(ReleaseRequest())
        if phase in (Phase.ASSOCIATING, Phase.CONFIGURING):
            return wire(Abort())
        return b""

    # -- handling received messages ---------------------------------------------------------

    def _handle(self, message: Message, at: Instant, exchange: Exchange) -> bytes:
        if self._phase in (Phase.IDLE, Phase.CLOSED):
            return b""
        associated = self._phase in (Phase.ASSOCIATING, Phase.CONFIGURING, Phase.POLLING)
        match message:
            case AssociationResult():
                return self._on_accept(message, at)
            case Refuse() if self._phase is Phase.ASSOCIATING and not self._aborted_first:
                return self._associate(at, abort_first=True)  # it held our old association
            case Refuse() if self._phase is Phase.ASSOCIATING:
                self._fail("association refused by the monitor", at)
            case MdsCreateEvent():
                return self._on_mds_create(message, at)
            case EventReport() if message.command_type == codes.CMD_CONFIRMED_EVENT_REPORT:
                return wire(EventReportResult.answering(message))
            case PollResult():
                return self._on_poll_result(message, at, exchange)
            case ErrorResult():
                self._results.counts.remote_errors += 1
                self._remote_failure(
                    message.invoke_id,
                    f"monitor error {message.name} ({message.error_value})",
                    exchange,
                )
            case RejectResult():
                self._results.counts.rejects += 1
                self._remote_failure(
                    message.invoke_id, f"monitor reject (problem {message.problem})", exchange
                )
            case ReleaseRequest() if associated:
                self._fail("association released by the monitor", at)
                return wire(ReleaseResult())
            case Abort() if associated:
                self._fail("association aborted by the monitor", at)
        return b""

    def _on_accept(self, result: AssociationResult, at: Instant) -> bytes:
        if self._phase is not Phase.ASSOCIATING:
            return b""
        profile = result.user_info.poll_profile
        granted = profile.ext_options or 0
        if not granted & codes.POLL_EXT_PERIOD_NU_1SEC:
            reason = f"monitor did not grant 1 s numerics polling (options 0x{granted:08X})"
            self._fail(reason, at)
            return wire(Abort())
        self._supervision_s = supervision_timeout_s(profile.min_poll_period)
        self._phase = Phase.CONFIGURING
        self._deadline = at.monotonic + self._options.association_timeout_s
        return b""

    def _on_mds_create(self, event: MdsCreateEvent, at: Instant) -> bytes:
        reply = wire(EventReportResult.answering(event))
        self._clock = MonitorClock.from_event(event)  # a restarted monitor has a new clock
        self._anchor.reset()
        if self._phase is Phase.CONFIGURING:  # never before the Association Result
            self._phase = Phase.POLLING
            self._failures = 0
            self._last_data = self._next_poll = at.monotonic  # the first poll, due now
            reply += self._poll(at)
        return reply

    def _on_poll_result(self, result: PollResult, at: Instant, exchange: Exchange) -> bytes:
        if self._phase is not Phase.POLLING:
            return b""  # results of an earlier association
        objects = self._results.accept(result, exchange.errors)
        if objects is None or result.obj_class != codes.NOM_MOC_VMO_METRIC_NU:
            return b""  # incomplete, dropped, or a keep-alive answer
        self._last_data = at.monotonic
        decoded = decode_numerics(
            objects, result.rel_time, self._target, at, self._clock, self._first_seen, self._anchor
        )
        exchange.errors.extend(decoded.problems)
        if decoded.reading is not None:
            exchange.readings.append(decoded.reading)
        return b""

    def _remote_failure(self, invoke_id: int, what: str, exchange: Exchange) -> None:
        own = self._results.ended(invoke_id)
        exchange.errors.append(f"{what} for {'' if own else 'foreign '}invoke {invoke_id}")

    # -- sending ----------------------------------------------------------------------------

    def _associate(self, at: Instant, *, abort_first: bool) -> bytes:
        self._phase = Phase.ASSOCIATING
        self._deadline = at.monotonic + self._options.association_retry_s
        self._aborted_first = abort_first
        self._last_sent = at.monotonic
        self._results.reset()
        request = wire(AssociationRequest())
        return wire(Abort()) + request if abort_first else request

    def _fail(self, reason: str, at: Instant) -> None:
        options = self._options
        self.last_failure = reason
        self._failures += 1
        doubling = 2 ** min(self._failures - 1, 16)
        delay = min(options.retry_backoff_s * doubling, options.retry_backoff_max_s)
        self._retry_at = at.monotonic + delay
        self._phase = Phase.BACKOFF
        self._results.reset()

    def _poll(self, at: Instant) -> bytes:
        ticks = round(self._options.active_period_s * codes.TICKS_PER_SECOND)
        self._next_poll = next_period(self._next_poll, self._options.poll_period_s, at.monotonic)
        return self._send(
            PollRequest.numerics(self._next_invoke(), self._next_poll_number(), ticks), at
        )

    def _send(self, request: PollRequest, at: Instant) -> bytes:
        self._last_sent = at.monotonic
        self._results.sent(request)
        return wire(request)

    def _next_invoke(self) -> int:
        self._invoke = self._invoke % 0xFFFF + 1
        return self._invoke

    def _next_poll_number(self) -> int:
        self._poll_number = self._poll_number % 0xFFFF + 1
        return self._poll_number
