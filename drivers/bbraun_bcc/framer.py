"""Sans-I/O framer for B. Braun BCC: bytes in; frames, ACK/NAK and bad-frame markers out.

Both ends use it: the host gets answer blocks, the ComDevice gets requests and the host's
ACK/NAK bytes. Recovery rules (fact sheet §2-4):

- Outside a frame, SOH (0x01) starts one; a lone ACK (0x06) or NAK (0x15) is reported as a
  :class:`~drivers.bbraun_bcc.frames.Control`; every other byte is line noise, dropped and
  counted in :attr:`BccFramer.dropped`.
- Inside a frame, bytes collect until EOT (0x04). The frame is then destuffed (if stuffing is
  on) and checked: length field, STX, ETX/ETB, checksum, bedId. Any failure is a
  :class:`~drivers.base.BadFrame` with the reason.
- An SOH before the EOT means the frame was cut short: a BadFrame, and a new frame starts at
  that SOH (resync).
- More than ``max_frame`` bytes without EOT: a BadFrame, and bytes are dropped until the next
  SOH, ACK or NAK. A real block is about 1 KB (2 KB stuffed at worst); the cap is 8 KiB.

``feed`` never raises, whatever the input.
"""

from __future__ import annotations

import re

from drivers.base import BadFrame
from drivers.bbraun_bcc.frames import EOT, SOH, BccFrame, Control, FrameError, destuff

__all__ = ["MAX_FRAME", "BccFramer", "FramerItem", "decode_wire"]

MAX_FRAME = 8 * 1024
"""Most bytes one frame may take on the wire (stuffed) before it is dropped as overlong."""

FramerItem = BccFrame | BadFrame | Control
"""What :meth:`BccFramer.feed` reports, in wire order."""

_HUNT = re.compile(b"[\x01\x06\x15]")  # SOH, ACK, NAK


def decode_wire(data: bytes, stuffing: bool) -> BccFrame | BadFrame:
    """One complete frame as received (SOH to EOT), destuffed and checked."""
    try:
        return BccFrame.from_bytes(destuff(data) if stuffing else data)
    except FrameError as exc:
        return BadFrame(str(exc))


class BccFramer:
    """Sans-I/O BCC framer with a buffer capped at ``max_frame`` bytes.

    ``stuffing`` must match the ComDevice setting (on by default, off with the DoseTrac
    profile); a mismatch shows up as bad frames.
    """

    def __init__(self, *, stuffing: bool = True, max_frame: int = MAX_FRAME) -> None:
        self.stuffing = stuffing
        self.max_frame = max_frame
        self.dropped = 0
        """Bytes dropped outside frames (line noise), for diagnostics."""
        self._frame: bytearray | None = None

    @property
    def in_frame(self) -> bool:
        """Whether part of a frame is buffered."""
        return self._frame is not None

    def reset(self) -> None:
        """Forget any partial frame (after a timeout, before a new request cycle)."""
        self._frame = None

    def feed(self, data: bytes) -> list[FramerItem]:
        """Frames, control bytes and bad-frame markers completed by ``data``, in wire order."""
        out: list[FramerItem] = []
        index = 0
        eot = data.find(EOT)  # the next EOT at or after ``index`` (-1: none), found once
        while index < len(data):
            if self._frame is None:
                index = self._hunt(data, index, out)
            else:
                if 0 <= eot < index:
                    eot = data.find(EOT, index)
                index = self._collect(data, index, eot, out)
        return out

    def _hunt(self, data: bytes, index: int, out: list[FramerItem]) -> int:
        match = _HUNT.search(data, index)  # a few bytes at most, outside line noise
        if match is None:
            self.dropped += len(data) - index
            return len(data)
        start = match.start()
        self.dropped += start - index
        if data[start] == SOH:
            self._frame = bytearray((SOH,))
        else:
            out.append(Control(data[start]))
        return start + 1

    def _collect(self, data: bytes, index: int, eot: int, out: list[FramerItem]) -> int:
        """Take bytes into the frame up to the next SOH or ``eot`` (the next EOT, -1: none;
        ``bytes.find``, since a frame is hundreds of bytes)."""
        frame = self._frame
        assert frame is not None
        soh = data.find(SOH, index, eot if eot >= 0 else len(data))
        end = soh if soh >= 0 else eot if eot >= 0 else len(data)
        found = end < len(data)
        if len(frame) + (end - index) + found > self.max_frame:
            out.append(BadFrame(f"frame longer than {self.max_frame} bytes"))
            self._frame = None
            return end
        frame += data[index:end]
        if not found:
            return end
        if soh >= 0:
            out.append(BadFrame(f"frame cut short after {len(frame)} bytes (new SOH)"))
            self._frame = bytearray((SOH,))
            return end + 1
        frame.append(EOT)
        self._frame = None
        out.append(decode_wire(bytes(frame), self.stuffing))
        return end + 1
