"""masimo_ascii framing: one record is one line of printable ASCII ended by CR LF.

Wire layout ("ASCII 1", no checksum, no length, no sequence number)::

    MM/DD/YY HH:MM:SS NAME=value NAME=value ... \\r\\n

Fields are ``NAME=value`` separated by one or more spaces, in an order and with a presence
that vary by model and firmware; the date and time are the device clock (ordering only).
With no checksum the framer checks what it can: the line ends with LF (a CR before it is
optional), is printable ASCII, starts with ``dd/dd/dd dd:dd:dd``, and every other token is
``NAME=value``. Anything else is a :class:`~drivers.base.BadFrame`. A line longer than
:data:`MAX_LINE` bytes without LF (wrong baud rate, binary mode) is dropped, and the framer
resyncs on the next LF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import BadFrame

__all__ = ["MAX_LINE", "MasimoFramer", "MasimoLine", "parse_line"]

MAX_LINE = 256
_STAMP = re.compile(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d")
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9]*)=(\S*)")


@dataclass(frozen=True, slots=True)
class MasimoLine:
    """One record: the device's own ``stamp`` (``MM/DD/YY HH:MM:SS``) and its fields in wire
    order, names upper-cased (the trend spelling ``SpO2`` is ``SPO2``)."""

    stamp: str
    fields: tuple[tuple[str, str], ...]

    def to_bytes(self) -> bytes:
        """The line on the wire, fields separated by one space, ended by CR LF."""
        if not _STAMP.fullmatch(self.stamp):
            raise ValueError(f"stamp {self.stamp!r} is not MM/DD/YY HH:MM:SS")
        parts = [self.stamp]
        for name, value in self.fields:
            part = f"{name}={value}"
            if not _FIELD.fullmatch(part):
                raise ValueError(f"field {part!r} is not NAME=value")
            parts.append(part)
        return " ".join(parts).encode("ascii") + b"\r\n"


def parse_line(line: bytes) -> MasimoLine | BadFrame:
    """The record in ``line`` (without its LF; a trailing CR is allowed), or why not."""
    if len(line) > MAX_LINE:
        return BadFrame(f"line longer than {MAX_LINE} bytes")
    body = line.removesuffix(b"\r")
    if any(byte < 0x20 or byte > 0x7E for byte in body):
        return BadFrame("non-printable byte in line")
    text = body.decode("ascii").strip(" ")
    if not _STAMP.match(text):
        return BadFrame("line does not start with a date (ASCII 2 or Philips mode?)")
    stamp, rest = text[:17], text[17:]
    if rest and not rest.startswith(" "):
        return BadFrame("no space after the date")
    fields = []
    for token in rest.split():
        match = _FIELD.fullmatch(token)
        if match is None:
            return BadFrame(f"token is not NAME=value: {token[:20]!r}")
        fields.append((match.group(1).upper(), match.group(2)))
    return MasimoLine(stamp, tuple(fields))


class MasimoFramer:
    """Sans-I/O line framer; the buffer holds at most :data:`MAX_LINE` bytes without LF.

    ``skip_first``: drop the first line after opening (it may be a partial one), not counted
    as a bad frame.
    """

    def __init__(self, *, skip_first: bool = False) -> None:
        self._buffer = bytearray()
        self._skip = skip_first
        self._overlong = False

    def feed(self, data: bytes) -> list[MasimoLine | BadFrame]:
        """Records and bad-frame markers completed by ``data``, in wire order."""
        out: list[MasimoLine | BadFrame] = []
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > MAX_LINE:
                    if not self._overlong:
                        out.append(BadFrame(f"line longer than {MAX_LINE} bytes"))
                    self._overlong = True  # resync at the next LF
                    buffer.clear()
                break
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if self._overlong:
                self._overlong = False  # the tail of the dropped line
                continue
            if not line.strip(b" \r"):
                continue  # a blank line carries nothing
            if self._skip:
                self._skip = False
                continue
            out.append(parse_line(line))
        return out
