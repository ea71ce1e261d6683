"""DRI records (DRI spec §2.2): the 40-byte header, the physiological data request and the
physiological data (PHDB) record with its Basic-class subrecord. All fields little-endian,
packed; offsets in the tables of the fact sheet §3-4.

Header ``datex_hdr`` (40 bytes)::

    0 r_len i16 | 2 r_nbr u8 | 3 dri_level u8 | 4 plug_id u16 | 6 r_time u32 (Unix s)
    10 n_subnet u8 | 11 reserved u8 | 12 reserved u16 | 14 r_maintype i16 (0 PHDB)
    16 sr_desc[8] = {i16 offset from byte 40, u8 type}; the list ends with type 0xFF

Request ``dri_phdb_req`` (9 bytes, subrecord type 0)::

    0 phdb_rcrd_type u8 (1 DISPL) | 1 tx_ival i16 (s; 0 stop, -1 once) | 3 class bits u32 | 7 i16 0

PHDB subrecord ``dri_phdb`` (278 bytes, type 1 = displayed values)::

    0 time u32 | 4 physdata (270 bytes: the Basic class here) | 274 marker u8 | 275 u8
    276 cl_drilvl_subt u16 (bits 8-11: class, 0 Basic)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drivers.errors import DecodeError
from drivers.ge_dri.framer import HEADER_SIZE

__all__ = [
    "DISPL",
    "DRI_LEVEL",
    "MT_PHDB",
    "PHDB_SIZE",
    "PHYSDATA_SIZE",
    "Header",
    "PhdbRequest",
    "Subrecord",
    "build_record",
    "parse_record",
]

MT_PHDB = 0
DISPL = 1
SR_PHDB_REQUEST = 0
SR_DISPL = 1
EOL = 0xFF
DRI_LEVEL = 10  # DRI_LEVEL_04 ('09), what the simulator says it speaks
PHDB_SIZE = 278
PHYSDATA_SIZE = 270
CLASS_BASIC = 0

_HEADER = struct.Struct("<hBBHIBBHh")  # up to r_maintype; sr_desc follows
_SR_DESC = struct.Struct("<hB")
_REQUEST = struct.Struct("<BhIh")
_PHDB_HEAD = struct.Struct("<I")
_PHDB_TAIL = struct.Struct("<BBH")


@dataclass(frozen=True, slots=True)
class Header:
    """The header fields a host reads (the others are reserved)."""

    r_len: int
    r_nbr: int = 0
    dri_level: int = 0
    plug_id: int = 0
    r_time: int = 0
    maintype: int = MT_PHDB


@dataclass(frozen=True, slots=True)
class Subrecord:
    """One subrecord: its ``type`` (sr_type) and bytes."""

    type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PhdbRequest:
    """A physiological data request: ``record_type`` (1 DISPL), ``interval_s`` (tx_ival:
    period in s, 0 stop, -1 once) and ``classes`` (0: Basic only)."""

    record_type: int = DISPL
    interval_s: int = 5
    classes: int = 0

    def to_record(self) -> bytes:
        """The whole request record (header + one subrecord)."""
        body = _REQUEST.pack(self.record_type, self.interval_s, self.classes, 0)
        return build_record(MT_PHDB, (Subrecord(SR_PHDB_REQUEST, body),))

    @classmethod
    def from_subrecord(cls, data: bytes) -> PhdbRequest:
        if len(data) < _REQUEST.size:
            raise DecodeError(f"request subrecord of {len(data)} bytes, need {_REQUEST.size}")
        record_type, interval, classes, _ = _REQUEST.unpack_from(data)
        return cls(record_type, interval, classes)


def build_record(
    maintype: int, subrecords: tuple[Subrecord, ...], header: Header | None = None
) -> bytes:
    """A record: header with ``sr_desc`` filled from ``subrecords`` (at most 8), then their
    bytes. ``header`` supplies r_nbr, dri_level, plug_id and r_time (default all 0)."""
    if len(subrecords) > 8:
        raise ValueError("a record holds at most 8 subrecords")
    head = header or Header(0)
    length = HEADER_SIZE + sum(len(sub.data) for sub in subrecords)
    fixed = _HEADER.pack(
        length, head.r_nbr, head.dri_level, head.plug_id, head.r_time, 0, 0, 0, maintype
    )
    descriptors = bytearray(8 * _SR_DESC.size)
    offset = 0
    for index, sub in enumerate(subrecords):
        _SR_DESC.pack_into(descriptors, index * _SR_DESC.size, offset, sub.type)
        offset += len(sub.data)
    if len(subrecords) < 8:
        _SR_DESC.pack_into(descriptors, len(subrecords) * _SR_DESC.size, 0, EOL)
    return fixed + bytes(descriptors) + b"".join(sub.data for sub in subrecords)


def parse_record(record: bytes) -> tuple[Header, tuple[Subrecord, ...]]:
    """The header and subrecords of a checked record (as the framer returns it). A subrecord
    reaches to the next one's offset, the last to the record's end; raises
    :class:`DecodeError` for offsets outside the record or out of order."""
    if len(record) < HEADER_SIZE:
        raise DecodeError(f"record of {len(record)} bytes is shorter than its header")
    r_len, r_nbr, level, plug, r_time, _, _, _, maintype = _HEADER.unpack_from(record)
    header = Header(r_len, r_nbr, level, plug, r_time, maintype)
    listed: list[tuple[int, int]] = []
    for index in range(8):
        offset, sr_type = _SR_DESC.unpack_from(record, _HEADER.size + index * _SR_DESC.size)
        if sr_type == EOL:
            break
        listed.append((offset, sr_type))
    data_size = len(record) - HEADER_SIZE
    ends = [offset for offset, _ in listed[1:]] + [data_size]
    subrecords = []
    for (offset, sr_type), end in zip(listed, ends, strict=True):
        if not 0 <= offset <= end <= data_size:
            raise DecodeError(f"subrecord offset {offset} outside the record or out of order")
        subrecords.append(Subrecord(sr_type, record[HEADER_SIZE + offset : HEADER_SIZE + end]))
    return header, tuple(subrecords)


def phdb_subrecord(time_s: int, physdata: bytes, data_class: int = CLASS_BASIC) -> bytes:
    """A 278-byte PHDB subrecord around ``physdata`` (padded to 270 bytes)."""
    if len(physdata) > PHYSDATA_SIZE:
        raise ValueError(f"physdata of {len(physdata)} bytes, at most {PHYSDATA_SIZE}")
    padded = physdata.ljust(PHYSDATA_SIZE, b"\x00")
    return _PHDB_HEAD.pack(time_s) + padded + _PHDB_TAIL.pack(0, 0, (data_class & 0xF) << 8)


def split_phdb(data: bytes) -> tuple[int, int, bytes]:
    """(time in Unix s, class, physdata) of a PHDB subrecord; :class:`DecodeError` if short."""
    if len(data) < PHDB_SIZE:
        raise DecodeError(f"PHDB subrecord of {len(data)} bytes, need {PHDB_SIZE}")
    (time_s,) = _PHDB_HEAD.unpack_from(data)
    _, _, subtype = _PHDB_TAIL.unpack_from(data, 4 + PHYSDATA_SIZE)
    return time_s, (subtype >> 8) & 0xF, data[4 : 4 + PHYSDATA_SIZE]
