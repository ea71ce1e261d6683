"""Framing of MEDIBUS messages (fact sheet §2): commands and responses, with their checksum.

Wire layout::

    command:   ESC (0x1B) | code | argument (printable ASCII) | checksum (2) | CR (0x0D)
    response:  SOH (0x01) | echo of the command code | data     | checksum (2) | CR
    checksum:  the byte sum from ESC/SOH to the last data byte, mod 256, as two ASCII hex
               digits, upper case (a lower-case digit is a corrupt checksum)

Both ends are peers: a command from the other side may arrive *inside* a response being
received (between its SOH and its CR); it is framed and reported on its own, and the response
carries on. Receiver rules, byte by byte:

- DC1 (0x11) and DC3 (0x13), software flow control, are dropped wherever they appear;
  CAN (0x18) aborts the message being received (the innermost), silently;
- outside a message every byte but ESC and SOH is line noise (counted in ``dropped``);
- ESC inside a command, or SOH anywhere inside a message, ends the unfinished message as a
  :class:`BadFrame` and opens a new one (resync on the next start byte);
- another control byte (< 0x20) inside a message, a checksum that is not two upper-case hex
  digits or does not match, or a message longer than the protocol's maximum (256 bytes for a
  command, 3845 for a response) is a :class:`BadFrame`; an overlong one is skipped to its CR;
- a NOP command carrying the checksum ``46`` printed in the protocol document's appendix
  (the rule gives ``4B``) is accepted (fact sheet §7).

``feed`` never raises and keeps at most one partial command and one partial response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers.base import BadFrame
from drivers.checksums import sum_mod256

__all__ = [
    "CAN",
    "CR",
    "DC1",
    "DC3",
    "ESC",
    "MAX_COMMAND",
    "MAX_RESPONSE",
    "NAK",
    "SOH",
    "MedibusFramer",
    "Message",
    "checksum",
    "command",
    "response",
]

ESC, SOH, CR, NAK = 0x1B, 0x01, 0x0D, 0x15
DC1, DC3, CAN = 0x11, 0x13, 0x18
MAX_COMMAND = 256
MAX_RESPONSE = 3845
NOP = 0x30
_NOP_APPENDIX_CHECKSUM = b"46"
_HEX = frozenset(b"0123456789ABCDEF")

MessageKind = Literal["command", "response"]


def checksum(data: bytes) -> bytes:
    """The two ASCII hex digits of ``sum(data) mod 256``, upper case."""
    return b"%02X" % sum_mod256(data)


def command(code: int, argument: bytes = b"") -> bytes:
    """The wire form of command ``code`` with ``argument``."""
    body = bytes((ESC, code)) + argument
    return body + checksum(body) + b"\r"


def response(code: int, data: bytes = b"", check: bytes | None = None) -> bytes:
    """The wire form of the response to ``code`` carrying ``data`` (``check`` replaces the
    right checksum, for tests and simulated faults)."""
    body = bytes((SOH, code)) + data
    return body + (checksum(body) if check is None else check) + b"\r"


@dataclass(frozen=True, slots=True)
class Message:
    """One checked message: a ``command`` from the peer or a ``response`` to one of ours
    (``code`` is the echoed command code, or NAK for "your command was corrupt")."""

    kind: MessageKind
    code: int
    data: bytes = b""


def check_message(raw: bytes) -> Message | BadFrame:
    """``raw`` (start byte to the last checksum digit, CR excluded) as a message, or why not."""
    kind: MessageKind = "command" if raw[0] == ESC else "response"
    if len(raw) < 4:
        return BadFrame(f"{kind} of {len(raw)} bytes is too short")
    body, check = raw[:-2], raw[-2:]
    if not set(check) <= _HEX:
        return BadFrame(f"{kind} checksum {check!r} is not two upper-case hex digits")
    if check != checksum(body):
        nop = kind == "command" and body == bytes((ESC, NOP))
        if not (nop and check == _NOP_APPENDIX_CHECKSUM):
            return BadFrame(f"{kind} checksum {check.decode()} != {checksum(body).decode()}")
    return Message(kind, body[1], bytes(body[2:]))


class _Partial:
    """One message being received: its bytes, its limit, whether it is being skipped."""

    def __init__(self, start: int, limit: int) -> None:
        self.raw = bytearray((start,))
        self.limit = limit
        self.skipping = False


class MedibusFramer:
    """Bytes in; :class:`Message` and :class:`BadFrame` out, in the order they complete."""

    def __init__(self) -> None:
        self._response: _Partial | None = None
        self._command: _Partial | None = None
        self.dropped = 0
        """Bytes dropped outside messages (line noise), for diagnostics."""
        self.aborted = 0
        """Messages the sender aborted with CAN."""

    def feed(self, data: bytes) -> list[Message | BadFrame]:
        """Messages and bad-frame markers completed by ``data``, in wire order."""
        out: list[Message | BadFrame] = []
        for byte in data:
            if byte in (DC1, DC3):
                continue
            if byte == CAN:
                self._abort()
            elif byte == ESC:
                if self._command is not None:
                    out.append(BadFrame("command cut short by a new command"))
                self._command = _Partial(ESC, MAX_COMMAND)
            elif byte == SOH:
                if self._command is not None or self._response is not None:
                    out.append(BadFrame("message cut short by a new response"))
                self._command, self._response = None, _Partial(SOH, MAX_RESPONSE)
            else:
                self._byte(byte, out)
        return out

    def _abort(self) -> None:
        if self._command is not None:
            self._command = None
        elif self._response is not None:
            self._response = None
        else:
            return
        self.aborted += 1

    def _byte(self, byte: int, out: list[Message | BadFrame]) -> None:
        partial = self._command if self._command is not None else self._response
        if partial is None:
            self.dropped += 1
            return
        if byte == CR:
            if not partial.skipping:
                out.append(check_message(bytes(partial.raw)))
            self._close(partial)
        elif partial.skipping:
            return
        elif byte < 0x20 and not (byte == NAK and partial.raw == bytes((SOH,))):
            out.append(BadFrame(f"control byte 0x{byte:02X} inside a message"))
            self._close(partial)
        else:
            partial.raw.append(byte)
            if len(partial.raw) + 1 > partial.limit:
                out.append(BadFrame(f"message longer than {partial.limit} bytes"))
                partial.skipping = True

    def _close(self, partial: _Partial) -> None:
        if partial is self._command:
            self._command = None
        else:
            self._response = None
