"""A session record lists the alarm limits of its bed changed during the session by a live
reload of the edge's config (from ``config-log``), and only those."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from edge.publish.payloads import ConfigLogPayload
from edge.reload.changes import ChangedBy, ConfigChanges, LimitChange
from edge.web.history_recorder import HistoryRecorder
from edge.web.history_store import HistoryStore
from edge.web.session_record import session_record
from edge.web.state import LiveState
from tests.web.history_scenario import BED, PREFIX, SITE, Played, played

pytestmark = pytest.mark.timeout(120)


def config_log(at: datetime, seq: int, *changes: LimitChange) -> tuple[str, bytes]:
    payload = ConfigLogPayload.model_validate(
        {
            "schema": ConfigLogPayload.SCHEMA,
            "edge_id": "edge-a",
            "session": "s1",
            "seq": seq,
            "ts": at,
            "at": at,
            "by": ChangedBy(means="control-socket", user="biomed.ana", uid=1001),
            "config_hash": "b" * 64,
            "previous_hash": "a" * 64,
            "changes": ConfigChanges(limits=changes),
        }
    )
    return f"{PREFIX}/{SITE}/config-log", payload.to_json()


async def test_the_record_lists_the_limit_changes_made_during_the_session(tmp_path: Path) -> None:
    run: Played = played("normal-ketamine")
    store = HistoryStore(tmp_path / "history.sqlite")
    recorder = HistoryRecorder(store, retention_s=48 * 3600.0, sample_s=5.0)
    state = LiveState(PREFIX, observe=recorder.take)
    for topic, payload, _retain in run.messages:
        state.apply(topic, payload)
    lowered = LimitChange(bed=BED, limit="spo2_low.medium_below", before=90.0, after=92.0)
    other_bed = LimitChange(bed="chair-9", limit="spo2_low.medium_below", before=90.0, after=91.0)
    during = run.wall0 + timedelta(minutes=20)
    for message in (
        config_log(during, 1, lowered, other_bed),
        config_log(run.wall0 - timedelta(hours=2), 2, lowered),  # before the session
        config_log(during, 1, lowered, other_bed),  # delivered twice: kept once
    ):
        state.apply(*message)
    await recorder.flush()

    closed = next(e.session for e in run.sessions() if e.session.phase == "closed")
    record = session_record(store, SITE, BED, closed.session_id)
    assert record["limit_changes"] == [
        {
            "at": during.isoformat(),
            "limit": "spo2_low.medium_below",
            "before": 90.0,
            "after": 92.0,
            "by": "biomed.ana",
        }
    ]
