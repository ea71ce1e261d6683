"""B. Braun BCC frames: one message block, its character stuffing, ACK and NAK.

Wire layout (BCC spec I0022_000030 v4.0 p.8-9; fact sheet §2-3)::

    SOH  LLLLL  STX  bedId  "/1/1>"  information  ETX|ETB  CCCCC  EOT
    01   5 dig  02   1-15B  5 bytes  see below    03 | 17  5 dig  04

- ``LLLLL``: decimal, zero-padded: bytes of the whole message, SOH to EOT inclusive, counted
  *before* stuffing. That is ``19 + len(bedId) + len(information)``.
- ``CCCCC``: decimal, zero-padded: (sum of every byte from SOH through ETX/ETB inclusive)
  mod 256, computed before stuffing, so ``00000``-``00255``.
- ``bedId``: the ComDevice's name, bytes 0x2F-0x39 and 0x41-0x7A (never ``>``), followed by the
  literal ``/1/1>`` that is not part of it. A host starts with bedId ``1``.
- ``information``: UTF-8 text: a request (``ADMIN:ALIVE``) or records (:mod:`.records`).
- ``ETX`` ends the last (or only) block of an answer, ``ETB`` a block with more to follow.
- ACK 0x06 and NAK 0x15 are single bytes outside any frame, never stuffed.

Character stuffing (on by default), applied to the whole message after length and checksum::

    D 0x44 -> E X      E 0x45 -> E E      d 0x64 -> e x      e 0x65 -> e e

A receiver destuffs in one left-to-right pass (``E`` and ``e`` always consume the next byte;
any other pair is an error), then checks length and checksum. Search-and-replace is wrong:
stuffed ``EEX`` is ``EX``, not ``ED``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from drivers.checksums import sum_mod256

__all__ = [
    "ACK",
    "BED_SUFFIX",
    "EOT",
    "ETB",
    "ETX",
    "MAX_LENGTH",
    "NAK",
    "RS",
    "SOH",
    "STX",
    "BccFrame",
    "Control",
    "FrameError",
    "destuff",
    "stuff",
]

SOH, STX, ETX, EOT, ACK, NAK, ETB, RS = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15, 0x17, 0x1E
BED_SUFFIX = b"/1/1>"
MAX_LENGTH = 99_999
"""Largest message the 5-digit length field can describe, in unstuffed bytes."""

_OVERHEAD = 14  # SOH, 5 length digits, STX, ETX/ETB, 5 check digits, EOT
_BED_BYTES = bytes(range(0x2F, 0x3A)) + bytes(range(0x41, 0x7B))
_MAX_BED = 15
_FRAMING = bytes((SOH, STX, ETX, EOT, ACK, NAK, ETB))
_TO_STUFF = re.compile(b"[DEde]")
_DESTUFF = {b"EX": b"D", b"EE": b"E", b"ex": b"d", b"ee": b"e"}


class FrameError(ValueError):
    """Bytes that are not a valid BCC frame; the message says why, without the payload."""


class Control(enum.Enum):
    """A handshake byte sent outside frames: the receiver's verdict on the last block."""

    ACK = ACK
    NAK = NAK

    def to_bytes(self) -> bytes:
        """The single byte on the wire."""
        return bytes((self.value,))


def stuff(data: bytes) -> bytes:
    """``data`` with D, E, d, e replaced by their two-byte escapes (§3).

    ``E`` and ``e`` are doubled first: the escapes of ``D`` and ``d`` bring new ones, which
    must stay as they are."""
    if _TO_STUFF.search(data) is None:
        return data
    return data.replace(b"E", b"EE").replace(b"e", b"ee").replace(b"D", b"EX").replace(b"d", b"ex")


def destuff(data: bytes) -> bytes:
    """Undo :func:`stuff` in one left-to-right pass; :class:`FrameError` on a bad escape.

    Each escape starts at the next ``E`` or ``e`` not consumed by the one before and takes two
    bytes, so stuffed ``EEX`` becomes ``EX``, never ``ED``. The escapes are found with
    ``bytes.find`` (C speed), each letter's next place looked up only once the pass is beyond
    it, so the whole pass stays linear in ``len(data)``.
    """
    upper, lower = data.find(b"E"), data.find(b"e")
    if upper < 0 and lower < 0:
        return data
    parts: list[bytes] = []
    start = 0
    while upper >= 0 or lower >= 0:
        at = lower if upper < 0 or 0 <= lower < upper else upper
        plain = _DESTUFF.get(data[at : at + 2])
        if plain is None:
            raise FrameError(f"bad stuffing escape at byte {at}")
        parts += (data[start:at], plain)
        start = at + 2
        if 0 <= upper < start:
            upper = data.find(b"E", start)
        if 0 <= lower < start:
            lower = data.find(b"e", start)
    parts.append(data[start:])
    return b"".join(parts)


