"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol) and HL7 ACK reading; no I/O.

```
0x0B  <HL7 message: segments separated by 0x0D>  0x1C 0x0D
```

No byte stuffing: 0x0B and 0x1C never occur in a message (:mod:`edge.hl7.er7` keeps them
out). :class:`MllpDecoder` is fed bytes as they arrive and returns whole messages; bytes
before a start block are garbage and skipped (counted), a start block inside a frame begins a
new frame, and a frame longer than ``max_bytes`` is dropped (counted) until the next start
block. An ACK is read by :func:`parse_ack`: MSA-1 (``AA``/``AE``/``AR``, or the commit
codes ``CA``/``CE``/``CR``), MSA-2 the control id it answers, and the receiver's own words
(MSA-3, or ERR-8 in v2.5+).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END", "START", "Ack", "AckError", "MllpDecoder", "frame", "parse_ack"]

START = b"\x0b"
END = b"\x1c\x0d"
MAX_BYTES = 1 << 20  # 1 MiB: far above any ACK or PCD message
ACCEPTED = frozenset({"AA", "CA"})
REFUSED = frozenset({"AE", "AR", "CE", "CR"})


def frame(message: str) -> bytes:
    """``message`` (segments ending in CR) as one MLLP frame, UTF-8."""
    return START + message.encode() + END


class MllpDecoder:
    """Whole messages out of a byte stream (``bad`` counts skipped garbage and overlong
    frames)."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._buffer = bytearray()
        self._in_frame = False
        self._garbage = False  # inside a run of bytes outside a frame (counted once)
        self._max = max_bytes
        self.bad = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The messages ``data`` completes (without their framing bytes)."""
        messages: list[bytes] = []
        for byte in data:
            if byte == 0x0B:
                if self._in_frame and self._buffer:
                    self.bad += 1
                self._buffer.clear()
                self._in_frame, self._garbage = True, False
            elif not self._in_frame:
                if byte not in (0x0D, 0x0A) and not self._garbage:
                    self.bad += 1
                    self._garbage = True
            elif byte == 0x0D and self._buffer.endswith(b"\x1c"):
                messages.append(bytes(self._buffer[:-1]))
                self._buffer.clear()
                self._in_frame = False
            elif len(self._buffer) >= self._max:
                self.bad += 1
                self._buffer.clear()
                self._in_frame = False
            else:
                self._buffer.append(byte)
        return messages


class AckError(ValueError):
    """A reply that is not an HL7 ACK (no MSA, or no code)."""


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement: ``code`` (MSA-1), the ``control_id`` it answers (MSA-2) and the
    receiver's ``detail`` (MSA-3 or ERR-8; may be empty)."""

    code: str
    control_id: str
    detail: str

    @property
    def accepted(self) -> bool:
        """``AA``/``CA``: the receiver took the message."""
        return self.code in ACCEPTED

    @property
    def refused(self) -> bool:
        """``AE``/``AR``/``CE``/``CR``: an error or a rejection (not retried unchanged)."""
        return self.code in REFUSED


def parse_ack(data: bytes) -> Ack:
    """The ACK in ``data`` (one message without framing); raises :class:`AckError`."""
    text = data.decode("utf-8", errors="replace")
    segments = [s for s in text.replace("\n", "\r").split("\r") if s]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise AckError("reply does not start with MSH")
    separator, component = segments[0][3], segments[0][4]
    fields = {s[:3]: s.split(separator) for s in reversed(segments)}
    msa = fields.get("MSA")
    if msa is None or len(msa) < 3 or not msa[1]:
        raise AckError("reply has no MSA segment with a code and a control id")
    detail = msa[3] if len(msa) > 3 else ""
    err = fields.get("ERR")
    if not detail and err is not None and len(err) > 8:
        detail = err[8]
    elif not detail and err is not None and len(err) > 1:
        detail = err[1].split(component)[-1]
    return Ack(msa[1].strip(), msa[2].strip(), detail[:500])
