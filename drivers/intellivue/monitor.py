"""The monitor side of IntelliVue data export, sans I/O: bytes in, bytes out, with a tick.

It uses the same frame and message code as the client, so a simulator process, or a test
wiring it to :class:`~.conversation.IntelliVueConversation` in memory, exercises both ends
(fact sheet §11.1)::

    UNASSOCIATED --Association Request--> Association Result + MDS Create --> CONFIGURING
    CONFIGURING  --MDS Create Result (invoke echoed)--> ASSOCIATED
                 (MDS Create re-sent every mds_create_retry_s; Abort after mds_create_abort_s)
    ASSOCIATED   Association Request -> Refuse; Poll -> result (sequence 0) and, for an
                 extended poll, one result per numeric_period_s while its active period
                 lasts; Release Request -> Release Result; Abort -> UNASSOCIATED
    any phase    no client message for the supervision timeout -> Abort

Time is the caller's monotonic ``now`` in seconds. The monitor's RelativeTime is
``rel_at_start`` at the ``now`` given to the constructor and runs at 8000 ticks/s; its wall
clock (naive, monitor-local) is ``wall_at_start`` at that moment. Values live in
:class:`~.monitor_values.MonitorValues`, a plain mutable dataclass: set them at any time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.base import BadFrame
from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    AssociationResult,
    PollProfile,
    Refuse,
    ReleaseRequest,
    ReleaseResult,
    UserInfo,
    supervision_timeout_s,
)
from drivers.intellivue.dataexport import EventReportResult, MdsCreateEvent, PollRequest
from drivers.intellivue.datatypes import Ava, encode_abs_time, encode_string, u16, u32
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.messages import Message, decode_message, wire
from drivers.intellivue.monitor_values import MonitorValues, numeric_objects
from drivers.intellivue.poll import ContextPoll, ObservationPoll, PollResult

__all__ = ["IntelliVueMonitor", "MonitorConfig", "MonitorPhase"]

_SERVER_PROFILE = PollProfile(min_poll_period=4000, max_mtu_rx=1000, max_mtu_tx=1456)


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """How the simulated monitor behaves. Defaults reproduce the fact sheet's S2/S3/S6.

    ``poll_profile`` is what the monitor grants at most (its ext options mask what it
    supports); ``nibp_time_stamps`` names the NIBP time attributes sent (``abs``, ``rel``);
    ``objects_per_message`` splits poll results into linked chains (``None``: never).
    """

    bed_label: str = "BED4"
    wall_at_start: datetime = datetime(2025, 3, 14, 9, 30)  # monitor-local, naive
    rel_at_start: int = 0x0012D687
    poll_profile: PollProfile = _SERVER_PROFILE
    numeric_period_s: float = 1.0
    mds_create_retry_s: float = 3.0
    mds_create_sends: int = 4
    mds_create_abort_s: float = 10.0
    nibp_time_stamps: tuple[str, ...] = ("abs", "rel")
    objects_per_message: int | None = None


class MonitorPhase(enum.Enum):
    """The monitor's association state."""

    UNASSOCIATED = "unassociated"
    CONFIGURING = "configuring"
    ASSOCIATED = "associated"


@dataclass(slots=True)
class _ExtendedPoll:
    request: PollRequest
    next_at: float
    until: float
    sequence_no: int = 0


