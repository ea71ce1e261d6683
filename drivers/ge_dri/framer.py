"""Framing of the S/5 Computer Interface: one DRI record per frame (CI spec "Frame structure").

Wire layout (both directions)::

    +------+---------------------------------------------------+------+
    | 0x7E |  escaped( DRI record (r_len bytes) | checksum (1) ) | 0x7E |
    +------+---------------------------------------------------+------+
                 record: 40-byte header (r_len i16 LE first) + subrecords
                 checksum: sum of the record bytes mod 256 (flags excluded)
                 escaping: 0x7E -> 7D 5E, 0x7D -> 7D 5D (bit 5 cleared), the checksum too

There is no ACK/NAK and no CRC: a frame whose checksum or length field is wrong is dropped.

Receiver rules, byte by byte:

- outside a frame every byte but 0x7E is line noise (counted in :attr:`DriFramer.dropped`);
- 0x7E opens a frame; the next 0x7E closes it. An empty frame (``7E 7E``) is skipped and the
  second flag opens the next frame, so back-to-back frames may share nothing but still resync;
- 0x7D sets bit 5 of the next byte (0x7D followed by the closing flag: the frame is bad);
- a closed frame must hold at least a header and a checksum, its ``r_len`` must equal the
  unescaped length minus one, and its checksum must match; else a :class:`BadFrame`;
- an unescaped frame longer than ``max_record`` + 1 bytes is reported and skipped up to the
  next flag.

``feed`` never raises and keeps at most one partial frame between calls.
"""

from __future__ import annotations

import struct

from drivers.base import BadFrame
from drivers.checksums import sum_mod256

__all__ = ["ESC", "FLAG", "HEADER_SIZE", "MAX_RECORD", "DriFramer", "escape", "frame"]

FLAG = 0x7E
ESC = 0x7D
HEADER_SIZE = 40
MAX_RECORD = 4096
"""Longest record accepted (bytes). A 4-class DISPL record is 40 + 4 x 278 = 1152 bytes."""


def escape(data: bytes) -> bytes:
    """``data`` with 0x7E and 0x7D sent as 0x7D and the byte with bit 5 cleared."""
    out = bytearray()
    for byte in data:
        if byte in (FLAG, ESC):
            out += bytes((ESC, byte & 0xDF))
        else:
            out.append(byte)
    return bytes(out)


def frame(record: bytes, checksum: int | None = None) -> bytes:
    """The wire form of ``record``: flags, escaped record and checksum (``checksum`` replaces
    the right one, for tests and simulated faults)."""
    check = sum_mod256(record) if checksum is None else checksum
    return bytes((FLAG,)) + escape(record + bytes((check,))) + bytes((FLAG,))


def check_content(content: bytes) -> bytes | BadFrame:
    """The record inside unescaped frame ``content`` (record + checksum), or why not."""
    if len(content) < HEADER_SIZE + 1:
        return BadFrame(f"frame of {len(content)} bytes is shorter than a record header")
    record, checksum = content[:-1], content[-1]
    (r_len,) = struct.unpack_from("<h", record)
    if r_len != len(record):
        return BadFrame(f"record length field {r_len} != {len(record)} bytes received")
    expected = sum_mod256(record)
    if checksum != expected:
        return BadFrame(f"checksum 0x{checksum:02X} != 0x{expected:02X}")
    return record


class DriFramer:
    """Bytes in; DRI records (``bytes``, header first) and :class:`BadFrame` out, in order."""

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        self._limit = max_record + 1
        self._content = bytearray()
        self._in_frame = False
        self._escaped = False
        self._skipping = False
        self.dropped = 0
        """Bytes dropped outside frames (line noise), for diagnostics."""

    def feed(self, data: bytes) -> list[bytes | BadFrame]:
        """Records and bad-frame markers completed by ``data``, in wire order."""
        out: list[bytes | BadFrame] = []
        for byte in data:
            if byte == FLAG:
                self._close(out)
            elif not self._in_frame:
                self.dropped += 1
            elif self._skipping:
                continue
            elif byte == ESC and not self._escaped:
                self._escaped = True
            else:
                self._content.append(byte | 0x20 if self._escaped else byte)
                self._escaped = False
                if len(self._content) > self._limit:
                    out.append(BadFrame(f"frame longer than {self._limit} bytes"))
                    self._skipping = True
        return out

    def _close(self, out: list[bytes | BadFrame]) -> None:
        """A flag: close the frame in progress (if any) and open the next one."""
        if self._in_frame and not self._skipping:
            if self._escaped:
                out.append(BadFrame("escape byte 0x7D before the closing flag"))
            elif self._content:
                out.append(check_content(bytes(self._content)))
        self._content.clear()
        self._in_frame = True
        self._escaped = self._skipping = False
