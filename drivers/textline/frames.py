"""textline frames: one ASCII line carries one reading.

Wire layout (NMEA-like)::

    $ KIND , KEY=VALUE , KEY=VALUE ... * HH \\r\\n
    |  |                                |  |
    |  VIT (vitals) or PMP (pump)       |  two upper-case hex digits: XOR of every byte
    start marker 0x24                   |  between '$' and '*' (exclusive)
                                        checksum marker 0x2A

A line is at most :data:`MAX_LINE` bytes including ``$`` and ``\\r\\n``. Keys are upper-case
ASCII; values are ASCII without ``,`` ``*`` ``$`` or line breaks. The framer drops anything
outside ``$...\\n``, reports an overlong line, a missing or wrong checksum as a bad frame and
resyncs on the next ``$``.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import BadFrame
from drivers.checksums import xor8

__all__ = ["MAX_LINE", "LineFrame", "TextLineFramer"]

MAX_LINE = 256
_START = ord("$")
_FORBIDDEN = frozenset(b",*$\r\n=")


@dataclass(frozen=True, slots=True)
class LineFrame:
    """One line: its kind (``VIT`` or ``PMP``) and its key/value fields in wire order."""

    kind: str
    fields: tuple[tuple[str, str], ...]

    def to_bytes(self) -> bytes:
        """The line on the wire, with checksum and CR LF."""
        parts = [self.kind, *(f"{key}={value}" for key, value in self.fields)]
        body = ",".join(parts).encode("ascii")
        if any(byte in _FORBIDDEN for byte in self.kind.encode("ascii")):
            raise ValueError(f"kind {self.kind!r} has a reserved character")
        for key, value in self.fields:
            if any(byte in _FORBIDDEN for byte in f"{key}{value}".encode("ascii")):
                raise ValueError(f"field {key}={value!r} has a reserved character")
        return b"$" + body + b"*" + f"{xor8(body):02X}".encode("ascii") + b"\r\n"

    @classmethod
    def from_body(cls, body: bytes) -> LineFrame | BadFrame:
        """Parse the bytes between ``$`` and ``*`` (checksum already verified)."""
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            return BadFrame("non-ASCII byte in line")
        kind, *pairs = text.split(",")
        fields = []
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                return BadFrame(f"field without key=value: {pair[:20]!r}")
            fields.append((key, value))
        return cls(kind, tuple(fields))


class TextLineFramer:
    """Sans-I/O framer for textline; buffer capped at :data:`MAX_LINE` bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[LineFrame | BadFrame]:
        """Frames and bad-frame markers completed by ``data``, in wire order."""
        out: list[LineFrame | BadFrame] = []
        buffer = self._buffer
        buffer += data
        while True:
            start = buffer.find(_START)
            if start < 0:
                buffer.clear()
                break
            if start:
                del buffer[:start]
            end = buffer.find(b"\n")
            restart = buffer.find(_START, 1)
            if restart > 0 and (end < 0 or restart < end):
                out.append(BadFrame("line cut short by a new '$'"))
                del buffer[:restart]
                continue
            if end < 0:
                if len(buffer) > MAX_LINE:
                    out.append(BadFrame(f"line longer than {MAX_LINE} bytes"))
                    buffer.clear()
                break
            line = bytes(buffer[: end + 1])
            del buffer[: end + 1]
            out.append(_parse_line(line))
        return out


def _parse_line(line: bytes) -> LineFrame | BadFrame:
    if len(line) > MAX_LINE:
        return BadFrame(f"line longer than {MAX_LINE} bytes")
    content = line[1:].rstrip(b"\r\n")
    body, star, check = content.rpartition(b"*")
    if not star:
        return BadFrame("line without checksum")
    try:
        expected = int(check, 16)
    except ValueError:
        return BadFrame("checksum is not hex")
    if len(check) != 2 or xor8(body) != expected:
        return BadFrame("checksum mismatch")
    return LineFrame.from_body(body)
