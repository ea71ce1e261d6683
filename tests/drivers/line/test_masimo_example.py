"""The shipped Masimo example: `line` reads the fact sheet's lines as the sheet states."""

from __future__ import annotations

import pytest

from drivers.line.driver import conversation_for
from tests.drivers.line.masimo import (
    AT,
    E1,
    STATED,
    TARGET,
    comparable,
    line_readings,
    shipped_options,
)


@pytest.mark.parametrize("line", list(STATED), ids=["E1-normal", "E3-sensor-off"])
def test_line_reads_the_sheets_examples_as_stated(line: bytes) -> None:
    readings = line_readings(line)
    assert len(readings) == 1
    assert comparable(readings) == sorted(STATED[line], key=lambda row: row[1])


def test_fed_byte_by_byte_the_readings_are_the_same() -> None:
    conversation = conversation_for(TARGET, shipped_options())
    readings = []
    for byte in E1:
        exchange = conversation.receive(bytes([byte]), AT)
        assert not exchange.errors
        readings += exchange.readings
    assert comparable(readings) == comparable(line_readings(E1))
