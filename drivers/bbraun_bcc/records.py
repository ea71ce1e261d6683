"""B. Braun BCC information fields: response records and requests (fact sheet §5-6).

A response's information field is one or more records joined by RS (0x1E), no leading or
trailing RS::

    time , address , parameter , value   RS   time , address , ...
    |      |         |           |
    |      |         |           UTF-8, may contain commas (split on the first three only);
    |      |         |           "_NV" no value, "_NA" temporarily not available
    |      |         GNACK, GNERR, INRT, ... (unknown ones are skipped by the codec)
    |      "501xy": 50100 = the ComDevice, x = pillar 1-3, y = slot 1-9 then A-O, bottom-up
    seconds since the ComDevice was switched on, decimal

``ADMIN:VERSION`` is answered with three fields and no value (``207,50100,V3.30``).

A request's information field is ``AREA:COMMAND``: ``ADMIN:ALIVE``, ``ADMIN:VERSION``,
``MEM:GET``, ``MEM:GETSLOT#xy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from drivers.bbraun_bcc.frames import RS, BccFrame
from drivers.errors import DecodeError

__all__ = [
    "GENERAL_ADDRESS",
    "INITIAL_BED_ID",
    "NO_VALUE",
    "Command",
    "Record",
    "Request",
    "alive_request",
    "is_slot",
    "join_records",
    "mem_get_request",
    "mem_get_slot_request",
    "parse_request",
    "split_records",
    "version_request",
]

GENERAL_ADDRESS = "50100"
"""The address of the ComDevice itself (general records, GNACK, most GNERR)."""
INITIAL_BED_ID = "1"
"""The bedId a host uses for ADMIN:ALIVE before it knows the ComDevice's own."""
NO_VALUE = frozenset({"_NV", "_NA"})
"""Values that mean "no value" (not zero) and "temporarily not available"."""

Command = Literal["ADMIN:ALIVE", "ADMIN:VERSION", "MEM:GET", "MEM:GETSLOT"]
_COMMANDS: dict[str, Command] = {
    "ADMIN:ALIVE": "ADMIN:ALIVE",
    "ADMIN:VERSION": "ADMIN:VERSION",
    "MEM:GET": "MEM:GET",
}
_GETSLOT = "MEM:GETSLOT#"
_SLOT = re.compile(r"[1-3][1-9A-O]")
_ADDRESS = re.compile(r"501[0-9A-Z]{2}")
_RECORD = re.compile(r"([0-9]+),(501[0-9A-Z]{2}),([^,]+)(?:,(.*))?", re.DOTALL)
"""A well-formed record, as :meth:`Record.from_bytes` accepts it, in one match."""
_RS = chr(RS)


def is_slot(text: str) -> bool:
    """Whether ``text`` is a pump slot ``xy``: pillar ``1``-``3``, slot ``1``-``9``/``A``-``O``."""
    return _SLOT.fullmatch(text) is not None


class _RecordFields(NamedTuple):
    time: int
    address: str
    parameter: str
    value: str | None = None


