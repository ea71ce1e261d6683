"""IntelliVue data-export headers (fact sheet §6): SPpdu, ROapdus and the remote-operation
header, shared by every data-export message.

Wire layout (all u16 big-endian)::

    SPpdu      session_id 0xE100 | p_context_id 0x0002
    ROapdus    ro_type | length                          (bytes after this field)
    ROIV/RORS  invoke_id | command_type | length         (bytes after this field)
    ROER       invoke_id | error_value  | length
    RORJ       invoke_id | problem      | length
    ROLRS      state u8 | count u8 | invoke_id | command_type | length

ro_type: 1 ROIV (invoke), 2 RORS (result), 3 ROER (error), 4 RORJ (reject), 5 ROLRS
(linked result).
Both length fields are checked against the bytes actually present.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.datatypes import Reader, u16

__all__ = ["DATA_EXPORT_PREFIX", "RemoteOp", "encode_op", "parse_op"]

DATA_EXPORT_PREFIX = u16(codes.SESSION_ID)
_RO_TYPES = frozenset((codes.ROIV, codes.RORS, codes.ROER, codes.RORJ, codes.ROLRS))


@dataclass(frozen=True, slots=True)
class RemoteOp:
    """One data-export message split at its headers.

    ``command`` is the command_type, the error_value of a ROER or the problem of a RORJ;
    ``linked`` is the ROLRS (state, count); ``body`` is everything after the remote-operation
    header.
    """

    ro_type: int
    invoke_id: int
    command: int
    body: bytes
    linked: tuple[int, int] | None = None


def encode_op(op: RemoteOp) -> bytes:
    """The user data of a data-export message."""
    header = u16(op.invoke_id) + u16(op.command) + u16(len(op.body))
    if op.ro_type == codes.ROLRS:
        state, count = op.linked or (codes.RORLS_FIRST, 1)
        header = bytes((state, count)) + header
    apdu = header + op.body
    return DATA_EXPORT_PREFIX + u16(codes.P_CONTEXT_ID) + u16(op.ro_type) + u16(len(apdu)) + apdu


def parse_op(data: bytes) -> RemoteOp:
    """Split a data-export message; raises :class:`DecodeError` on a bad header or length."""
    reader = Reader(data, "data-export message")
    if reader.u16() != codes.SESSION_ID:
        raise DecodeError("data-export message: session id is not 0xE100")
    reader.u16()  # p_context_id
    ro_type = reader.u16()
    if ro_type not in _RO_TYPES:
        raise DecodeError(f"data-export message: unknown ro_type {ro_type}")
    _check_length(reader, "ROapdus")
    linked = (reader.u8(), reader.u8()) if ro_type == codes.ROLRS else None
    invoke_id, command = reader.u16(), reader.u16()
    _check_length(reader, "remote-operation header")
    return RemoteOp(ro_type, invoke_id, command, reader.rest(), linked)


def _check_length(reader: Reader, what: str) -> None:
    length = reader.u16()
    if length != reader.remaining:
        raise DecodeError(f"{what}: length {length} but {reader.remaining} bytes follow")
