"""The dashboard's history and the session record, fed with what the edge of a whole simulated
normal-ketamine session published (through the live state, as the broker feed does), in a
real SQLite file."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import TreatmentSession
from edge.charting import chart
from edge.cli import main
from edge.web.app import create_app, dashboard_of
from edge.web.history_recorder import HistoryRecorder
from edge.web.history_store import HistoryStore
from edge.web.session_record import COLUMNS, record_csv, session_record
from edge.web.state import LiveState
from tests.web.helpers import PASSWORDS, web_config
from tests.web.history_scenario import BED, LABEL, PREFIX, SITE, Played, played

pytestmark = pytest.mark.timeout(120)

NO_BROKER = "mqtt://127.0.0.1:9"  # the routes read the history; no feed runs


async def _record_into(path: Path, run: Played, times: int = 1) -> HistoryRecorder:
    store = HistoryStore(path)
    recorder = HistoryRecorder(store, retention_s=48 * 3600.0, sample_s=5.0)
    state = LiveState(PREFIX, observe=recorder.take)
    for _ in range(times):  # at-least-once delivery: a replay adds nothing
        for topic, payload, _retain in run.messages:
            state.apply(topic, payload)
    await recorder.flush()
    return recorder


def _open(recorder: HistoryRecorder) -> HistoryStore:
    assert recorder.store is not None, "the history file opened"
    return recorder.store


@pytest.fixture(scope="module")
def normal() -> Played:
    return played("normal-ketamine")


def _closed_session(run: Played) -> TreatmentSession:
    closed = [e.session for e in run.sessions() if e.session.phase == "closed"]
    assert closed, "the scenario's session closes"
    return closed[0]


async def test_record_of_a_completed_normal_ketamine_session(
    tmp_path: Path, normal: Played
) -> None:
    await _record_into(tmp_path / "history.sqlite", normal)
    session = _closed_session(normal)
    store = HistoryStore(tmp_path / "history.sqlite")
    record = session_record(store, SITE, BED, session.session_id)

    assert record["label"] == LABEL
    assert record["phase"] == "closed"
    assert record["order"]["rate_ml_per_h"] == pytest.approx(52.5)
    assert record["infusion_started_at"] == session.infusion_started_at.isoformat()  # type: ignore[union-attr]
    assert [r["rate_ml_per_h"] for r in record["pump"]["programmed_rates"]] == [52.5]
    # 52.5 mL/h from minute 5 to 45: 35 mL (the pump's own counter, as it reported it)
    assert record["pump"]["volume_delivered_ml"] == pytest.approx(35.0, abs=0.3)
    assert record["alarms"] == []  # a normal session raises none
    sbp = record["ranges"]["sbp"]
    assert sbp["max"] - sbp["min"] >= 12  # the rise of about +16 mmHg

    # The charted rows are those of the one charting rule over the full, unsampled history.
    history: list[PumpReading | VitalsReading | TreatmentSession] = []
    timed: list[tuple[datetime, int, PumpReading | VitalsReading | TreatmentSession]] = [
        (r.ts, 0, r) for r in normal.sim.readings
    ]
    timed += [(e.at, 1, e.session) for e in normal.sessions()]
    history = [item for _, _, item in sorted(timed, key=lambda t: (t[0], t[1]))]
    expected = [row for row in chart(history) if row.session_id == session.session_id]
    charted = record["charted"]
    assert len(charted) > 40
    assert [(r["at"], r["reason"]) for r in charted] == [
        (row.at.isoformat(), row.reason) for row in expected
    ]
    for got, want in zip(charted, expected, strict=True):
        if want.reason == "nibp":
            assert got["values"]["MDC_PRESS_BLD_NONINV_SYS"]["value"] == want.value(
                "MDC_PRESS_BLD_NONINV_SYS"
            )
    volumes = [
        r["values"]["MDC_VOL_FLUID_DELIV"]["value"]
        for r in charted
        if r["phase"] in ("observation",)
    ]
    assert volumes
    assert volumes[-1] == pytest.approx(35.0, abs=0.3)


async def test_csv_parses_and_matches_the_json(tmp_path: Path, normal: Played) -> None:
    await _record_into(tmp_path / "history.sqlite", normal)
    store = HistoryStore(tmp_path / "history.sqlite")
    record = session_record(store, SITE, BED, _closed_session(normal).session_id)
    rows = list(csv.DictReader(io.StringIO(record_csv(record))))
    assert len(rows) == len(record["charted"])
    for line, row in zip(rows, record["charted"], strict=True):
        assert (line["at"], line["reason"], line["phase"]) == (
            row["at"],
            row["reason"],
            row["phase"],
        )
        for code, column in COLUMNS.items():
            value = row["values"].get(code)
            if value is None:
                assert line[column] == line[f"{column}_min"] == ""
            else:
                assert float(line[column]) == value["value"]
                assert float(line[f"{column}_min"]) == value["min"]
                assert float(line[f"{column}_max"]) == value["max"]


async def test_history_survives_a_restart_and_replays_add_nothing(
    tmp_path: Path, normal: Played
) -> None:
    path = tmp_path / "history.sqlite"
    first = await _record_into(path, normal, times=2)
    assert first.written > 0
    store = HistoryStore(path)
    session_id = _closed_session(normal).session_id
    before = session_record(store, SITE, BED, session_id)
    counts = store.readings(SITE, BED, 0, 2e9), store.cuffs(SITE, BED, 0, 2e9)
    store.close()
    _open(first).close()

    reopened = HistoryStore(path)  # a new dashboard process
    assert (reopened.readings(SITE, BED, 0, 2e9), reopened.cuffs(SITE, BED, 0, 2e9)) == counts
    after = session_record(reopened, SITE, BED, session_id)
    assert after["charted"] == before["charted"]
    # one cuff every 3 min over 110 min, each stored once despite the replay
    assert len(counts[1]) == pytest.approx(110 / 3, abs=2)


async def test_retention_prunes_old_rows_only(tmp_path: Path, normal: Played) -> None:
    recorder = await _record_into(tmp_path / "history.sqlite", normal)
    store = _open(recorder)
    middle = (normal.wall0.timestamp()) + 55 * 60
    total = len(store.readings(SITE, BED, 0, 2e9))
    deleted = store.prune(middle)
    left = store.readings(SITE, BED, 0, 2e9)
    assert deleted > 0
    assert len(left) < total
    assert min(r.ts for r in left) >= middle
    assert store.sessions(SITE, BED)  # the session's newest snapshot is after the cut


def test_a_corrupt_history_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"not a database" * 1000)
    store = HistoryStore(path)
    assert store.sessions() == []
    assert list(tmp_path.glob("history.sqlite.corrupt-*"))


async def test_session_report_cli_prints_the_same_record(
    tmp_path: Path, normal: Played, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.sqlite"
    recorder = await _record_into(path, normal)
    _open(recorder).close()
    config = tmp_path / "dashboard.yaml"
    config.write_text(f"site: {SITE}\nedge_id: dash-1\nhttp:\n  history:\n    path: {path}\n")
    session_id = _closed_session(normal).session_id
    args = ["session-report", "--config", str(config), "--bed", BED]

    assert main([*args, "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed][1] == session_id  # the next session is newer
    assert main([*args, "--session", session_id, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert main([*args, "--session", session_id, "--format", "csv"]) == 0
    assert capsys.readouterr().out == record_csv(record)
    assert main([*args, "--session", session_id]) == 0
    text = capsys.readouterr().out
    assert f"{LABEL} ({BED})" in text
    assert f"Charted rows: {len(record['charted'])}" in text
    assert "volume delivered 35" in text
    assert main([*args, "--session", "nope"]) == 1
    assert "no session nope" in capsys.readouterr().err


async def test_history_routes_answer_the_series_sessions_and_located_errors(
    tmp_path: Path, normal: Played
) -> None:
    config = web_config(
        NO_BROKER, view_requires_login=False, history={"path": str(tmp_path / "h.sqlite")}
    )
    app = create_app(config)
    dashboard = dashboard_of(app)
    assert dashboard is not None
    assert dashboard.recorder is not None
    for topic, payload, _retain in normal.messages:  # as the broker feed hands them over
        dashboard.state.apply(topic, payload)
    await dashboard.recorder.flush()
    session = _closed_session(normal)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        since = normal.wall0.timestamp() - 60
        got = await client.get(f"/api/beds/{BED}/history", params={"since": str(since)})
        assert got.status_code == 200
        series = got.json()
        assert series["site"] == SITE  # found from the history alone
        assert len(series["nibp"]["t"]) == pytest.approx(110 / 3, abs=2)  # every cuff
        assert series["marks"] == []  # a normal session: no alarm
        assert max(v for v in series["pump"]["volume"] if v is not None) == pytest.approx(
            35, abs=0.3
        )
        assert series["limits"]["sbp_medium"] == 160
        phases = [s["phase"] for s in series["sessions"]]
        assert phases == ["baseline", "closed"]  # the next session opened at the next cuff

        iso = normal.wall0.isoformat()
        assert (await client.get(f"/api/beds/{BED}/history", params={"since": iso})).json()["nibp"][
            "t"
        ] == series["nibp"]["t"]
        bad = await client.get(f"/api/beds/{BED}/history", params={"since": "yesterday"})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("since: 'yesterday' is not an ISO 8601 time")

        listed = (await client.get(f"/api/beds/{BED}/sessions")).json()["sessions"]
        assert [s["session_id"] for s in listed][1] == session.session_id
        assert listed[1]["label"] == LABEL
        missing = await client.get(f"/api/beds/{BED}/sessions/nope/record")
        assert missing.status_code == 404
        csv_got = await client.get(
            f"/api/beds/{BED}/sessions/{session.session_id}/record.csv", params={"download": "1"}
        )
        assert csv_got.headers["content-type"].startswith("text/csv")
        assert csv_got.headers["content-disposition"].startswith('attachment; filename="session-')

    without = create_app(web_config(NO_BROKER, view_requires_login=False))
    transport = httpx.ASGITransport(app=without)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        refused = await client.get(f"/api/beds/{BED}/history")
        assert refused.status_code == 503
        assert "http.history" in refused.json()["error"]


async def test_a_history_that_cannot_be_opened_at_start_opens_later_and_keeps_what_came(
    tmp_path: Path, normal: Played
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the history's folder should be")
    config = web_config(
        NO_BROKER, view_requires_login=False, history={"path": str(blocked / "h.sqlite")}
    )
    app = create_app(config)
    dashboard = dashboard_of(app)
    assert dashboard is not None
    assert dashboard.recorder is not None
    assert dashboard.history is None
    half = len(normal.messages) // 2
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for topic, payload, _retain in normal.messages[:half]:
            dashboard.state.apply(topic, payload)
        await dashboard.recorder.flush()  # the folder still cannot be made
        assert dashboard.history is None
        assert dashboard.recorder.pending  # kept in memory meanwhile
        assert dashboard.recorder.failing is not None
        refused = await client.get(f"/api/beds/{BED}/history")
        assert refused.status_code == 503

        blocked.unlink()  # the disk is back
        for topic, payload, _retain in normal.messages[half:]:
            dashboard.state.apply(topic, payload)
        await dashboard.recorder.flush()
        assert dashboard.history is not None
        assert not dashboard.recorder.pending
        assert dashboard.recorder.failing is None
        since = normal.wall0.timestamp() - 60
        got = await client.get(f"/api/beds/{BED}/history", params={"since": str(since)})
        assert got.status_code == 200
        # every cuff of the session, those from before the file opened too
        assert len(got.json()["nibp"]["t"]) == pytest.approx(110 / 3, abs=2)
    _open(dashboard.recorder).close()


async def test_a_nurse_writes_a_session_note_only_when_notes_are_on(
    tmp_path: Path, normal: Played
) -> None:
    session_id = _closed_session(normal).session_id
    path = f"/api/beds/{BED}/sessions/{session_id}"
    for notes in (False, True):
        history = {"path": str(tmp_path / f"h-{notes}.sqlite"), "notes": notes}
        app = create_app(web_config(NO_BROKER, history=history))
        dashboard = dashboard_of(app)
        assert dashboard is not None
        assert dashboard.recorder is not None
        for topic, payload, _retain in normal.messages:
            dashboard.state.apply(topic, payload)
        await dashboard.recorder.flush()
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as nurse,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as viewer,
        ):
            for name, client in (("nurse.kim", nurse), ("viewer.lee", viewer)):
                login = {"name": name, "password": PASSWORDS[name]}
                assert (await client.post("/api/login", json=login)).status_code == 200
            sent = await nurse.post(f"{path}/note", json={"text": "KM / visit 4711"})
            if not notes:
                assert sent.status_code == 403
                assert "http.history.notes" in sent.json()["error"]
                assert (await nurse.get(f"{path}/record")).json()["note"] is None
                continue
            assert sent.status_code == 200
            record = (await viewer.get(f"{path}/record")).json()
            assert record["note"]["text"] == "KM / visit 4711"
            assert record["note"]["by"] == "nurse.kim"
            refused = await viewer.post(f"{path}/note", json={"text": "x"})
            assert refused.status_code == 403
            for bad in ("x" * 65, "line\nbreak", 42):
                answer = await nurse.post(f"{path}/note", json={"text": bad})
                assert answer.status_code == 400
                assert answer.json()["error"].startswith("text: ")
            unknown = await nurse.post(f"/api/beds/{BED}/sessions/nope/note", json={"text": "x"})
            assert unknown.status_code == 404
            assert (await viewer.get(f"{path}/record")).json()["note"]["text"] == "KM / visit 4711"