def _check_bed_id(bed: bytes) -> None:
    if not 1 <= len(bed) <= _MAX_BED:
        raise FrameError(f"bedId of {len(bed)} bytes (allowed 1-{_MAX_BED})")
    if bed.translate(None, _BED_BYTES):  # what is left once the allowed bytes are deleted
        raise FrameError("bedId has a byte outside 0x2F-0x39, 0x41-0x7A")


def _digits(field: bytes, name: str) -> int:
    if len(field) != 5 or not field.isdigit():
        raise FrameError(f"{name} field is not 5 decimal digits")
    return int(field)


@dataclass(frozen=True, slots=True)
class BccFrame:
    """One BCC message block.

    ``bed_id`` is the bare ComDevice name (without ``/1/1>``); ``information`` the UTF-8 payload
    (a request or RS-joined records); ``last`` is True for an ETX block, False for ETB.
    Invariants, checked on construction (:class:`FrameError`): a valid bedId, no framing
    control byte in ``information``, a message of at most :data:`MAX_LENGTH` bytes.
    """

    bed_id: str
    information: bytes
    last: bool = True

    def __post_init__(self) -> None:
        try:
            bed = self.bed_id.encode("ascii")
        except UnicodeEncodeError:
            raise FrameError("bedId is not ASCII") from None
        _check_bed_id(bed)
        if len(self.information.translate(None, _FRAMING)) != len(self.information):
            raise FrameError("information contains a framing control byte")
        if self.length > MAX_LENGTH:
            raise FrameError(f"message of {self.length} bytes exceeds {MAX_LENGTH}")

    @property
    def length(self) -> int:
        """The unstuffed message length in bytes, SOH to EOT inclusive (the LLLLL field)."""
        return _OVERHEAD + len(self.bed_id) + len(BED_SUFFIX) + len(self.information)

    @property
    def text(self) -> str:
        """``information`` decoded as UTF-8 (invalid sequences replaced)."""
        return self.information.decode("utf-8", errors="replace")

    def to_bytes(self, stuffing: bool = True) -> bytes:
        """The message on the wire: length and checksum over the plain bytes, then stuffed."""
        head = b"".join(
            (
                bytes((SOH,)),
                b"%05d" % self.length,
                bytes((STX,)),
                self.bed_id.encode("ascii"),
                BED_SUFFIX,
                self.information,
                bytes((ETX if self.last else ETB,)),
            )
        )
        plain = head + b"%05d" % sum_mod256(head) + bytes((EOT,))
        return stuff(plain) if stuffing else plain

    @classmethod
    def from_bytes(cls, data: bytes) -> BccFrame:
        """Parse one complete *unstuffed* message, SOH to EOT; :class:`FrameError` if invalid."""
        if len(data) < _OVERHEAD + len(BED_SUFFIX) + 1:
            raise FrameError(f"frame of {len(data)} bytes is too short")
        if data[0] != SOH or data[-1] != EOT:
            raise FrameError("frame does not run from SOH to EOT")
        length = _digits(data[1:6], "length")
        if length != len(data):
            raise FrameError(f"length field says {length} bytes, frame has {len(data)}")
        if data[6] != STX:
            raise FrameError("no STX after the length field")
        if data[-7] not in (ETX, ETB):
            raise FrameError("no ETX or ETB before the checksum")
        if _digits(data[-6:-1], "checksum") != sum_mod256(data[:-6]):
            raise FrameError("checksum mismatch")
        body = data[7:-7]
        end = body.find(b">")
        if end < len(BED_SUFFIX) or body[end - len(BED_SUFFIX) + 1 : end + 1] != BED_SUFFIX:
            raise FrameError("no bedId followed by '/1/1>'")
        bed = body[: end - len(BED_SUFFIX) + 1]
        _check_bed_id(bed)
        return cls(bed.decode("ascii"), body[end + 1 :], data[-7] == ETX)
