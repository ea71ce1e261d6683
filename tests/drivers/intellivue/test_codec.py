"""The codec: numerics to readings, special values, states, units and measurement times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivers.base import Instant
from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.codec import decode_numerics
from drivers.intellivue.datatypes import (
    Ava,
    FloatSpecial,
    FloatType,
    encode_abs_time,
    u32,
)
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import decode_message
from drivers.intellivue.poll import NuObsValue, ObservationPoll, PollResult, encode_compound
from drivers.intellivue.timebase import FirstSeen, MonitorClock, wall_time
from drivers.readings import ObservationState, VitalsReading
from tests.drivers.intellivue.harness import TARGET
from tests.drivers.intellivue.vectors import S3_MDS_CREATE_EVENT, S6_EXTENDED_POLL_RESULT

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
AT = Instant(100.0, NOW)
REL0 = 0x0012D687
HR = codes.NOM_ECG_CARD_BEAT_RATE
BPM = codes.NOM_DIM_BEAT_PER_MIN


def single(physio_id: int, value: FloatType, state: int = 0, unit: int = BPM) -> ObservationPoll:
    nu = NuObsValue(physio_id, state, unit, value)
    return ObservationPoll(0x10, (Ava(codes.NOM_ATTR_NU_VAL_OBS, nu.to_bytes()),))


def nibp(
    *extra: Ava, unit: int = codes.NOM_DIM_MMHG, values: tuple[int, ...] = (120, 80, 93)
) -> ObservationPoll:
    ids = (
        codes.NOM_PRESS_BLD_NONINV_SYS,
        codes.NOM_PRESS_BLD_NONINV_DIA,
        codes.NOM_PRESS_BLD_NONINV_MEAN,
    )
    nus = [NuObsValue(pid, 0, unit, FloatType.of(v)) for pid, v in zip(ids, values, strict=True)]
    return ObservationPoll(
        0x26, (Ava(codes.NOM_ATTR_NU_CMPD_VAL_OBS, encode_compound(nus)), *extra)
    )


def decode_one(*objects: ObservationPoll, **kwargs: object) -> VitalsReading:
    decoded = decode_numerics(objects, REL0, TARGET, AT, **kwargs)  # type: ignore[arg-type]
    assert decoded.reading is not None
    return decoded.reading


def s6() -> PollResult:
    result = decode_message(Frame.from_bytes(S6_EXTENDED_POLL_RESULT).user_data)
    assert isinstance(result, PollResult)
    return result


def test_s6_gives_hr_and_nibp_with_its_own_time() -> None:
    result = s6()
    decoded = decode_numerics(result.objects, result.rel_time, TARGET, AT)
    reading = decoded.reading
    assert reading is not None
    assert decoded.problems == []
    assert (reading.device_id, reading.bed, reading.ts) == ("mon-1", "bed-1", NOW)
    table = {o.code: (o.value, o.unit, o.state, o.ts) for o in reading.observations}
    measured = NOW - timedelta(seconds=50)  # result at REL0 + 30 s, cuff at REL0 - 20 s
    assert table == {
        "MDC_ECG_HEART_RATE": (72.0, "/min", "valid", None),
        "MDC_PRESS_BLD_NONINV_SYS": (120.0, "mm[Hg]", "valid", measured),
        "MDC_PRESS_BLD_NONINV_DIA": (80.0, "mm[Hg]", "valid", measured),
        "MDC_PRESS_BLD_NONINV_MEAN": (93.0, "mm[Hg]", "valid", measured),
    }


def test_nibp_absolute_stamp_uses_the_mds_clock() -> None:
    event = decode_message(Frame.from_bytes(S3_MDS_CREATE_EVENT).user_data)
    clock = MonitorClock.from_event(event)  # type: ignore[arg-type]
    assert clock == MonitorClock(datetime(2025, 3, 14, 9, 30), REL0)
    stamp = Ava(codes.NOM_ATTR_TIME_STAMP_ABS, encode_abs_time(datetime(2025, 3, 14, 9, 29, 40)))
    reading = decode_one(nibp(stamp), clock=clock)
    assert {o.ts for o in reading.observations} == {NOW - timedelta(seconds=20)}


def test_nibp_relative_stamp_wins_over_absolute() -> None:
    rel = Ava(codes.NOM_ATTR_TIME_STAMP_REL, u32(REL0 - 8000 * 90))
    absolute = Ava(codes.NOM_ATTR_TIME_STAMP_ABS, encode_abs_time(datetime(2025, 3, 14, 9, 29, 40)))
    reading = decode_one(
        nibp(absolute, rel), clock=MonitorClock(datetime(2025, 3, 14, 9, 30), REL0)
    )
    assert {o.ts for o in reading.observations} == {NOW - timedelta(seconds=90)}


def test_nibp_without_any_stamp() -> None:
    assert {o.ts for o in decode_one(nibp()).observations} == {None}
    no_abs = Ava(codes.NOM_ATTR_TIME_STAMP_ABS, b"\xff" * 8)
    assert {o.ts for o in decode_one(nibp(no_abs)).observations} == {None}
    first_seen = FirstSeen()
    first = decode_numerics([nibp()], REL0, TARGET, AT, first_seen=first_seen).reading
    later = Instant(160.0, NOW + timedelta(seconds=60))
    same = decode_numerics([nibp()], REL0, TARGET, later, first_seen=first_seen).reading
    new = decode_numerics([nibp(values=(130, 85, 99))], REL0, TARGET, later, first_seen=first_seen)
    assert first is not None
    assert same is not None
    assert new.reading is not None
    assert {o.ts for o in first.observations} == {NOW}
    assert {o.ts for o in same.observations} == {NOW}
    assert {o.ts for o in new.reading.observations} == {later.wall}


NAN = FloatType.special_value(FloatSpecial.NAN)
NRES = FloatType.special_value(FloatSpecial.NRES)
POS_INF = FloatType.special_value(FloatSpecial.POS_INF)
NEG_INF = FloatType.special_value(FloatSpecial.NEG_INF)
SEVENTY = FloatType.of(70)


@pytest.mark.parametrize(
    ("state", "value", "expected", "number"),
    [
        (0, SEVENTY, "valid", 70.0),
        (codes.MS_VALIDATED_DATA | codes.MS_MSMT_ONGOING | 0x0003, SEVENTY, "valid", 70.0),
        (codes.MS_QUESTIONABLE, SEVENTY, "questionable", 70.0),
        (codes.MS_EARLY_INDICATION, SEVENTY, "valid", 70.0),
        (codes.MS_INVALID, SEVENTY, "invalid", None),
        (codes.MS_UNAVAILABLE, SEVENTY, "unavailable", None),
        (codes.MS_CALIBRATION_ONGOING, SEVENTY, "unavailable", None),
        (codes.MS_TEST_DATA, SEVENTY, "invalid", None),
        (codes.MS_DEMO_DATA, SEVENTY, "invalid", None),
        (0x0100, SEVENTY, "invalid", None),
        (codes.MS_INVALID | codes.MS_QUESTIONABLE, SEVENTY, "invalid", None),
        (0, NAN, "unavailable", None),
        (0, NRES, "invalid", None),
        (0, POS_INF, "invalid", None),
        (0, NEG_INF, "invalid", None),
        (codes.MS_QUESTIONABLE, NAN, "unavailable", None),
        (codes.MS_INVALID, NAN, "invalid", None),
    ],
)
def test_states_and_special_values(
    state: int, value: FloatType, expected: ObservationState, number: float | None
) -> None:
    (observation,) = decode_one(single(HR, value, state)).observations
    assert (observation.state, observation.value) == (expected, number)


def test_unit_mismatch_is_invalid_and_reported() -> None:
    decoded = decode_numerics(
        [single(HR, SEVENTY, unit=codes.NOM_DIM_PERCENT), single(HR + 0, SEVENTY, unit=0x1234)],
        REL0,
        TARGET,
        AT,
    )
    assert decoded.reading is not None
    (observation,) = decoded.reading.observations  # the second HR is a duplicate, skipped
    assert (observation.state, observation.value, observation.unit) == ("invalid", None, "/min")
    assert decoded.problems == ["heart rate: unit % is not /min; value dropped"]
    other = decode_numerics([single(HR, SEVENTY, unit=0x1234)], REL0, TARGET, AT)
    assert other.problems == ["heart rate: unit code 0x1234 is not /min; value dropped"]


def test_unit_of_a_special_value_is_not_checked() -> None:
    decoded = decode_numerics([single(HR, NAN, unit=codes.NOM_DIM_NOS)], REL0, TARGET, AT)
    assert decoded.problems == []


def test_kilopascal_is_converted_to_mmhg() -> None:
    reading = decode_one(nibp(unit=codes.NOM_DIM_KILO_PASCAL, values=(16, 10, 12)))
    values = [o.value for o in reading.observations]
    assert values == pytest.approx([120.0098, 75.0062, 90.0074], abs=1e-3)
    assert {o.unit for o in reading.observations} == {"mm[Hg]"}


@pytest.mark.parametrize(
    ("physio_id", "unit", "code", "ucum"),
    [
        (codes.NOM_PLETH_PULS_RATE, BPM, "MDC_PULS_OXIM_PULS_RATE", "/min"),
        (codes.NOM_PULS_OXIM_SAT_O2, codes.NOM_DIM_PERCENT, "MDC_PULS_OXIM_SAT_O2", "%"),
        (codes.NOM_RESP_RATE, codes.NOM_DIM_RESP_PER_MIN, "MDC_RESP_RATE", "/min"),
        (codes.NOM_AWAY_RESP_RATE, codes.NOM_DIM_RESP_PER_MIN, "MDC_AWAY_RESP_RATE", "/min"),
    ],
)
def test_numeric_table(physio_id: int, unit: int, code: str, ucum: str) -> None:
    (observation,) = decode_one(single(physio_id, FloatType.of(97.5, 1), unit=unit)).observations
    assert (observation.code, observation.value, observation.unit) == (code, 97.5, ucum)


def test_unknown_numerics_and_empty_objects_are_skipped() -> None:
    unknown = single(0xF0E5, SEVENTY)
    empty = ObservationPoll(0x30, (Ava(codes.NOM_ATTR_TIME_STAMP_REL, u32(1)),))
    assert decode_numerics([unknown, empty], REL0, TARGET, AT).reading is None
    assert [o.code for o in decode_one(unknown, single(HR, SEVENTY)).observations] == [
        "MDC_ECG_HEART_RATE"
    ]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (ObservationPoll(1, (Ava(codes.NOM_ATTR_NU_VAL_OBS, b"\x41\x82" * 4),)), "NuObsValue"),
        (
            ObservationPoll(1, (Ava(codes.NOM_ATTR_NU_CMPD_VAL_OBS, b"\x00\x01\x00\x0a"),)),
            "NuObsValCmp",
        ),
        (nibp(Ava(codes.NOM_ATTR_TIME_STAMP_REL, b"\x00\x01")), "TIME_STAMP_REL"),
        (
            nibp(Ava(codes.NOM_ATTR_TIME_STAMP_ABS, b"\x20\x25\x99\x14\x09\x29\x40\x00")),
            "AbsoluteTime",
        ),
    ],
)
def test_malformed_attributes_raise_decode_error(obj: ObservationPoll, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_numerics([obj], REL0, TARGET, AT)


def test_naive_wall_time_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="timezone"):
        decode_numerics([single(HR, SEVENTY)], REL0, TARGET, Instant(0.0, datetime(2025, 1, 1)))


def test_wall_time_handles_the_wrap_and_the_future() -> None:
    assert wall_time(0xFFFFFFFF - 7_999, 0, NOW) == NOW - timedelta(seconds=1)
    assert wall_time(REL0 + 8000, REL0, NOW) == NOW
    assert wall_time(REL0, REL0, NOW) == NOW


def test_monitor_clock_from_incomplete_events() -> None:
    event = decode_message(Frame.from_bytes(S3_MDS_CREATE_EVENT).user_data)
    assert hasattr(event, "attributes")
    from drivers.intellivue.dataexport import MdsCreateEvent

    assert isinstance(event, MdsCreateEvent)
    keep = [a for a in event.attributes if a.attr_id != codes.NOM_ATTR_TIME_ABS]
    assert MonitorClock.from_event(MdsCreateEvent(1, 0, tuple(keep))) is None
    bad = [
        Ava(codes.NOM_ATTR_TIME_ABS, b"\x99" * 8) if a.attr_id == codes.NOM_ATTR_TIME_ABS else a
        for a in event.attributes
    ]
    assert MonitorClock.from_event(MdsCreateEvent(1, 0, tuple(bad))) is None
    clock = MonitorClock(datetime(2025, 3, 14, 9, 30), 100)
    assert clock.rel_of(datetime(2025, 3, 14, 9, 29, 59)) == (100 - 8000) % (1 << 32)
