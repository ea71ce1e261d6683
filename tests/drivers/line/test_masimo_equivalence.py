"""The same Masimo oximeter read by its own driver (``masimo_ascii``) and by ``line`` with the
shipped config's options (config/masimo-line.yaml) gives the same observations on the fact
sheet's example lines: a normal line, and a sensor-off line (all dashes, no value)."""

from __future__ import annotations

import pytest

from drivers.masimo_ascii.conversation import MasimoConversation
from drivers.readings import PumpReading, VitalsReading
from tests.drivers.line.masimo import AT, E1, E3, STATED, TARGET, comparable, line_readings


def masimo_readings(line: bytes) -> list[PumpReading | VitalsReading]:
    """What the ``masimo_ascii`` driver makes of ``line`` (its first line is not skipped)."""
    exchange = MasimoConversation(TARGET, skip_first_line=False).receive(line, AT)
    assert not exchange.errors, exchange.errors
    return exchange.readings


@pytest.mark.parametrize("line", [E1, E3], ids=["normal", "sensor-off"])
def test_both_drivers_read_the_sheets_lines_alike(line: bytes) -> None:
    own = [row for row in comparable(masimo_readings(line)) if row[1] in _STATED_CODES]
    assert own == comparable(line_readings(line)) == sorted(STATED[line], key=lambda r: r[1])


_STATED_CODES = {row[1] for rows in STATED.values() for row in rows}
