"""ER7 encoding: escaping and numbers, against python-hl7's parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import hl7
from hypothesis import given
from hypothesis import strategies as st

from edge.hl7.er7 import components, escape, number, segment, timestamp

PRINTABLE = st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), max_size=40)


@given(PRINTABLE)
def test_any_text_stays_in_its_field_and_comes_back_exactly(text: str) -> None:
    message = "MSH|^~\\&|A|B\r" + segment("OBX", ["1", "ST", "", "", escape(text), "after"])
    parsed = hl7.parse(message)
    obx = parsed.segment("OBX")
    assert parsed.unescape(str(obx[5])) == text
    assert str(obx[6]) == "after"


@given(st.text(max_size=40))
def test_control_characters_never_reach_the_wire(text: str) -> None:
    encoded = escape(text)
    assert not any(ch < " " or ch == "\x7f" for ch in encoded)
    assert "\x0b" not in encoded
    assert "\x1c" not in encoded


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_numbers_are_plain_decimals_of_the_same_value(value: float) -> None:
    text = number(value)
    assert "e" not in text.lower()
    assert float(text) == value


def test_numbers_read_as_people_write_them() -> None:
    assert [number(v) for v in (120.0, 12.5, 0.1, -0.0, 1e-7, 37.50)] == [
        "120",
        "12.5",
        "0.1",
        "0",
        "0.0000001",
        "37.5",
    ]


def test_timestamps_are_utc_with_milliseconds() -> None:
    at = datetime(2025, 1, 1, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(at) == "20250101100000.123+0000"
    assert timestamp(at.astimezone(UTC)) == "20250101100000.123+0000"


def test_components_drop_trailing_empties_and_escape() -> None:
    assert components("a", None, "", "") == "a"
    assert components("", "b^c") == "^b\\S\\c"
