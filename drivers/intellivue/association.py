"""IntelliVue association-control messages (fact sheet §5): request, result, refuse,
release, abort.

Association Request (0x0D) and Result (0x0E) share one layout::

    type | session LI | session data (14 B) | 0xC1 | presentation LI | presentation header
         | ASN.1 length | MDSEUserInfoStd | 16 x 0x00

    LI:           one byte if < 255, else 0xFF + u16 (length of everything after it)
    ASN.1 length: one byte if < 128, else 0x80|n + n bytes

    MDSEUserInfoStd: protocol_version u32 | nomenclature_version u32 | functional_units u32
        | system_type u32 | startup_mode u32 | option_list AttributeList
        | supported_aprofiles AttributeList: { 0x0001 PollProfileSupport }
    PollProfileSupport: revision u32 | min_poll_period u32 (1/8 ms) | max_mtu_rx u32
        | max_mtu_tx u32 | max_bw_tx u32 | options u32
        | optional_packages AttributeList: { 0xF001 PollProfileExt: options u32, AttributeList }

A received result is located by its ``BE 80 28 80`` EXTERNAL tag, walking the optional
direct/indirect references (tags 0x06, 0x02) up to the octet-aligned user data (tag 0x81),
as the guide and OpenICE do. Release Request/Result and Abort are fixed byte strings; a
Refuse is recognised by its first byte alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.datatypes import Ava, Reader, decode_attributes, encode_attributes, u32

__all__ = [
    "Abort",
    "AssociationRequest",
    "AssociationResult",
    "PollProfile",
    "Refuse",
    "ReleaseRequest",
    "ReleaseResult",
    "UserInfo",
    "supervision_timeout_s",
]

SPDU_CN, SPDU_AC, SPDU_RF, SPDU_FN, SPDU_DN, SPDU_AB = 0x0D, 0x0E, 0x0C, 0x09, 0x0A, 0x19
_SESSION_DATA = bytes.fromhex("05 08 13 01 00 16 01 02 80 00 14 02 00 02")
_AARQ_HEADER = bytes.fromhex(
    "31 80 A0 80 80 01 01 00 00 A2 80 A0 03 00 00 01 A4 80 30 80 02 01 01 06 04 52"
    "01 00 01 30 80 06 02 51 01 00 00 00 00 30 80 02 01 02 06 0C 2A 86 48 CE 14 02"
    "01 00 00 00 01 01 30 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 02 01 00 00 00 00"
    "00 00 61 80 30 80 02 01 01 A0 80 60 80 A1 80 06 0C 2A 86 48 CE 14 02 01 00 00"
    "00 03 01 00 00 BE 80 28 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 01 01 02 01 02"
    "81"
)
_AARE_HEADER = bytes.fromhex(
    "31 80 A0 80 80 01 01 00 00 A2 80 A0 03 00 00 01 A5 80 30 80 80 01 00 81 02 51"
    "01 00 00 30 80 80 01 00 81 0C 2A 86 48 CE 14 02 01 00 00 00 02 01 00 00 00 00"
    "61 80 30 80 02 01 01 A0 80 61 80 A1 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 03"
    "01 00 00 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 80 28 80 02 01 02 81"
)
_EXTERNAL = bytes.fromhex("BE 80 28 80")
_TRAILER = bytes(16)


def supervision_timeout_s(min_poll_period: int) -> float:
    """Seconds of client silence after which the monitor aborts, for a negotiated
    ``min_poll_period`` in 1/8 ms ticks (fact sheet §11)."""
    period_s = min_poll_period / codes.TICKS_PER_SECOND
    if period_s < 3.3:
        return 10.0
    return 3 * period_s if period_s <= 43 else 130.0


def _li(length: int) -> bytes:
    return bytes((length,)) if length < 255 else b"\xff" + length.to_bytes(2)


def _read_li(reader: Reader) -> int:
    first = reader.u8()
    return reader.u16() if first == 0xFF else first


def _asn_length(length: int) -> bytes:
    if length < 128:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size)


def _read_asn_length(reader: Reader) -> int:
    first = reader.u8()
    if first < 128:
        return first
    return int.from_bytes(reader.take(first & 0x7F))


@dataclass(frozen=True, slots=True)
class PollProfile:
    """PollProfileSupport with the PollProfileExt options (``None``: no ext package).
    ``min_poll_period`` is in 1/8 ms ticks, MTUs in bytes."""

    min_poll_period: int = 2500
    max_mtu_rx: int = 1000
    max_mtu_tx: int = 1000
    max_bw_tx: int = 0xFFFFFFFF
    options: int = codes.P_OPT_DYN_CREATE_OBJECTS | codes.P_OPT_DYN_DELETE_OBJECTS
    ext_options: int | None = codes.POLL_EXT_PERIOD_NU_1SEC
    revision: int = codes.POLL_PROFILE_REV_0

    def to_bytes(self) -> bytes:
        packages: list[Ava] = []
        if self.ext_options is not None:
            ext = u32(self.ext_options) + encode_attributes(())
            packages.append(Ava(codes.NOM_ATTR_POLL_PROFILE_EXT, ext))
        fields = (self.revision, self.min_poll_period, self.max_mtu_rx, self.max_mtu_tx)
        head = b"".join(u32(value) for value in (*fields, self.max_bw_tx, self.options))
        return head + encode_attributes(packages)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        reader = Reader(raw, "PollProfileSupport")
        revision, min_poll, mtu_rx, mtu_tx, bw_tx, options = (reader.u32() for _ in range(6))
        ext_options = None
        for ava in decode_attributes(reader):
            if ava.attr_id == codes.NOM_ATTR_POLL_PROFILE_EXT:
                ext_options = Reader(ava.value, "PollProfileExt").u32()
        reader.end()
        return cls(min_poll, mtu_rx, mtu_tx, bw_tx, options, ext_options, revision)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """MDSEUserInfoStd: who speaks (``system_type``) and the poll profile it offers/grants."""

    system_type: int = codes.SYST_CLIENT
    poll_profile: PollProfile = field(default_factory=PollProfile)
    protocol_version: int = codes.MDDL_VERSION1
    nomenclature_version: int = codes.NOMEN_VERSION
    functional_units: int = 0
    startup_mode: int = codes.COLD_START
    option_list: tuple[Ava, ...] = ()

    def to_bytes(self) -> bytes:
        head = (self.protocol_version, self.nomenclature_version, self.functional_units)
        out = b"".join(u32(value) for value in (*head, self.system_type, self.startup_mode))
        profile = Ava(codes.NOM_POLL_PROFILE_SUPPORT, self.poll_profile.to_bytes())
        return out + encode_attributes(self.option_list) + encode_attributes((profile,))

    @classmethod
    def read(cls, reader: Reader) -> Self:
        protocol, nomenclature, units, system, startup = (reader.u32() for _ in range(5))
        option_list = decode_attributes(reader)
        aprofiles = decode_attributes(reader)
        profiles = [ava for ava in aprofiles if ava.attr_id == codes.NOM_POLL_PROFILE_SUPPORT]
        if not profiles:
            raise DecodeError(f"{reader.what}: no poll profile in supported_aprofiles")
        profile = PollProfile.from_bytes(profiles[0].value)
        return cls(system, profile, protocol, nomenclature, units, startup, option_list)


def _encode(spdu: int, header: bytes, info: UserInfo) -> bytes:
    user_data = info.to_bytes()
    presentation = header + _asn_length(len(user_data)) + user_data + _TRAILER
    session = _SESSION_DATA + b"\xc1" + _li(len(presentation)) + presentation
    return bytes((spdu,)) + _li(len(session)) + session


def _decode(data: bytes, spdu: int, what: str) -> UserInfo:
    reader = Reader(data, what)
    if reader.u8() != spdu:
        raise DecodeError(f"{what}: first byte is not 0x{spdu:02X}")
    _check_li(reader, "session")
    reader.take(len(_SESSION_DATA))
    if reader.u8() != 0xC1:
        raise DecodeError(f"{what}: no presentation header tag 0xC1")
    _check_li(reader, "presentation")
    rest = reader.rest()
    start = rest.find(_EXTERNAL)
    if start < 0:
        raise DecodeError(f"{what}: no user data (BE 80 28 80) found")
    tlv = Reader(rest[start + len(_EXTERNAL) :], what)
    while (tag := tlv.u8()) != 0x81:
        if tag not in (0x02, 0x06):
            raise DecodeError(f"{what}: unexpected tag 0x{tag:02X} before the user data")
        tlv.take(tlv.u8())
    info = Reader(tlv.take(_read_asn_length(tlv)), f"{what} user data")
    user_info = UserInfo.read(info)
    info.end()
    return user_info


def _check_li(reader: Reader, which: str) -> None:
    length = _read_li(reader)
    if length != reader.remaining:
        raise DecodeError(
            f"{reader.what}: {which} length {length} but {reader.remaining} bytes follow"
        )


@dataclass(frozen=True, slots=True)
class AssociationRequest:
    """Client -> monitor (0x0D, AARQ). Default: numerics only, min_poll_period 312.5 ms,
    MTU 1000/1000 (fact sheet example S1)."""

    user_info: UserInfo = field(default_factory=UserInfo)

    def to_bytes(self) -> bytes:
        return _encode(SPDU_CN, _AARQ_HEADER, self.user_info)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls(_decode(data, SPDU_CN, "Association Request"))


@dataclass(frozen=True, slots=True)
class AssociationResult:
    """Monitor -> client (0x0E, AARE, accept): the poll profile the monitor grants."""

    user_info: UserInfo

    def to_bytes(self) -> bytes:
        return _encode(SPDU_AC, _AARE_HEADER, self.user_info)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls(_decode(data, SPDU_AC, "Association Result"))


@dataclass(frozen=True, slots=True)
class Refuse:
    """Monitor -> client (0x0C): association refused. ``data`` is kept but not interpreted;
    the default is an empty session LI (the content is not needed, fact sheet §5.3)."""

    data: bytes = b"\x00"

    def to_bytes(self) -> bytes:
        return bytes((SPDU_RF,)) + self.data

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        if not data or data[0] != SPDU_RF:
            raise DecodeError("Refuse: first byte is not 0x0C")
        return cls(data[1:])


class _Fixed:
    """A message with fixed bytes, recognised by its first byte."""

    __slots__ = ()
    WIRE: ClassVar[bytes]
    NAME: ClassVar[str]

    def to_bytes(self) -> bytes:
        return self.WIRE

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        if not data or data[0] != cls.WIRE[0]:
            raise DecodeError(f"{cls.NAME}: first byte is not 0x{cls.WIRE[0]:02X}")
        return cls()


@dataclass(frozen=True, slots=True)
class ReleaseRequest(_Fixed):
    """Either side (normally the client) -> 0x09: end the association."""

    WIRE = bytes.fromhex("09 18 C1 16 61 80 30 80 02 01 01 A0 80 62 80 80 01 00") + bytes(8)
    NAME = "Release Request"


@dataclass(frozen=True, slots=True)
class ReleaseResult(_Fixed):
    """The answer to a Release Request (0x0A)."""

    WIRE = bytes.fromhex("0A 18 C1 16 61 80 30 80 02 01 01 A0 80 63 80 80 01 00") + bytes(8)
    NAME = "Release Result"


@dataclass(frozen=True, slots=True)
class Abort(_Fixed):
    """Either side (0x19): the association is gone; start again with a request."""

    WIRE = bytes.fromhex(
        "19 2E 11 01 03 C1 29 A0 80 A0 80 30 80 02 01 01 06 02 51 01 00 00 00 00"
        "61 80 30 80 02 01 01 A0 80 64 80 80 01 01"
    ) + bytes(10)
    NAME = "Abort"
