"""Every IntelliVue message this driver speaks, and the one function that classifies them.

The user data of a frame is one message (fact sheet §3). Association-control messages are
told apart by their first byte; data-export messages start ``E1 00`` and are told apart by
ro_type, command type and event/action type:

=========  ==============================  ==================================
first      message                         class
=========  ==============================  ==================================
0x0D       Association Request             :class:`AssociationRequest`
0x0E       Association Result (accept)     :class:`AssociationResult`
0x0C       Refuse                          :class:`Refuse`
0x09       Release Request                 :class:`ReleaseRequest`
0x0A       Release Result                  :class:`ReleaseResult`
0x19       Abort                           :class:`Abort`
E1 00      ROIV event report 0x0D06        :class:`MdsCreateEvent`
E1 00      ROIV other event report         :class:`EventReport`
E1 00      RORS event report result        :class:`EventReportResult`
E1 00      ROIV action: poll (ext)         :class:`PollRequest`
E1 00      RORS/ROLRS action: poll (ext)   :class:`PollResult`
E1 00      ROER                            :class:`ErrorResult`
E1 00      RORJ                            :class:`RejectResult`
=========  ==============================  ==================================
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    AssociationResult,
    Refuse,
    ReleaseRequest,
    ReleaseResult,
)
from drivers.intellivue.dataexport import (
    ErrorResult,
    EventReport,
    EventReportResult,
    MdsCreateEvent,
    PollRequest,
    RejectResult,
    decode_event_report,
)
from drivers.intellivue.frames import Frame
from drivers.intellivue.poll import PollResult
from drivers.intellivue.remote import DATA_EXPORT_PREFIX, RemoteOp, parse_op

__all__ = ["Message", "decode_message", "wire"]

Message = (
    AssociationRequest
    | AssociationResult
    | Refuse
    | ReleaseRequest
    | ReleaseResult
    | Abort
    | MdsCreateEvent
    | EventReport
    | EventReportResult
    | PollRequest
    | PollResult
    | ErrorResult
    | RejectResult
)

_BY_FIRST_BYTE: dict[int, Callable[[bytes], Message]] = {
    0x0D: AssociationRequest.from_bytes,
    0x0E: AssociationResult.from_bytes,
    0x0C: Refuse.from_bytes,
    0x09: ReleaseRequest.from_bytes,
    0x0A: ReleaseResult.from_bytes,
    0x19: Abort.from_bytes,
}
_EVENT_COMMANDS = frozenset((codes.CMD_EVENT_REPORT, codes.CMD_CONFIRMED_EVENT_REPORT))
_BY_OPERATION: dict[tuple[int, int], Callable[[RemoteOp], Message]] = {
    **{(codes.ROIV, command): decode_event_report for command in _EVENT_COMMANDS},
    **{(codes.RORS, command): EventReportResult.from_op for command in _EVENT_COMMANDS},
    (codes.ROIV, codes.CMD_CONFIRMED_ACTION): PollRequest.from_op,
    (codes.RORS, codes.CMD_CONFIRMED_ACTION): PollResult.from_op,
    (codes.ROLRS, codes.CMD_CONFIRMED_ACTION): PollResult.from_op,
}


def decode_message(data: bytes) -> Message:
    """The message in a frame's user data; raises :class:`DecodeError` (and nothing else)
    for anything malformed or unsupported."""
    if data.startswith(DATA_EXPORT_PREFIX):
        op = parse_op(data)
        if op.ro_type == codes.ROER:
            return ErrorResult.from_op(op)
        if op.ro_type == codes.RORJ:
            return RejectResult.from_op(op)
        decode = _BY_OPERATION.get((op.ro_type, op.command))
        if decode is None:
            raise DecodeError(
                f"unsupported data-export message (ro_type {op.ro_type}, command {op.command})"
            )
        return decode(op)
    if not data:
        raise DecodeError("empty message")
    decode_spdu = _BY_FIRST_BYTE.get(data[0])
    if decode_spdu is None:
        raise DecodeError(f"unknown message type 0x{data[0]:02X}")
    return decode_spdu(data)


def wire(message: Message) -> bytes:
    """``message`` framed for the wire (BOF, escaped content with FCS, EOF)."""
    return Frame(message.to_bytes()).to_bytes()
