"""Fixtures of the integration tests: simulated serial devices on real pseudo-terminals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ptys import PtyDevice


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[PtyDevice]:
    """A monitor's serial port, at ``tmp_path/ttyMONITOR``."""
    device = PtyDevice(tmp_path / "ttyMONITOR")
    yield device
    device.close()


@pytest.fixture
def pump(tmp_path: Path) -> Iterator[PtyDevice]:
    """A pump's serial port, at ``tmp_path/ttyPUMP``."""
    device = PtyDevice(tmp_path / "ttyPUMP")
    yield device
    device.close()
