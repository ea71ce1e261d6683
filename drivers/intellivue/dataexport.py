"""IntelliVue data-export messages other than poll results (fact sheet §8.1-§8.3, §6.2).

Bodies after the 14-byte SPpdu/ROapdus/remote-operation header (:mod:`.remote`)::

    Event report (ROIV, command 1 confirmed or 0):
        managed_object 6 | event_time u32 | event_type u16 | length u16 | event info
        MDS create (event_type 0x0D06) info: managed_object 6 | AttributeList
    Event report result (RORS, command 1):
        managed_object 6 | current_time u32 | event_type u16 | length u16 (0)
    Poll request (ROIV, command 7 confirmed action):
        managed_object 6 | scope u32 (0) | action_type u16 | length u16
        | poll_number u16 | partition u16 | obj_class u16 | attr_group u16
        | [extended, action 0xF13B: AttributeList, e.g. 0xF13E active period u32 1/8 ms]
    Error (ROER): parameter bytes (invoke_id and error_value are in the header)
    Reject (RORJ): parameter bytes (invoke_id and problem are in the header)

All times are RelativeTime ticks (1/8 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.datatypes import (
    Ava,
    ObjectId,
    Reader,
    decode_attributes,
    encode_attributes,
    u16,
    u32,
)
from drivers.intellivue.remote import RemoteOp, encode_op

__all__ = [
    "MDS",
    "ErrorResult",
    "EventReport",
    "EventReportResult",
    "MdsCreateEvent",
    "PollRequest",
    "RejectResult",
    "decode_event_report",
]

MDS: Final = ObjectId(codes.NOM_MOC_VMS_MDS)
_POLL_ACTIONS = {codes.NOM_ACT_POLL_MDIB_DATA: False, codes.NOM_ACT_POLL_MDIB_DATA_EXT: True}


def _expect(op: RemoteOp, ro_type: int, what: str) -> Reader:
    if op.ro_type != ro_type:
        raise DecodeError(f"{what}: ro_type {op.ro_type}, expected {ro_type}")
    return Reader(op.body, what)


def _event_argument(managed_object: ObjectId, time: int, event_type: int, info: bytes) -> bytes:
    return managed_object.to_bytes() + u32(time) + u16(event_type) + u16(len(info)) + info


@dataclass(frozen=True, slots=True)
class MdsCreateEvent:
    """Monitor -> client right after the association: the MDS and its attributes (bed label,
    TIME_ABS/TIME_REL clock pair ...). Must be answered with an :class:`EventReportResult`."""

    invoke_id: int
    event_time: int
    attributes: tuple[Ava, ...]
    command_type: int = codes.CMD_CONFIRMED_EVENT_REPORT
    managed_object: ObjectId = MDS
    mds: ObjectId = MDS

    def to_bytes(self) -> bytes:
        info = self.mds.to_bytes() + encode_attributes(self.attributes)
        arg = _event_argument(self.managed_object, self.event_time, codes.NOM_NOTI_MDS_CREAT, info)
        return encode_op(RemoteOp(codes.ROIV, self.invoke_id, self.command_type, arg))

    def attribute(self, attr_id: int) -> bytes | None:
        """The value of the first attribute ``attr_id``, if present."""
        return next((ava.value for ava in self.attributes if ava.attr_id == attr_id), None)


@dataclass(frozen=True, slots=True)
class EventReport:
    """Any other event report; ``info`` is kept raw."""

    invoke_id: int
    event_time: int
    event_type: int
    info: bytes
    command_type: int = codes.CMD_CONFIRMED_EVENT_REPORT
    managed_object: ObjectId = MDS

    def to_bytes(self) -> bytes:
        arg = _event_argument(self.managed_object, self.event_time, self.event_type, self.info)
        return encode_op(RemoteOp(codes.ROIV, self.invoke_id, self.command_type, arg))


def decode_event_report(op: RemoteOp) -> MdsCreateEvent | EventReport:
    """An event report (ROIV, command 0 or 1); MDS create events are parsed further."""
    reader = _expect(op, codes.ROIV, "event report")
    managed_object, time, event_type = ObjectId.read(reader), reader.u32(), reader.u16()
    info = Reader(reader.take(reader.u16()), "MDS create info")
    reader.end()
    if event_type != codes.NOM_NOTI_MDS_CREAT:
        return EventReport(op.invoke_id, time, event_type, info.rest(), op.command, managed_object)
    mds = ObjectId.read(info)
    attributes = decode_attributes(info)
    info.end()
    return MdsCreateEvent(op.invoke_id, time, attributes, op.command, managed_object, mds)


@dataclass(frozen=True, slots=True)
class EventReportResult:
    """Client -> monitor: confirms an event report (the MDS create result, fact sheet S4)."""

    invoke_id: int
    current_time: int
    event_type: int = codes.NOM_NOTI_MDS_CREAT
    command_type: int = codes.CMD_CONFIRMED_EVENT_REPORT
    managed_object: ObjectId = MDS

    @classmethod
    def answering(cls, report: MdsCreateEvent | EventReport) -> Self:
        """The result for ``report``: its invoke id, object and time echoed."""
        event_type = (
            report.event_type if isinstance(report, EventReport) else codes.NOM_NOTI_MDS_CREAT
        )
        return cls(
            invoke_id=report.invoke_id,
            current_time=report.event_time,
            event_type=event_type,
            command_type=report.command_type,
            managed_object=report.managed_object,
        )

    def to_bytes(self) -> bytes:
        arg = _event_argument(self.managed_object, self.current_time, self.event_type, b"")
        return encode_op(RemoteOp(codes.RORS, self.invoke_id, self.command_type, arg))

    @classmethod
    def from_op(cls, op: RemoteOp) -> Self:
        reader = _expect(op, codes.RORS, "event report result")
        managed_object, time, event_type = ObjectId.read(reader), reader.u32(), reader.u16()
        reader.take(reader.u16())
        reader.end()
        return cls(op.invoke_id, time, event_type, op.command, managed_object)


@dataclass(frozen=True, slots=True)
class PollRequest:
    """Client -> monitor: poll objects of ``obj_class`` for ``attr_group``; ``extended``
    polls carry ``ext_attributes`` (the active period, :attr:`active_period` in ticks)."""

    invoke_id: int
    poll_number: int
    obj_class: int = codes.NOM_MOC_VMO_METRIC_NU
    attr_group: int = codes.NOM_ATTR_GRP_METRIC_VAL_OBS
    extended: bool = True
    ext_attributes: tuple[Ava, ...] = ()
    partition: int = codes.NOM_PART_OBJ
    managed_object: ObjectId = MDS
    scope: int = 0

    @classmethod
    def numerics(cls, invoke_id: int, poll_number: int, period_ticks: int | None) -> Self:
        """An extended poll of the numerics' observed values, active ``period_ticks``."""
        if period_ticks is None:
            return cls(invoke_id, poll_number)
        period = Ava(codes.NOM_ATTR_TIME_PD_POLL, u32(period_ticks))
        return cls(invoke_id, poll_number, ext_attributes=(period,))

    @classmethod
    def keep_alive(cls, invoke_id: int, poll_number: int) -> Self:
        """The recommended keep-alive: a single poll of the Alert Monitor's static context."""
        return cls(
            invoke_id, poll_number, codes.NOM_MOC_VMO_AL_MON, codes.NOM_ATTR_GRP_VMO_STATIC, False
        )

    @property
    def active_period(self) -> int | None:
        """NOM_ATTR_TIME_PD_POLL in 1/8 ms ticks, if present and well-formed."""
        for ava in self.ext_attributes:
            if ava.attr_id == codes.NOM_ATTR_TIME_PD_POLL and len(ava.value) == 4:
                return int.from_bytes(ava.value)
        return None

    def to_bytes(self) -> bytes:
        request = u16(self.poll_number) + u16(self.partition) + u16(self.obj_class)
        request += u16(self.attr_group)
        if self.extended:
            request += encode_attributes(self.ext_attributes)
        action = codes.NOM_ACT_POLL_MDIB_DATA_EXT if self.extended else codes.NOM_ACT_POLL_MDIB_DATA
        body = self.managed_object.to_bytes() + u32(self.scope) + u16(action)
        body += u16(len(request)) + request
        return encode_op(RemoteOp(codes.ROIV, self.invoke_id, codes.CMD_CONFIRMED_ACTION, body))

    @classmethod
    def from_op(cls, op: RemoteOp) -> Self:
        reader = _expect(op, codes.ROIV, "poll request")
        managed_object, scope, action = ObjectId.read(reader), reader.u32(), reader.u16()
        if action not in _POLL_ACTIONS:
            raise DecodeError(f"action request: unsupported action type 0x{action:04X}")
        extended = _POLL_ACTIONS[action]
        request = Reader(reader.take(reader.u16()), "poll request")
        reader.end()
        number, partition, obj_class, group = (request.u16() for _ in range(4))
        attrs = decode_attributes(request) if extended else ()
        request.end()
        return cls(
            invoke_id=op.invoke_id,
            poll_number=number,
            obj_class=obj_class,
            attr_group=group,
            extended=extended,
            ext_attributes=attrs,
            partition=partition,
            managed_object=managed_object,
            scope=scope,
        )