class Record(_RecordFields):
    """One response record. ``time`` in s since the ComDevice started; ``address`` ``501xy``;
    ``value`` the raw text, ``None`` for the three-field form (ADMIN:VERSION).

    A named tuple, checked when built by name; :func:`split_records` builds the ones its
    pattern matched without the check (every invariant already holds), which costs a third."""

    __slots__ = ()

    def __new__(cls, time: int, address: str, parameter: str, value: str | None = None) -> Record:
        if time < 0:
            raise ValueError("record time must not be negative")
        for name, text in (("address", address), ("parameter", parameter)):
            if not text or "," in text or chr(RS) in text:
                raise ValueError(f"record {name} {text!r} is empty or has ',' or RS")
        if value is not None and chr(RS) in value:
            raise ValueError("record value contains RS")
        return super().__new__(cls, time, address, parameter, value)

    @property
    def slot(self) -> str:
        """The ``xy`` part of the address (``00`` for the ComDevice)."""
        return self.address[3:]

    def to_bytes(self) -> bytes:
        """``time,address,parameter[,value]`` in UTF-8."""
        fields = [str(self.time), self.address, self.parameter]
        if self.value is not None:
            fields.append(self.value)
        return ",".join(fields).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        """Parse one record; :class:`DecodeError` unless ``time,address,parameter[,value]``."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("BCC record is not valid UTF-8") from None
        fields = text.split(",", 3)
        if len(fields) < 3:
            raise DecodeError(f"BCC record has {len(fields)} fields, expected 3 or 4")
        time, address, parameter = fields[:3]
        if not (time.isascii() and time.isdigit()):
            raise DecodeError("BCC record time is not a decimal number")
        if _ADDRESS.fullmatch(address) is None:
            raise DecodeError("BCC record address is not 501xy")  # no echo: could be any text
        if not parameter:
            raise DecodeError("BCC record without a parameter name")
        return cls(int(time), address, parameter, fields[3] if len(fields) == 4 else None)


def join_records(records: Iterable[Record]) -> bytes:
    """The information field carrying ``records``, joined by RS."""
    return bytes((RS,)).join(record.to_bytes() for record in records)


def split_records(information: bytes) -> tuple[Record, ...]:
    """The records of a response information field; :class:`DecodeError` on a malformed one.

    The fast path decodes the field once and matches each record with one regular
    expression (a match meets every invariant of :class:`Record`, so the tuples are built
    without its checks); when one does not match, the records are parsed one by one with
    :meth:`Record.from_bytes`, which says what is wrong with the first bad one."""
    if not information:
        return ()
    try:
        matches = list(map(_RECORD.fullmatch, information.decode("utf-8").split(_RS)))
    except UnicodeDecodeError:
        matches = [None]
    if None not in matches:  # every record matched: built without Record's own checks
        return tuple(
            _tuple_new(Record, (int(match[1]), match[2], match[3], match[4]))
            for match in matches
            if match is not None  # always (for the type checker)
        )
    return tuple(Record.from_bytes(part) for part in information.split(bytes((RS,))))


_tuple_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class Request:
    """A host request; ``slot`` is the ``xy`` of MEM:GETSLOT (not yet validated by parsing)."""

    command: Command
    slot: str | None = None

    def to_bytes(self) -> bytes:
        """The information field of this request."""
        if self.command == "MEM:GETSLOT":
            return f"{_GETSLOT}{self.slot or ''}".encode("ascii")
        return self.command.encode("ascii")

    def frame(self, bed_id: str) -> BccFrame:
        """This request as a single (ETX) block addressed to ``bed_id``."""
        return BccFrame(bed_id, self.to_bytes())


def parse_request(information: bytes) -> Request:
    """The request in an information field; :class:`DecodeError` for anything else."""
    text = information.decode("ascii", errors="replace")
    command = _COMMANDS.get(text)
    if command is not None:
        return Request(command)
    if text.startswith(_GETSLOT) and len(text) == len(_GETSLOT) + 2:
        return Request("MEM:GETSLOT", text[len(_GETSLOT) :])
    raise DecodeError("unknown or malformed BCC request")


def alive_request(bed_id: str = INITIAL_BED_ID) -> BccFrame:
    """``ADMIN:ALIVE``: (re)initialise the link; sent with bedId ``1``."""
    return Request("ADMIN:ALIVE").frame(bed_id)


def version_request(bed_id: str) -> BccFrame:
    """``ADMIN:VERSION``: ask for the protocol version."""
    return Request("ADMIN:VERSION").frame(bed_id)


def mem_get_request(bed_id: str) -> BccFrame:
    """``MEM:GET``: every enabled parameter of the ComDevice and of every pump."""
    return Request("MEM:GET").frame(bed_id)


def mem_get_slot_request(bed_id: str, slot: str) -> BccFrame:
    """``MEM:GETSLOT#xy``: the general records and the pump in ``slot`` only."""
    if not is_slot(slot):
        raise ValueError(f"pump slot {slot!r} is not [1-3][1-9A-O]")
    return Request("MEM:GETSLOT", slot).frame(bed_id)
