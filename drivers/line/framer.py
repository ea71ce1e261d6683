"""line framer: bytes -> the checked text of each line, sans I/O; never raises.

A line ends with the configured terminator. The framer drops text before the start text (if
one is configured), verifies and removes the checksum suffix (if one is configured) and hands
on the rest as a :class:`TextLine`. A line longer than ``max_line`` bytes, a non-ASCII byte, a
missing start text, a missing, non-hex or wrong checksum are reported as :class:`BadFrame`;
empty lines are skipped. The buffer never holds more than ``max_line`` bytes.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from drivers.base import BadFrame
from drivers.line.checks import CHECKSUMS
from drivers.line.options import ChecksumOptions, LineOptions

__all__ = ["LineFramer", "TextLine", "with_checksum"]

_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class TextLine:
    """The text of one line between its start text and its checksum (or terminator)."""

    text: str


class LineFramer:
    """Sans-I/O framer for one ``line`` device with ``options``."""

    def __init__(self, options: LineOptions) -> None:
        self._options = options
        self._terminator = options.terminator.encode("ascii")
        self._buffer = bytearray()
        self._skipping = False  # inside the rest of an overlong line

    def feed(self, data: bytes) -> list[TextLine | BadFrame]:
        """Lines and bad-line markers completed by ``data``, in wire order."""
        out: list[TextLine | BadFrame] = []
        buffer, limit, term = self._buffer, self._options.max_line, self._terminator
        buffer += data
        while True:
            end = buffer.find(term)
            if end < 0:
                if len(buffer) > limit:
                    if not self._skipping:
                        out.append(BadFrame(f"line longer than {limit} bytes"))
                    self._skipping = True
                    del buffer[: len(buffer) - (len(term) - 1)]  # keep a split terminator
                return out
            line = bytes(buffer[:end])
            del buffer[: end + len(term)]
            if self._skipping:
                self._skipping = False
                continue
            if end + len(term) > limit:
                out.append(BadFrame(f"line longer than {limit} bytes"))
                continue
            out += self._parse(line)

    def _parse(self, line: bytes) -> list[TextLine | BadFrame]:
        line = line.strip(b"\r\n")
        if not line:
            return []
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return [BadFrame("non-ASCII byte in line")]
        out: list[str | BadFrame] = []
        start = self._options.start
        if start is not None:
            at = text.rfind(start)
            if at < 0:
                return [BadFrame("line without start text")]
            if text.find(start) < at:
                out.append(BadFrame("line cut short by a new start text"))
            text = text[at + len(start) :]
        checksum = self._options.checksum
        out.append(text if checksum is None else _verified(text, checksum, start or ""))
        return [TextLine(item) if isinstance(item, str) else item for item in out]


def _verified(text: str, checksum: ChecksumOptions, start: str) -> str | BadFrame:
    """``text`` without its checksum suffix, or why it cannot be trusted."""
    digits, sep = CHECKSUMS[checksum.kind].digits, checksum.separator
    suffix = len(sep) + digits
    if len(text) < suffix or text[len(text) - suffix : len(text) - digits] != sep:
        return BadFrame("line without checksum")
    body, check = text[: len(text) - suffix], text[len(text) - digits :]
    if not _HEX.issuperset(check):
        return BadFrame("checksum is not hex")
    if _compute(body, checksum, start) != int(check, 16):
        return BadFrame("checksum mismatch")
    return body


def _compute(body: str, checksum: ChecksumOptions, start: str) -> int:
    covered = (start if checksum.covers_start else "") + body
    covered += checksum.separator if checksum.covers_separator else ""
    return CHECKSUMS[checksum.kind].compute(covered.encode("ascii"))


def with_checksum(body: str, options: LineOptions) -> bytes:
    """The whole line for ``body`` as a device with ``options`` sends it (for simulators and
    tests): start text, body, checksum suffix, terminator."""
    start, checksum = options.start or "", options.checksum
    text = start + body
    if checksum is not None:
        digits = CHECKSUMS[checksum.kind].digits
        text += f"{checksum.separator}{_compute(body, checksum, start):0{digits}X}"
    return (text + options.terminator).encode("ascii")
