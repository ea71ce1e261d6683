"""line framer and codec: regex and key=value fields, each checksum, no value, scale, pump
state, garbage and overlong lines; the default options read textline VIT lines as textline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame, DeviceTarget, Exchange, Instant
from drivers.line.checks import CHECKSUMS
from drivers.line.driver import conversation_for
from drivers.line.framer import LineFramer, TextLine, with_checksum
from drivers.line.options import LineOptions
from drivers.textline.codec import decode as textline_decode
from drivers.textline.codec import encode_pump, encode_vitals
from drivers.textline.frames import TextLineFramer

AT = Instant(0.0, datetime(2026, 11, 24, tzinfo=UTC))
TARGET = DeviceTarget("dev-1", "bed-1")
PLAIN: dict[str, Any] = {"start": None, "checksum": None}
HR = {"code": "MDC_ECG_HEART_RATE"}
SPO2 = {"code": "MDC_PULS_OXIM_SAT_O2", "no_value": ["---"]}


def receive(options: LineOptions | dict[str, Any], data: bytes) -> Exchange:
    if isinstance(options, dict):
        options = LineOptions.model_validate(options)
    return conversation_for(TARGET, options).receive(data, AT)


def values(exchange: Exchange) -> list[dict[str, tuple[float | None, str]]]:
    return [
        {obs.code: (obs.value, obs.state) for obs in reading.observations}
        for reading in exchange.readings
    ]


def test_regex_named_groups() -> None:
    options = {
        **PLAIN,
        "regex": r"^HR (?P<HR>\d+) SAT (?P<SPO2>[-\d]+)",
        "fields": {"HR": HR, "SPO2": SPO2},
    }
    exchange = receive(options, b"HR 072 SAT 097 extra\r\nHR 60 SAT ---\r\nnothing\r\n")
    assert values(exchange) == [
        {"MDC_ECG_HEART_RATE": (72.0, "valid"), "MDC_PULS_OXIM_SAT_O2": (97.0, "valid")},
        {"MDC_ECG_HEART_RATE": (60.0, "valid"), "MDC_PULS_OXIM_SAT_O2": (None, "unavailable")},
    ]
    assert exchange.errors == ["line: the line does not match the regex"]


def test_key_value_with_other_separators_and_case() -> None:
    options = {
        **PLAIN,
        "terminator": "\n",
        "keyvalue": {"separator": ";", "assign": ":", "ignore_case": True},
        "fields": {"HR": HR, "SPO2": {**SPO2, "strip": "%"}},
    }
    exchange = receive(options, b"id:7; spo2: 95% ;Hr:88;junk\n")
    assert values(exchange) == [
        {"MDC_ECG_HEART_RATE": (88.0, "valid"), "MDC_PULS_OXIM_SAT_O2": (95.0, "valid")}
    ]


def test_scale_is_applied() -> None:
    options = {**PLAIN, "fields": {"T": {"code": "MDC_RESP_RATE", "scale": 0.1}}}
    assert values(receive(options, b"T=125\r\n")) == [{"MDC_RESP_RATE": (12.5, "valid")}]


def test_a_value_that_is_not_a_number_is_an_error_not_a_reading() -> None:
    exchange = receive({**PLAIN, "fields": {"HR": HR}}, b"HR=fast\r\nHR=nan\r\nHR=1e999\r\nX=1\r\n")
    assert exchange.readings == []
    assert len(exchange.errors) == 4


@pytest.mark.parametrize("kind", sorted(CHECKSUMS))
@pytest.mark.parametrize("covers", [(False, False), (True, True)])
def test_each_checksum_is_accepted_and_a_wrong_one_counted(
    kind: str, covers: tuple[bool, bool]
) -> None:
    checksum = {
        "kind": kind,
        "separator": "|",
        "covers_start": covers[0],
        "covers_separator": covers[1],
    }
    options = LineOptions.model_validate({"start": "#", "checksum": checksum, "fields": {"HR": HR}})
    good = with_checksum("M,HR=72", options)
    wrong = bytearray(good)
    wrong[-3] = ord("0") if wrong[-3] != ord("0") else ord("1")  # last hex digit
    digits = CHECKSUMS[kind].digits  # type: ignore[index]
    lower = good[: -2 - digits] + good[-2 - digits :].lower()  # hex digits in either case
    exchange = receive(options, good + bytes(wrong) + lower)
    assert [reading.value("MDC_ECG_HEART_RATE") for reading in exchange.readings] == [72.0, 72.0]
    assert exchange.errors == ["checksum mismatch"]
    not_hex = b"#M,HR=72|" + b"z" * digits + b"\r\n"
    assert receive(options, b"#M,HR=72\r\n" + not_hex).errors == [
        "line without checksum",
        "checksum is not hex",
    ]


def test_garbage_and_overlong_lines_are_counted_and_the_buffer_capped() -> None:
    options = LineOptions.model_validate({**PLAIN, "fields": {"HR": HR}, "max_line": 32})
    framer = LineFramer(options)
    out = framer.feed(b"\xff\xfe HR=1\r\n" + b"A" * 100)
    assert out == [BadFrame("non-ASCII byte in line"), BadFrame("line longer than 32 bytes")]
    assert len(framer._buffer) <= 32
    out = framer.feed(b"B" * 100 + b"\r\nHR=2\r\n" + b"C" * 40 + b"\r\nHR=3\r\n")
    assert out == [TextLine("HR=2"), BadFrame("line longer than 32 bytes"), TextLine("HR=3")]


def test_start_text_drops_noise_and_reports_a_cut_line() -> None:
    options = LineOptions.model_validate({"start": "$", "checksum": None, "fields": {"HR": HR}})
    out = LineFramer(options).feed(b"noise$HR=1\r\n$HR=$HR=2\r\nno start\r\n\r\n")
    assert out == [
        TextLine("HR=1"),
        BadFrame("line cut short by a new start text"),
        TextLine("HR=2"),
        BadFrame("line without start text"),
    ]


def test_pump_codes_make_a_pump_reading_with_its_state() -> None:
    options = {
        **PLAIN,
        "fields": {"RATE": {"code": "MDC_FLOW_FLUID_PUMP"}, "VI": {"code": "MDC_VOL_FLUID_DELIV"}},
        "pump_state": {"field": "ST", "values": {"RUN": "infusing", "STOP": "stopped"}},
    }
    exchange = receive(options, b"ST=RUN,RATE=52.5,VI=3\r\nST=FLY,RATE=1\r\n")
    (reading,) = exchange.readings
    assert reading.kind == "pump"
    assert reading.pump.state == "infusing"
    assert reading.value("MDC_FLOW_FLUID_PUMP") == 52.5
    assert exchange.errors == ["line ST: unknown pump state 'FLY'"]


def test_default_options_read_textline_vit_lines_as_textline_does() -> None:
    lines = [
        encode_vitals({"SBP": 120, "DBP": 80, "MAP": 93, "HR": 72, "SPO2": 97, "RR": 14}),
        encode_vitals({"SBP": None, "HR": 61.5, "PR": None}),
    ]
    data = b"".join(line.to_bytes() for line in lines)
    expected = [
        reading
        for frame in TextLineFramer().feed(data)
        for reading in textline_decode(frame, TARGET, AT)  # type: ignore[arg-type]
    ]
    exchange = receive(LineOptions(), data + encode_pump("stopped", {"RATE": 0}).to_bytes())
    assert exchange.readings == expected
    assert exchange.errors == ["line: no configured field in the line"]  # a PMP line


OPTION_SETS = [
    LineOptions(),
    LineOptions.model_validate({**PLAIN, "terminator": "\r", "max_line": 40, "fields": {"HR": HR}}),
    LineOptions.model_validate(
        {
            "start": "S",
            "checksum": {"kind": "crc16_modbus", "separator": ""},
            "regex": r"(?P<HR>[^,]*),?(?P<SPO2>.*)",
            "fields": {"HR": {**HR, "scale": 1e300}, "SPO2": {**SPO2, "strip": "%"}},
        }
    ),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OPTION_SETS), st.lists(st.binary(max_size=120), max_size=8))
def test_no_input_makes_the_framer_or_codec_raise(
    options: LineOptions, chunks: list[bytes]
) -> None:
    conversation = conversation_for(TARGET, options)
    framer = LineFramer(options)
    for chunk in chunks:
        conversation.receive(chunk, AT)  # DecodeError is caught and counted inside
        for item in framer.feed(chunk):
            assert isinstance(item, TextLine | BadFrame)
        assert len(framer._buffer) <= options.max_line + 120


@settings(max_examples=200, deadline=None)
@given(st.text("HR=0123456789-.,e+ SPO2%", max_size=40))
def test_any_line_text_gives_a_reading_or_a_counted_error(text: str) -> None:
    options = OPTION_SETS[2]
    exchange = receive(options, with_checksum(text, options))
    assert exchange.frames_ok + len(exchange.errors) >= 1
