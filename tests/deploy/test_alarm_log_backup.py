"""The alarm log backup of docs/operator/backups.md, run as written (paths replaced) while the
log is open and written to, as under a running edge: the copy is whole and restores the same
transitions and open alarms."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from edge.alarms.log import AlarmLog
from tests.deploy.support import ROOT
from tests.edge.alarms.test_log import spo2_run
from tests.edge.alarms.timeline import MONITOR, FakeClock, engine_for

PAGE = ROOT / "docs" / "operator" / "backups.md"
LIVE = "/var/lib/infusion-edge/alarm-log.sqlite"


def _python_recipe() -> str:
    found = re.search(r"python3 - <<'PY'\n(.*?)\nPY\n", PAGE.read_text(encoding="utf-8"), re.S)
    assert found is not None, "the page has no Python recipe"
    return found.group(1)


def test_the_documented_backup_copies_a_log_in_use(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,))
    timeline = spo2_run(clock, engine, 0, 100, 80)
    live, backups = tmp_path / "state" / "alarm-log.sqlite", tmp_path / "backups"
    backups.mkdir()
    recipe = _python_recipe()
    assert LIVE in recipe
    recipe = recipe.replace(LIVE, str(live)).replace("/var/backups/", f"{backups}/")
    with AlarmLog(live) as log:
        log.append(e for _, e in timeline.events)  # in the WAL, not yet checkpointed
        result = subprocess.run(
            [sys.executable, "-c", recipe], capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"  # PRAGMA integrity_check
        expected_events = [e.event for e in log.events()]
        expected_open = log.open_alarms()
    (copy,) = backups.glob("alarm-log-*.sqlite")
    with AlarmLog(copy) as restored:
        assert [e.event for e in restored.events()] == expected_events
        assert restored.open_alarms() == expected_open
    assert [e.transition for e in expected_events] == ["raised", "escalated"]