@dataclass(frozen=True, slots=True)
class ErrorResult:
    """Monitor -> client (ROER): the invoke ``invoke_id`` failed with ``error_value``."""

    invoke_id: int
    error_value: int
    parameter: bytes = b""

    @property
    def name(self) -> str:
        """The error's name, e.g. ``NO_SUCH_ACTION``."""
        return codes.ERROR_NAMES.get(self.error_value, f"error {self.error_value}")

    def to_bytes(self) -> bytes:
        op = RemoteOp(codes.ROER, self.invoke_id, self.error_value, self.parameter)
        return encode_op(op)

    @classmethod
    def from_op(cls, op: RemoteOp) -> Self:
        _expect(op, codes.ROER, "error result")
        return cls(op.invoke_id, op.command, op.body)


@dataclass(frozen=True, slots=True)
class RejectResult:
    """Monitor -> client (RORJ, ro_type 4): the invoke ``invoke_id`` was rejected with
    ``problem`` (not on the fact sheet; same header layout as a ROER)."""

    invoke_id: int
    problem: int
    parameter: bytes = b""

    def to_bytes(self) -> bytes:
        return encode_op(RemoteOp(codes.RORJ, self.invoke_id, self.problem, self.parameter))

    @classmethod
    def from_op(cls, op: RemoteOp) -> Self:
        _expect(op, codes.RORJ, "reject")
        return cls(op.invoke_id, op.command, op.body)
