"""The Basic physiological data class (DRI spec §3.4, fact sheet §4): groups of a 6-byte
header (``u32 status``, ``u16 label``) followed by i16 values, at fixed offsets in the
270-byte ``physdata``. A value at or below -32001 is a marker, never a measurement.

=========  ======  ===================================  ======================
group      offset  values (i16)                         scale
=========  ======  ===================================  ======================
ecg        0       hr, st1, st2, st3, imp_rr            1/min, 1/100 mm, 1/min
p1..p4     16+14k  sys, dia, mean, hr                   1/100 mmHg, 1/min
nibp       72      sys, dia, mean, hr                   1/100 mmHg, 1/min
t1..t4     86+8k   temp                                 1/100 degC
spo2       118     spo2, pr, ir_amp, svo2               1/100 %, 1/min, 1/100 %
co2        132     et, fi, rr, amb_press                1/100 %, 1/100 %, 1/min, 1/10 mmHg
=========  ======  ===================================  ======================
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DATA_INVALID",
    "GROUPS",
    "MARKERS",
    "NIBP_AUTO",
    "NIBP_CALIBRATING",
    "NIBP_MEASURING",
    "NIBP_OLD",
    "STATUS_ACTIVE",
    "STATUS_EXISTS",
    "Group",
    "GroupSpec",
    "decode_groups",
    "encode_groups",
    "is_marker",
]

DATA_INVALID = -32767
MARKERS: Mapping[int, str] = MappingProxyType(
    {
        -32767: "invalid",
        -32766: "not updated",
        -32764: "under range",
        -32763: "over range",
        -32762: "not calibrated",
    }
)
"""The documented markers; any value <= -32001 is treated as one."""
MARKER_CEILING = -32001

STATUS_EXISTS = 1 << 0
STATUS_ACTIVE = 1 << 1
ECG_SOURCE_SHIFT = 3  # status bits 3-6: HR source, 1 ECG, 9 ECG (Mortara)
ECG_SOURCES = frozenset({1, 9})
NIBP_AUTO = 1 << 3  # NIBP label bits (fact sheet §4)
NIBP_STAT = 1 << 4
NIBP_MEASURING = 1 << 5
NIBP_CALIBRATING = 1 << 7
NIBP_OLD = 1 << 8  # data older than 60 s

_HEAD = struct.Struct("<IH")


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """Where a group lives in ``physdata`` and how many i16 values follow its header."""

    offset: int
    count: int


GROUPS: Mapping[str, GroupSpec] = MappingProxyType(
    {
        "ecg": GroupSpec(0, 5),
        **{f"p{k + 1}": GroupSpec(16 + 14 * k, 4) for k in range(4)},
        "nibp": GroupSpec(72, 4),
        **{f"t{k + 1}": GroupSpec(86 + 8 * k, 1) for k in range(4)},
        "spo2": GroupSpec(118, 4),
        "co2": GroupSpec(132, 4),
    }
)


@dataclass(frozen=True, slots=True)
class Group:
    """One group as sent: status bits, label and raw i16 values (markers included)."""

    status: int
    label: int
    values: tuple[int, ...]

    @property
    def exists(self) -> bool:
        return bool(self.status & STATUS_EXISTS)

    @property
    def active(self) -> bool:
        return bool(self.status & STATUS_ACTIVE)

    @property
    def ecg_source(self) -> int:
        """HR source of the ECG group (status bits 3-6)."""
        return (self.status >> ECG_SOURCE_SHIFT) & 0xF

    @classmethod
    def absent(cls, count: int) -> Group:
        """An absent module: status 0, every value DATA_INVALID (fact sheet §8)."""
        return cls(0, 0, (DATA_INVALID,) * count)


def is_marker(raw: int) -> bool:
    """Whether ``raw`` is a marker (no value) rather than a measurement."""
    return raw <= MARKER_CEILING


def decode_groups(physdata: bytes) -> dict[str, Group]:
    """Every Basic group of ``physdata`` (at least 146 bytes) by name."""
    groups = {}
    for name, spec in GROUPS.items():
        status, label = _HEAD.unpack_from(physdata, spec.offset)
        values = struct.unpack_from(f"<{spec.count}h", physdata, spec.offset + _HEAD.size)
        groups[name] = Group(status, label, values)
    return groups


def encode_groups(groups: Mapping[str, Group]) -> bytes:
    """The 146 bytes of Basic ``physdata`` holding ``groups``; absent ones are filled as
    :meth:`Group.absent`. Raises :class:`ValueError` for an unknown name or a wrong count."""
    out = bytearray()
    for name, spec in GROUPS.items():
        group = groups.get(name) or Group.absent(spec.count)
        if len(group.values) != spec.count:
            raise ValueError(f"group {name} has {spec.count} values, not {len(group.values)}")
        out += _HEAD.pack(group.status, group.label)
        out += struct.pack(f"<{spec.count}h", *group.values)
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown groups: {', '.join(sorted(unknown))}")
    return bytes(out)
