"""ER7, HL7 v2's pipe-and-hat encoding: escaping, timestamps, numbers, segments.

Delimiters are the standard ones (``MSH-1`` ``|``, ``MSH-2`` ``^~\\&``). Text from the edge
(drug names, alarm messages, ids) is escaped with :func:`escape`, so a ``|`` or ``^`` in it
never splits a field; CR, LF and the MLLP framing bytes 0x0B and 0x1C never reach the wire
(line breaks become ``\\X0D\\``/``\\X0A\\``, other control characters a space). A segment is a
list of fields, each already encoded (components joined with :func:`components`); segments
are joined with CR (0x0D).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["SEGMENT_END", "components", "escape", "number", "segment", "timestamp"]

SEGMENT_END = "\r"
_ESCAPES = {
    "\\": "\\E\\",
    "|": "\\F\\",
    "^": "\\S\\",
    "&": "\\T\\",
    "~": "\\R\\",
    "\r": "\\X0D\\",
    "\n": "\\X0A\\",
}


_SPECIAL = re.compile(r"[\\|^&~\x00-\x1f\x7f]")


def escape(text: str) -> str:
    """``text`` safe inside one component: delimiters escaped, control characters made
    harmless (CR/LF as hex escapes, others as a space)."""
    if _SPECIAL.search(text) is None:
        return text
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def components(*parts: str | None) -> str:
    """Escaped components joined with ``^``; trailing empty ones dropped."""
    texts = [escape(part) if part else "" for part in parts]
    while texts and not texts[-1]:
        texts.pop()
    return "^".join(texts)


def timestamp(at: datetime) -> str:
    """``at`` as an HL7 DTM in UTC with milliseconds: ``20250101100000.123+0000``."""
    utc = at.astimezone(UTC)
    return f"{utc:%Y%m%d%H%M%S}.{utc.microsecond // 1000:03d}+0000"


def number(value: float) -> str:
    """``value`` as an HL7 NM: plain decimal notation, no exponent, no trailing zeros."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def segment(name: str, fields: Sequence[str]) -> str:
    """A segment: ``name`` and its already encoded fields (field 1 first), trailing empty
    fields dropped."""
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return "|".join([name, *values])
