"""Messages: the sheet's examples decoded and re-encoded, round trips of every type."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    AssociationResult,
    PollProfile,
    Refuse,
    ReleaseRequest,
    ReleaseResult,
    UserInfo,
    supervision_timeout_s,
)
from drivers.intellivue.dataexport import (
    MDS,
    ErrorResult,
    EventReport,
    EventReportResult,
    MdsCreateEvent,
    PollRequest,
)
from drivers.intellivue.datatypes import (
    Ava,
    FloatType,
    ObjectId,
    encode_abs_time,
    encode_string,
    u16,
    u32,
)
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import Message, decode_message, wire
from drivers.intellivue.poll import (
    ContextPoll,
    NuObsValue,
    ObservationPoll,
    PollResult,
    encode_compound,
)
from tests.drivers.intellivue import vectors

S3_ATTRIBUTES = (
    Ava(codes.NOM_ATTR_SYS_TYPE, bytes.fromhex("0001 114D")),
    Ava(codes.NOM_ATTR_ID_BED_LABEL, encode_string("BED4")),
    Ava(codes.NOM_ATTR_TIME_ABS, encode_abs_time(datetime(2025, 3, 14, 9, 30))),
    Ava(codes.NOM_ATTR_TIME_REL, u32(0x0012D687)),
    Ava(codes.NOM_ATTR_VMS_MDS_STAT, u16(6)),
)


def nu(physio_id: int, unit: int, value: int) -> NuObsValue:
    return NuObsValue(physio_id, 0, unit, FloatType.of(value))


S6_RESULT = PollResult(
    invoke_id=2,
    poll_number=1,
    rel_time=0x00168007,
    sequence_no=5,
    contexts=(
        ContextPoll(
            0,
            (
                ObservationPoll(
                    0x14,
                    (Ava(codes.NOM_ATTR_NU_VAL_OBS, nu(0x4182, 0x0AA0, 72).to_bytes()),),
                ),
                ObservationPoll(
                    0x26,
                    (
                        Ava(
                            codes.NOM_ATTR_NU_CMPD_VAL_OBS,
                            encode_compound(
                                [
                                    nu(0x4A05, 0x0F20, 120),
                                    nu(0x4A06, 0x0F20, 80),
                                    nu(0x4A07, 0x0F20, 93),
                                ]
                            ),
                        ),
                        Ava(
                            codes.NOM_ATTR_TIME_STAMP_ABS,
                            encode_abs_time(datetime(2025, 3, 14, 9, 29, 40)),
                        ),
                        Ava(codes.NOM_ATTR_TIME_STAMP_REL, u32(0x00106587)),
                    ),
                ),
            ),
        ),
    ),
)

GOLDEN: list[tuple[str, bytes, Message]] = [
    ("S1", vectors.S1_ASSOCIATION_REQUEST, AssociationRequest()),
    (
        "S2",
        vectors.S2_ASSOCIATION_RESULT,
        AssociationResult(
            UserInfo(
                codes.SYST_SERVER,
                PollProfile(min_poll_period=4000, max_mtu_rx=1000, max_mtu_tx=1456),
            )
        ),
    ),
    ("S3", vectors.S3_MDS_CREATE_EVENT, MdsCreateEvent(1, 0x0012D687, S3_ATTRIBUTES)),
    ("S4", vectors.S4_MDS_CREATE_RESULT, EventReportResult(1, 0x0012D687)),
    ("S5", vectors.S5_EXTENDED_POLL_REQUEST, PollRequest.numerics(2, 1, 480_000)),
    ("S6", vectors.S6_EXTENDED_POLL_RESULT, S6_RESULT),
]


@pytest.mark.parametrize(("name", "data", "message"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_decode(name: str, data: bytes, message: Message) -> None:
    assert decode_message(Frame.from_bytes(data).user_data) == message


@pytest.mark.parametrize(("name", "data", "message"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_encode(name: str, data: bytes, message: Message) -> None:
    assert wire(message) == data


def test_s1_fields() -> None:
    info = AssociationRequest.from_bytes(Frame.from_bytes(vectors.S1_ASSOCIATION_REQUEST).user_data)
    profile = info.user_info.poll_profile
    assert info.user_info.system_type == codes.SYST_CLIENT
    assert (profile.min_poll_period, profile.max_mtu_rx, profile.max_mtu_tx) == (2500, 1000, 1000)
    assert profile.ext_options == codes.POLL_EXT_PERIOD_NU_1SEC


def test_s3_and_s5_accessors() -> None:
    event = decode_message(Frame.from_bytes(vectors.S3_MDS_CREATE_EVENT).user_data)
    assert isinstance(event, MdsCreateEvent)
    assert event.attribute(codes.NOM_ATTR_TIME_REL) == u32(0x0012D687)
    assert event.attribute(0x1234) is None
    assert EventReportResult.answering(event) == EventReportResult(1, 0x0012D687)
    poll = decode_message(Frame.from_bytes(vectors.S5_EXTENDED_POLL_REQUEST).user_data)
    assert isinstance(poll, PollRequest)
    assert poll.active_period == 480_000


ROUND_TRIPS: list[Message] = [
    AssociationRequest(UserInfo(poll_profile=PollProfile(ext_options=None))),
    AssociationRequest(UserInfo(option_list=(Ava(7, b"x" * 300),))),  # LI and ASN.1 long forms
    AssociationResult(UserInfo(codes.SYST_SERVER, PollProfile(ext_options=0x8C000000))),
    Refuse(),
    Refuse(b"\x03\x32\x01\x00"),
    ReleaseRequest(),
    ReleaseResult(),
    Abort(),
    MdsCreateEvent(0xFFFF, 0xFFFFFFFF, (), codes.CMD_EVENT_REPORT, MDS, ObjectId(0x21, 1, 2)),
    EventReport(5, 100, 0x0D19, b"\x01\x02\x03"),
    EventReportResult(9, 1234, 0x0D19, codes.CMD_EVENT_REPORT),
    PollRequest(3, 4),
    PollRequest.numerics(7, 8, None),
    PollRequest.keep_alive(10, 11),
    S6_RESULT,
    PollResult(3, 4, 5, (), extended=False, sequence_no=0, obj_class=codes.NOM_MOC_VMO_AL_MON),
    PollResult(3, 4, 5, (ContextPoll(0, ()), ContextPoll(1, ())), linked=(codes.RORLS_FIRST, 1)),
    PollResult(3, 4, 5, (), linked=(codes.RORLS_LAST, 2), extended=False),
    ErrorResult(3, 9, b"\x00\x01"),
]


@pytest.mark.parametrize("message", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    data = wire(message)
    assert decode_message(Frame.from_bytes(data).user_data) == message


def test_fixed_messages_have_their_sizes() -> None:
    assert len(ReleaseRequest().to_bytes()) == 26
    assert len(ReleaseResult().to_bytes()) == 26
    assert len(Abort().to_bytes()) == 48
    assert Abort().to_bytes()[1] == 48 - 2


def test_error_result_name() -> None:
    assert ErrorResult(1, 9).name == "NO_SUCH_ACTION"
    assert ErrorResult(1, 99).name == "error 99"


@pytest.mark.parametrize(
    ("ticks", "seconds"),
    [
        (0, 10.0),
        (2500, 10.0),
        (26_399, 10.0),
        (26_400, 9.9),
        (80_000, 30.0),
        (344_000, 129.0),
        (480_000, 130.0),
    ],
)
def test_supervision_timeout_table(ticks: int, seconds: float) -> None:
    assert supervision_timeout_s(ticks) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\x42", "unknown message type 0x42"),
        (b"\xe1\x00\x00\x02\x00\x07\x00\x00", "unknown ro_type 7"),
        (b"\xe1\x00\x00\x02\x00\x01\x00\x07", "ROapdus: length 7"),
        (b"\xe1\x00\x00\x02\x00\x01\x00\x06\x00\x01\x00\x03\x00\x00", "unsupported data-export"),
        (b"\xe1\x00\x00\x02\x00\x01\x00\x06\x00\x01\x00\x01\x00\x05", "remote-operation header"),
        (b"\x0d\x05\x00", "session length 5"),
        (b"\x0e\x00", "truncated"),
    ],
)
def test_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_message(data)


def test_refuse_is_known_by_its_first_byte() -> None:
    assert decode_message(b"\x0c") == Refuse(b"")
    assert decode_message(b"\x0c\x03\x32\x01\x00") == Refuse(b"\x03\x32\x01\x00")


def test_unknown_poll_action_is_rejected() -> None:
    data = bytearray(PollRequest(1, 1).to_bytes())
    data[24:26] = b"\x0c\x17"
    with pytest.raises(DecodeError, match="unsupported action type 0x0C17"):
        decode_message(bytes(data))


def test_association_result_without_poll_profile() -> None:
    data = bytearray(AssociationResult(UserInfo()).to_bytes())
    index = data.find(bytes.fromhex("0001 002C 0001 0028"))
    data[index + 4 : index + 6] = b"\x00\x09"  # rename the AVA
    with pytest.raises(DecodeError, match="no poll profile"):
        decode_message(bytes(data))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_decode_raises_only_decode_error(data: bytes) -> None:
    prefixes = [b"", b"\xe1\x00\x00\x02", *(bytes((spdu,)) for spdu in b"\x0d\x0e\x0c\x09\x0a\x19")]
    for prefix in prefixes:
        with contextlib.suppress(DecodeError):
            decode_message(prefix + data)


SAMPLES = [Frame.from_bytes(example[1]).user_data for example in vectors.EXAMPLES]


@settings(max_examples=300, deadline=None)
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_mutated_messages_raise_only_decode_error(sample: bytes, data: st.DataObject) -> None:
    mutated = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        with contextlib.suppress(DecodeError):
            decode_message(candidate)
