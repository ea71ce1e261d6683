r"""IntelliVue MIB/RS232 transport frame (fact sheet §2): one frame carries one message.

Wire layout (before transparency escaping)::

    +------+--------+--------+------------+-------------+-----------+------+
    | BOF  | proto  | msg    | length     | user data   | FCS       | EOF  |
    | 0xC0 | 0x11   | 0x01   | u16 BE = n | n bytes     | u16 LE    | 0xC1 |
    +------+--------+--------+------------+-------------+-----------+------+
             \________________ escaped, FCS computed over ________/
                                (header + user data, unescaped)

- FCS: PPP FCS-16 of RFC 1662 (CRC-16/X-25): reflected polynomial 0x8408, initial 0xFFFF,
  complemented, sent **low byte first**. The running FCS over header + data + the two FCS
  bytes is 0xF0B8 when intact (:data:`~drivers.checksums.FCS16_GOOD`).
- Transparency: between BOF and EOF every 0xC0, 0xC1 and 0x7D (header, data and FCS alike)
  is sent as 0x7D followed by the byte XOR 0x20. BOF and EOF are never escaped.
- ``0x7D 0xC1`` aborts the frame being sent. A 0xC0 always starts a new frame.

:class:`Frame` is the unescaped frame; :meth:`Frame.to_bytes` / :meth:`Frame.from_bytes` give
and take the complete wire form, :func:`parse_content` checks the unescaped bytes between BOF
and EOF (the framer's job).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

from drivers.base import BadFrame
from drivers.checksums import FCS16_GOOD, fcs16, fcs16_update
from drivers.errors import DecodeError

__all__ = [
    "BOF",
    "EOF",
    "ESC",
    "MAX_USER_DATA",
    "MESSAGE_TYPE",
    "PROTOCOL_ID",
    "Frame",
    "escape",
    "parse_content",
    "unescape",
]

BOF: Final = 0xC0
EOF: Final = 0xC1
ESC: Final = 0x7D
PROTOCOL_ID: Final = 0x11
MESSAGE_TYPE: Final = 0x01
MAX_USER_DATA: Final = 4096
"""Largest user data accepted (bytes). The client asks for at most 1000; real monitors
have sent 1456 (fact sheet §5.2)."""
_SPECIAL = frozenset((BOF, EOF, ESC))
_OVERHEAD = 6  # header (4) + FCS (2)


def escape(data: bytes) -> bytes:
    """``data`` with every 0xC0, 0xC1, 0x7D sent as 0x7D, byte ^ 0x20."""
    out = bytearray()
    for byte in data:
        if byte in _SPECIAL:
            out += bytes((ESC, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """The inverse of :func:`escape`; raises :class:`DecodeError` on a dangling 0x7D."""
    out = bytearray()
    pending = False
    for byte in data:
        if pending:
            out.append(byte ^ 0x20)
            pending = False
        elif byte == ESC:
            pending = True
        else:
            out.append(byte)
    if pending:
        raise DecodeError("frame ends inside an escape sequence")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Frame:
    """One transport frame: the user data (one message, unescaped) and its header ids."""

    user_data: bytes
    protocol_id: int = PROTOCOL_ID
    message_type: int = MESSAGE_TYPE

    def content(self) -> bytes:
        """Header, user data and FCS, unescaped (what lies between BOF and EOF)."""
        if len(self.user_data) > 0xFFFF:
            raise ValueError(f"user data of {len(self.user_data)} bytes does not fit a frame")
        body = bytes((self.protocol_id, self.message_type)) + len(self.user_data).to_bytes(2)
        body += self.user_data
        return body + fcs16(body).to_bytes(2, "little")

    def to_bytes(self) -> bytes:
        """The frame on the wire: BOF, escaped content, EOF."""
        return bytes((BOF,)) + escape(self.content()) + bytes((EOF,))

    @classmethod
    def from_bytes(cls, wire: bytes) -> Self:
        """Parse one complete wire frame (BOF ... EOF); raises :class:`DecodeError`."""
        if len(wire) < 2 or wire[0] != BOF or wire[-1] != EOF:
            raise DecodeError("frame must start with 0xC0 and end with 0xC1")
        inner = wire[1:-1]
        if BOF in inner or EOF in inner:
            raise DecodeError("unescaped 0xC0/0xC1 inside the frame")
        parsed = parse_content(unescape(inner))
        if isinstance(parsed, BadFrame):
            raise DecodeError(parsed.reason)
        return cls(parsed.user_data, parsed.protocol_id, parsed.message_type)


def parse_content(content: bytes) -> Frame | BadFrame:
    """Check the unescaped bytes between BOF and EOF: size, length field, ids, FCS."""
    if len(content) < _OVERHEAD:
        return BadFrame(f"frame of {len(content)} bytes is too short")
    length = int.from_bytes(content[2:4])
    if length != len(content) - _OVERHEAD:
        return BadFrame(f"length field {length} but {len(content) - _OVERHEAD} data bytes")
    if fcs16_update(0xFFFF, content) != FCS16_GOOD:
        return BadFrame("FCS mismatch")
    if content[0] != PROTOCOL_ID or content[1] != MESSAGE_TYPE:
        return BadFrame(f"unknown protocol id/message type {content[0]:02X} {content[1]:02X}")
    if length > MAX_USER_DATA:
        return BadFrame(f"frame of {length} bytes exceeds {MAX_USER_DATA}")
    return Frame(content[4:-2], content[0], content[1])
