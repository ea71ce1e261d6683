"""Alaris Asena frames and their sans-I/O framer: bytes in; frames and bad-frame markers out.

Wire layout (fact sheet §2), the same in both directions::

    '!'  BODY  '|'  CCCC  CR
    0x21 ASCII 0x7C 4 hex  0x0D

BODY is printable ASCII: a command name, then fields separated by ``^`` (0x5E). CCCC is the
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) of BODY only, as
four upper-case hex digits. Example: ``!INF|4961\\r``.

Recovery: outside a frame every byte but ``!`` is noise (counted in
:attr:`AsenaFramer.dropped`). Inside one, bytes collect until CR; a ``!`` before the CR means
the frame was cut short (a :class:`~drivers.base.BadFrame`, and a new frame starts there); more
than :data:`MAX_FRAME` bytes without CR is a BadFrame and bytes are dropped until the next
``!``. A complete frame without ``|``, with a non-printable byte, or whose check is not four
upper-case hex digits equal to the CRC of BODY is a BadFrame. ``feed`` never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import BadFrame

__all__ = [
    "CR",
    "MAX_FRAME",
    "START",
    "AsenaFrame",
    "AsenaFramer",
    "FrameError",
    "crc16_ccitt_false",
    "parse_frame",
]

START = 0x21  # '!'
CR = 0x0D
SEPARATOR = "^"
MAX_FRAME = 512
"""Most bytes a frame may take, ``!`` to CR; the longest known answer (INF) is about 80."""

_CHECK = re.compile(rb"[0-9A-F]{4}")
_IN_FRAME = re.compile(rb"[!\r]")


class FrameError(ValueError):
    """A frame that cannot be built or read."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``; ``crc16_ccitt_false(b"123456789") == 0x29B1``."""
    reg = 0xFFFF
    for byte in data:
        reg ^= byte << 8
        for _ in range(8):
            reg = ((reg << 1) ^ 0x1021) & 0xFFFF if reg & 0x8000 else (reg << 1) & 0xFFFF
    return reg


def _printable(data: bytes) -> bool:
    return all(0x20 <= byte <= 0x7E for byte in data)


@dataclass(frozen=True, slots=True)
class AsenaFrame:
    """One message: its BODY (printable ASCII without ``!``, ``|`` or CR)."""

    body: str

    def __post_init__(self) -> None:
        raw = self.body.encode("ascii", errors="replace")
        if not raw or not _printable(raw) or any(c in self.body for c in "!|"):
            raise FrameError(f"not a frame body: {self.body!r}")

    @classmethod
    def of(cls, *fields: str) -> AsenaFrame:
        """A frame whose body is ``fields`` joined by ``^``."""
        return cls(SEPARATOR.join(fields))

    @property
    def fields(self) -> tuple[str, ...]:
        """The body split at ``^``; the first is the command name (echoed in answers)."""
        return tuple(self.body.split(SEPARATOR))

    @property
    def command(self) -> str:
        return self.fields[0]

    def to_bytes(self) -> bytes:
        """The frame on the wire, ``!`` to CR."""
        body = self.body.encode("ascii")
        return b"!" + body + b"|" + b"%04X" % crc16_ccitt_false(body) + b"\r"


def parse_frame(data: bytes) -> AsenaFrame:
    """One complete frame, ``!`` to CR included; raises :class:`FrameError`."""
    if len(data) < 8 or data[0] != START or data[-1] != CR:
        raise FrameError(f"frame of {len(data)} bytes without '!' ... CR")
    body, bar, check = data[1:-1].rpartition(b"|")
    if not bar:
        raise FrameError("frame without '|'")
    if not _CHECK.fullmatch(check):
        raise FrameError(f"check {check!r} is not four upper-case hex digits")
    if not body or not _printable(body) or b"|" in body:
        raise FrameError("frame body empty or not printable ASCII")
    expected = crc16_ccitt_false(body)
    if int(check, 16) != expected:
        raise FrameError(f"bad CRC {check.decode()} (expected {expected:04X})")
    return AsenaFrame(body.decode("ascii"))


class AsenaFramer:
    """Sans-I/O Asena framer with a buffer capped at ``max_frame`` bytes."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.dropped = 0
        """Bytes dropped outside frames (line noise), for diagnostics."""
        self._frame: bytearray | None = None

    def reset(self) -> None:
        """Forget any partial frame."""
        self._frame = None

    def feed(self, data: bytes) -> list[AsenaFrame | BadFrame]:
        """Frames and bad-frame markers completed by ``data``, in wire order."""
        out: list[AsenaFrame | BadFrame] = []
        index = 0
        while index < len(data):
            if self._frame is None:
                start = data.find(b"!", index)
                if start < 0:
                    self.dropped += len(data) - index
                    return out
                self.dropped += start - index
                self._frame = bytearray(b"!")
                index = start + 1
            else:
                index = self._collect(data, index, out)
        return out

    def _collect(self, data: bytes, index: int, out: list[AsenaFrame | BadFrame]) -> int:
        frame = self._frame
        assert frame is not None
        match = _IN_FRAME.search(data, index)
        end = len(data) if match is None else match.start()
        if len(frame) + (end - index) + (match is not None) > self.max_frame:
            out.append(BadFrame(f"frame longer than {self.max_frame} bytes"))
            self._frame = None
            return end
        frame += data[index:end]
        if match is None:
            return end
        if data[end] == START:
            out.append(BadFrame(f"frame cut short after {len(frame)} bytes (new '!')"))
            self._frame = bytearray(b"!")
            return end + 1
        frame.append(CR)
        self._frame = None
        try:
            out.append(parse_frame(bytes(frame)))
        except FrameError as exc:
            out.append(BadFrame(str(exc)))
        return end + 1