class IntelliVueMonitor:
    """A simulated IntelliVue monitor's data-export port. ``values`` may be changed freely;
    ``associations`` counts accepted associations."""

    def __init__(
        self,
        values: MonitorValues | None = None,
        config: MonitorConfig | None = None,
        now: float = 0.0,
    ) -> None:
        self.values = values if values is not None else MonitorValues()
        self.config = config or MonitorConfig()
        self.associations = 0
        self._start = now
        self._framer = IntelliVueFramer()
        self._phase = MonitorPhase.UNASSOCIATED
        self._last_heard = self._configuring_since = self._mds_sent_at = now
        self._supervision_s = supervision_timeout_s(0)
        self._invoke = 0
        self._mds_sends = 0
        self._extended: _ExtendedPoll | None = None

    @property
    def phase(self) -> MonitorPhase:
        return self._phase

    def rel_time(self, now: float) -> int:
        """The monitor's RelativeTime (1/8 ms ticks, u32) at ``now``."""
        ticks = round((now - self._start) * codes.TICKS_PER_SECOND)
        return (self.config.rel_at_start + ticks) % (1 << 32)

    def wall_time(self, now: float) -> datetime:
        """The monitor's own wall clock (naive, local) at ``now``."""
        return self.config.wall_at_start + timedelta(seconds=now - self._start)

    def receive(self, data: bytes, now: float) -> bytes:
        """Handle bytes from the client; returns the bytes the monitor sends back."""
        out = bytearray()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                continue
            try:
                message = decode_message(item.user_data)
            except DecodeError:
                continue
            self._last_heard = now
            out += self._handle(message, now)
        return bytes(out)

    def tick(self, now: float) -> bytes:
        """Timed behaviour: supervision, MDS Create re-sends, periodic poll results."""
        if self._phase is MonitorPhase.UNASSOCIATED:
            return b""
        if now - self._last_heard >= self._supervision_s:
            return self._abort()
        if self._phase is MonitorPhase.CONFIGURING:
            if now - self._configuring_since >= self.config.mds_create_abort_s:
                return self._abort()
            retry_due = now - self._mds_sent_at >= self.config.mds_create_retry_s
            if retry_due and self._mds_sends < self.config.mds_create_sends:
                return self._mds_create(now)
            return b""
        return self._periodic_result(now)

    def _handle(self, message: Message, now: float) -> bytes:
        phase = self._phase
        match message:
            case AssociationRequest() if phase is MonitorPhase.UNASSOCIATED:
                return self._associate(message, now)
            case AssociationRequest():
                return wire(Refuse())
            case EventReportResult() if phase is MonitorPhase.CONFIGURING:
                if message.invoke_id == self._invoke:
                    self._phase = MonitorPhase.ASSOCIATED
            case PollRequest() if phase is MonitorPhase.ASSOCIATED:
                return self._poll(message, now)
            case ReleaseRequest() if phase is MonitorPhase.ASSOCIATED:
                self._drop()
                return wire(ReleaseResult())
            case Abort():
                self._drop()
        return b""

    def _associate(self, request: AssociationRequest, now: float) -> bytes:
        asked, offer = request.user_info.poll_profile, self.config.poll_profile
        granted = (asked.ext_options or 0) & (offer.ext_options or 0)
        profile = PollProfile(
            min_poll_period=max(asked.min_poll_period, offer.min_poll_period),
            max_mtu_rx=offer.max_mtu_rx,
            max_mtu_tx=offer.max_mtu_tx,
            ext_options=granted if granted & codes.POLL_EXT_PERIOD_MASK else None,
        )
        self._phase = MonitorPhase.CONFIGURING
        self._supervision_s = supervision_timeout_s(profile.min_poll_period)
        self._configuring_since = now
        self._invoke = self._invoke % 0xFFFF + 1
        self._mds_sends = 0
        self.associations += 1
        result = AssociationResult(UserInfo(codes.SYST_SERVER, profile))
        return wire(result) + self._mds_create(now)

    def _mds_create(self, now: float) -> bytes:
        self._mds_sends += 1
        self._mds_sent_at = now
        rel = self.rel_time(now)
        attributes = (
            Ava(codes.NOM_ATTR_SYS_TYPE, u16(codes.NOM_PART_OBJ) + u16(0x114D)),
            Ava(codes.NOM_ATTR_ID_BED_LABEL, encode_string(self.config.bed_label)),
            Ava(codes.NOM_ATTR_TIME_ABS, encode_abs_time(self.wall_time(now))),
            Ava(codes.NOM_ATTR_TIME_REL, u32(rel)),
            Ava(codes.NOM_ATTR_VMS_MDS_STAT, u16(codes.MDS_STAT_OPERATING)),
        )
        return wire(MdsCreateEvent(self._invoke, rel, attributes))

    def _poll(self, request: PollRequest, now: float) -> bytes:
        if request.extended and request.obj_class == codes.NOM_MOC_VMO_METRIC_NU:
            self._extended = None  # a new extended numerics poll replaces the running one
            if period := request.active_period:
                until = now + period / codes.TICKS_PER_SECOND
                self._extended = _ExtendedPoll(request, now + self.config.numeric_period_s, until)
        return self._result(request, 0, now)

    def _periodic_result(self, now: float) -> bytes:
        poll = self._extended
        if poll is None or now < poll.next_at:
            return b""
        if poll.next_at >= poll.until:
            self._extended = None
            return b""
        poll.sequence_no = (poll.sequence_no + 1) % 0x10000
        poll.next_at = max(poll.next_at, now) + self.config.numeric_period_s
        return self._result(poll.request, poll.sequence_no, now)

    def _result(self, request: PollRequest, sequence_no: int, now: float) -> bytes:
        objects: tuple[ObservationPoll, ...] = ()
        if request.obj_class == codes.NOM_MOC_VMO_METRIC_NU:
            objects = numeric_objects(
                self.values, self.rel_time, self.wall_time, self.config.nibp_time_stamps
            )
        size = self.config.objects_per_message
        if size is None or len(objects) <= size:
            return self._wire_result(request, sequence_no, now, (ContextPoll(0, objects),))
        chunks = [objects[i : i + size] for i in range(0, len(objects), size)]
        out = b"".join(
            self._wire_result(
                request,
                sequence_no,
                now,
                (ContextPoll(0, chunk),),
                (_linked_state(index, len(chunks)), index),
            )
            for index, chunk in enumerate(chunks, 1)
        )
        return out + self._wire_result(request, sequence_no, now, ())

    def _wire_result(
        self,
        request: PollRequest,
        sequence_no: int,
        now: float,
        contexts: tuple[ContextPoll, ...],
        linked: tuple[int, int] | None = None,
    ) -> bytes:
        result = PollResult(
            invoke_id=request.invoke_id,
            poll_number=request.poll_number,
            rel_time=self.rel_time(now),
            contexts=contexts,
            extended=request.extended,
            sequence_no=sequence_no,
            obj_class=request.obj_class,
            attr_group=request.attr_group,
            linked=linked,
        )
        return wire(result)

    def _abort(self) -> bytes:
        self._drop()
        return wire(Abort())

    def _drop(self) -> None:
        self._phase = MonitorPhase.UNASSOCIATED
        self._extended = None


def _linked_state(index: int, count: int) -> int:
    if index == 1:
        return codes.RORLS_FIRST
    return codes.RORLS_LAST if index == count else codes.RORLS_NOT_FIRST_NOT_LAST
