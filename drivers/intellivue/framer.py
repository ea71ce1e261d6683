"""Sans-I/O framer for IntelliVue MIB/RS232 frames (fact sheet §2; layout in :mod:`.frames`).

Receiver rules, applied byte by byte:

- outside a frame every byte but 0xC0 is ignored (line noise, a frame tail after a resync);
- 0xC0 starts a frame; if a frame was in progress it is reported as cut short and dropped;
- 0x7D marks the next byte as escaped (XOR 0x20); ``0x7D 0xC1`` aborts the frame (reported,
  since the data is lost either way);
- 0xC1 ends the frame, which is then checked by :func:`~.frames.parse_content` (length field,
  FCS, protocol ids);
- the unescaped frame is capped at ``max_user_data`` + 6 bytes; a longer one is reported and
  skipped up to the next 0xC0.

``feed`` never raises and keeps at most one partial frame between calls.
"""

from __future__ import annotations

import re

from drivers.base import BadFrame
from drivers.intellivue.frames import BOF, EOF, ESC, MAX_USER_DATA, Frame, parse_content

__all__ = ["IntelliVueFramer"]

_SPECIAL = re.compile(b"[%s]" % re.escape(bytes((BOF, EOF, ESC))))


class IntelliVueFramer:
    """Bytes in, :class:`~.frames.Frame` and :class:`~drivers.base.BadFrame` out, in order."""

    def __init__(self, max_user_data: int = MAX_USER_DATA) -> None:
        self._limit = max_user_data + 6
        self._content = bytearray()
        self._in_frame = False
        self._escaped = False

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        """Frames and bad-frame markers completed by ``data``, in wire order.

        Plain runs between special bytes are copied as slices (the rules above, a run at a
        time), so the Python loop turns once per special byte, not once per byte."""
        out: list[Frame | BadFrame] = []
        index, size = 0, len(data)
        while index < size:
            if not self._in_frame:
                start = data.find(BOF, index)
                if start < 0:
                    return out
                self._reset(in_frame=True)
                index = start + 1
            elif self._escaped:
                self._special(data[index], out)
                index += 1
            else:
                match = _SPECIAL.search(data, index)
                end = size if match is None else match.start()
                if len(self._content) + end - index > self._limit:
                    out.append(BadFrame(f"frame longer than {self._limit} bytes"))
                    self._reset(in_frame=False)
                    index = end  # the rest of the run is outside any frame
                    continue
                self._content += data[index:end]
                if match is not None:
                    self._special(data[end], out)
                index = end + 1
        return out

    def _special(self, byte: int, out: list[Frame | BadFrame]) -> None:
        """One byte inside a frame that is a special byte or follows an escape."""
        if byte == BOF:
            if self._content or self._escaped:
                out.append(BadFrame("frame cut short by a new start byte 0xC0"))
            self._reset(in_frame=True)
        elif byte == EOF:
            if self._escaped:
                out.append(BadFrame("frame aborted by the sender (0x7D 0xC1)"))
            else:
                out.append(parse_content(bytes(self._content)))
            self._reset(in_frame=False)
        elif self._escaped:
            self._content.append(byte ^ 0x20)
            self._escaped = False
            if len(self._content) > self._limit:
                out.append(BadFrame(f"frame longer than {self._limit} bytes"))
                self._reset(in_frame=False)
        else:  # ESC
            self._escaped = True

    def _reset(self, *, in_frame: bool) -> None:
        self._content.clear()
        self._escaped = False
        self._in_frame = in_frame
