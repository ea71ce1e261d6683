"""The dashboard's history: one SQLite file of what it received from every edge, for the trends,
the treatment-session records and ``infusion-edge session-report``.

The dashboard is a view over MQTT and may show many edges, so it keeps its own history rather
than asking each edge: whatever it receives it can chart, whichever edge sent it. Tables:

- ``readings``: sampled readings (one row per device and measurement time, replays ignored),
  with the trend's values as columns (HR, SpO2, RR /min or %; pump rate mL/h, volume mL,
  state) and the whole Reading as JSON (zlib-compressed) for the charting rule
  (``edge.charting``);
- ``cuffs``: every NIBP measurement (mmHg) at its own measurement time;
- ``sessions``: every distinct snapshot of every treatment session, with the bed's label;
- ``alarms``: each alarm's newest state (``ended`` is final), with who acknowledged it and when;
- ``session_notes``: the one note a nurse may write on a session's record (when enabled);
- ``alarm_events``: each transition of the alarm log (raised, priority raised, acknowledged...),
  with the alarm's priority and state after it and who acknowledged it;
- ``limit_changes``: each alarm limit of a bed changed by a live reload of its edge's config
  (from ``config-log``): when, which limit, before and after (JSON), and by whom.

Times are Unix seconds (UTC). Rows older than the retention are deleted by :meth:`prune`. No
patient identifier is stored: payloads carry none. Every method is blocking: call them in a
worker thread; one lock serialises the connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.config import Config
from edge.storage.errors import storage_fault
from edge.storage.files import set_aside
from edge.storage.sqlite import open_checked

__all__ = [
    "AlarmEventRow",
    "AlarmRow",
    "CuffRow",
    "HistoryStore",
    "LimitChangeRow",
    "ReadingRow",
    "Row",
    "SessionRow",
    "history_path",
]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    site TEXT NOT NULL, bed TEXT NOT NULL, device_id TEXT NOT NULL, ts REAL NOT NULL,
    kind TEXT NOT NULL, hr REAL, spo2 REAL, rr REAL, rate REAL, volume REAL, pump_state TEXT,
    body BLOB NOT NULL,
    PRIMARY KEY (site, bed, ts, device_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (ts);
CREATE TABLE IF NOT EXISTS cuffs (
    site TEXT NOT NULL, bed TEXT NOT NULL, device_id TEXT NOT NULL, ts REAL NOT NULL,
    sbp REAL, dbp REAL, map REAL,
    PRIMARY KEY (site, bed, ts, device_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT NOT NULL, ts REAL NOT NULL,
    phase TEXT NOT NULL, started_at REAL NOT NULL, label TEXT, body TEXT NOT NULL,
    PRIMARY KEY (site, bed, session_id, ts, phase)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    site TEXT NOT NULL, alarm_id TEXT NOT NULL, bed TEXT NOT NULL, raised_at REAL NOT NULL,
    ts REAL NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (site, alarm_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarms_by_bed ON alarms (site, bed, raised_at);
CREATE TABLE IF NOT EXISTS session_notes (
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT NOT NULL, text TEXT NOT NULL,
    by TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (site, bed, session_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarm_events (
    site TEXT NOT NULL, bed TEXT NOT NULL, at REAL NOT NULL, alarm_id TEXT NOT NULL,
    transition TEXT NOT NULL, priority TEXT NOT NULL, state TEXT NOT NULL, by TEXT,
    PRIMARY KEY (site, bed, at, alarm_id, transition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS limit_changes (
    site TEXT NOT NULL, bed TEXT NOT NULL, at REAL NOT NULL, limit_path TEXT NOT NULL,
    before TEXT NOT NULL, after TEXT NOT NULL, by TEXT NOT NULL,
    PRIMARY KEY (site, bed, at, limit_path)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """A sampled reading: trend values (``None`` where the reading has none) and its JSON."""

    site: str
    bed: str
    device_id: str
    ts: float
    kind: str
    hr: float | None
    spo2: float | None
    rr: float | None
    rate: float | None
    volume: float | None
    pump_state: str | None
    body: str


@dataclass(frozen=True, slots=True)
class CuffRow:
    """One NIBP measurement (mmHg) at its measurement time."""

    site: str
    bed: str
    device_id: str
    ts: float
    sbp: float | None
    dbp: float | None
    map: float | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A snapshot of a treatment session (``body``: the session payload as JSON)."""

    site: str
    bed: str
    session_id: str
    ts: float
    phase: str
    started_at: float
    label: str | None
    body: str


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """An alarm's state as last received (``body``: the alarm payload as JSON)."""

    site: str
    alarm_id: str
    bed: str
    raised_at: float
    ts: float
    state: str
    body: str


@dataclass(frozen=True, slots=True)
class AlarmEventRow:
    """One transition of an alarm, at ``at`` (Unix s)."""

    site: str
    bed: str
    at: float
    alarm_id: str
    transition: str
    priority: str
    state: str
    by: str | None


@dataclass(frozen=True, slots=True)
class LimitChangeRow:
    """One alarm limit of a bed changed by a reload at ``at`` (Unix s); ``before`` and
    ``after`` as JSON (a number in the rule's unit, or a priority word); ``by``: the OS user,
    or ``signal``."""

    site: str
    bed: str
    at: float
    limit_path: str
    before: str
    after: str
    by: str


Row = ReadingRow | CuffRow | SessionRow | AlarmRow | AlarmEventRow | LimitChangeRow


def history_path(config: Config) -> Path:
    """Where ``config``'s dashboard keeps its history: ``http.history.path``, else
    ``dashboard-history.sqlite`` beside the outbox."""
    configured = config.http.history.path
    return configured or config.storage.outbox_path.parent / "dashboard-history.sqlite"


class HistoryStore:
    """The history file at ``path``; a corrupt file is moved aside and a new one begun."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if storage_fault("history", self.path, exc).kind != "corrupt":
                raise  # a disk or directory that refuses: the caller runs without history
            aside = set_aside(self.path, datetime.now(UTC))
            log.warning(
                "dashboard history file is corrupt; moved aside, starting a new one",
                extra={"path": str(self.path), "aside": str(aside), "error": str(exc)},
            )
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        return open_checked(self.path, SCHEMA, synchronous="NORMAL")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def write(self, rows: Sequence[Row]) -> None:
        """Store ``rows`` in one transaction (a reading or cuff seen before is ignored; an
        alarm replaces its older state unless that one has ended)."""
        readings = [(*_values(r)[:-1], _pack(r.body)) for r in rows if isinstance(r, ReadingRow)]
        cuffs = [_values(r) for r in rows if isinstance(r, CuffRow)]
        sessions = [_values(r) for r in rows if isinstance(r, SessionRow)]
        alarms = [_values(r) for r in rows if isinstance(r, AlarmRow)]
        events = [_values(r) for r in rows if isinstance(r, AlarmEventRow)]
        limits = [_values(r) for r in rows if isinstance(r, LimitChangeRow)]
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", readings
            )
            self._db.executemany("INSERT OR REPLACE INTO cuffs VALUES (?,?,?,?,?,?,?)", cuffs)
            self._db.executemany(
                "INSERT OR IGNORE INTO sessions VALUES (?,?,?,?,?,?,?,?)", sessions
            )
            self._db.executemany(
                "INSERT INTO alarms VALUES (?,?,?,?,?,?,?) ON CONFLICT (site, alarm_id) DO "
                "UPDATE SET bed=excluded.bed, raised_at=excluded.raised_at, ts=excluded.ts, "
                "state=excluded.state, body=excluded.body WHERE alarms.state != 'ended'",
                alarms,
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO alarm_events VALUES (?,?,?,?,?,?,?,?)", events
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO limit_changes VALUES (?,?,?,?,?,?,?)", limits
            )

    def prune(self, before: float) -> int:
        """Delete what is older than ``before`` (Unix s): readings and cuffs measured before
        it, sessions whose newest snapshot is before it, alarms raised before it and ended;
        the number of rows deleted."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            deleted = 0
            for sql in (
                "DELETE FROM readings WHERE ts < ?",
                "DELETE FROM cuffs WHERE ts < ?",
                "DELETE FROM sessions WHERE (site, bed, session_id) IN (SELECT site, bed, "
                "session_id FROM sessions GROUP BY site, bed, session_id HAVING max(ts) < ?)",
                "DELETE FROM alarms WHERE raised_at < ? AND state = 'ended'",
                "DELETE FROM alarm_events WHERE at < ?",
                "DELETE FROM limit_changes WHERE at < ?",
                "DELETE FROM session_notes WHERE (site, bed, session_id) NOT IN (SELECT site, "
                "bed, session_id FROM sessions) AND at < ?",
            ):
                deleted += self._db.execute(sql, (before,)).rowcount
        return deleted

    def _query(self, sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def readings(
        self, site: str, bed: str, since: float, until: float, kind: str | None = None
    ) -> list[ReadingRow]:
        """The bed's readings measured in [``since``, ``until``), oldest first."""
        sql = "SELECT * FROM readings WHERE site=? AND bed=? AND ts>=? AND ts<?"
        params: list[Any] = [site, bed, since, until]
        if kind is not None:
            sql += " AND kind=?"
            params.append(kind)
        return [_reading_row(row) for row in self._query(sql + " ORDER BY ts", params)]

    def cuffs(self, site: str, bed: str, since: float, until: float) -> list[CuffRow]:
        """The bed's NIBP measurements in [``since``, ``until``), oldest first."""
        sql = "SELECT * FROM cuffs WHERE site=? AND bed=? AND ts>=? AND ts<? ORDER BY ts"
        return [CuffRow(*row) for row in self._query(sql, (site, bed, since, until))]

    def session_snapshots(
        self, site: str, bed: str, session_id: str | None = None, until: float | None = None
    ) -> list[SessionRow]:
        """The bed's session snapshots (of ``session_id`` only, if given), oldest first."""
        sql = "SELECT * FROM sessions WHERE site=? AND bed=?"
        params: list[Any] = [site, bed]
        if session_id is not None:
            sql += " AND session_id=?"
            params.append(session_id)
        if until is not None:
            sql += " AND started_at<?"
            params.append(until)
        return [SessionRow(*row) for row in self._query(sql + " ORDER BY ts", params)]

    def sessions(self, site: str | None = None, bed: str | None = None) -> list[SessionRow]:
        """The newest snapshot of every session (of ``site``/``bed`` if given), newest first."""
        sql = (
            "SELECT * FROM sessions s WHERE ts = (SELECT max(ts) FROM sessions t WHERE "
            "t.site=s.site AND t.bed=s.bed AND t.session_id=s.session_id)"
        )
        params: list[Any] = []
        if site is not None:
            sql += " AND site=?"
            params.append(site)
        if bed is not None:
            sql += " AND bed=?"
            params.append(bed)
        rows = [SessionRow(*row) for row in self._query(sql + " ORDER BY started_at DESC", params)]
        newest: dict[tuple[str, str, str], SessionRow] = {}
        for row in rows:  # two snapshots of one ts (a phase change): the later phase
            key = (row.site, row.bed, row.session_id)
            if key not in newest or _PHASES.index(row.phase) > _PHASES.index(newest[key].phase):
                newest[key] = row
        return list(newest.values())

    def alarms(self, site: str, bed: str, since: float, until: float) -> list[AlarmRow]:
        """The bed's alarms raised in [``since``, ``until``), oldest first."""
        sql = (
            "SELECT * FROM alarms WHERE site=? AND bed=? AND raised_at>=? AND raised_at<? "
            "ORDER BY raised_at"
        )
        return [AlarmRow(*row) for row in self._query(sql, (site, bed, since, until))]

    def alarm_events(self, site: str, bed: str, since: float, until: float) -> list[AlarmEventRow]:
        """The bed's alarm transitions in [``since``, ``until``), oldest first."""
        sql = "SELECT * FROM alarm_events WHERE site=? AND bed=? AND at>=? AND at<? ORDER BY at"
        return [AlarmEventRow(*row) for row in self._query(sql, (site, bed, since, until))]

    def limit_changes(
        self, site: str, bed: str, since: float, until: float
    ) -> list[LimitChangeRow]:
        """The bed's alarm-limit changes in [``since``, ``until``), oldest first."""
        sql = "SELECT * FROM limit_changes WHERE site=? AND bed=? AND at>=? AND at<? ORDER BY at"
        return [LimitChangeRow(*row) for row in self._query(sql, (site, bed, since, until))]

    def set_note(self, site: str, bed: str, session_id: str, text: str, by: str, at: float) -> None:
        """Write (or replace) the note of a session."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO session_notes VALUES (?,?,?,?,?,?)",
                (site, bed, session_id, text, by, at),
            )

    def note(self, site: str, bed: str, session_id: str) -> tuple[str, str, float] | None:
        """The session's note: its text, who wrote it and when (Unix s); ``None`` if none."""
        sql = "SELECT text, by, at FROM session_notes WHERE site=? AND bed=? AND session_id=?"
        rows = self._query(sql, (site, bed, session_id))
        return (str(rows[0][0]), str(rows[0][1]), float(rows[0][2])) if rows else None

    def sites_of(self, bed: str) -> list[str]:
        """The sites that have a bed named ``bed``."""
        sql = "SELECT DISTINCT site FROM sessions WHERE bed=? UNION SELECT DISTINCT site FROM "
        sql += "readings WHERE bed=?"
        return sorted(row[0] for row in self._query(sql, (bed, bed)))


_PHASES = ("baseline", "infusion", "observation", "closed")


def _pack(body: str) -> bytes:
    """A reading's JSON, compressed (about a fifth of its size)."""
    return zlib.compress(body.encode(), 6)


def _unpack(blob: bytes | str) -> str:
    return blob if isinstance(blob, str) else zlib.decompress(blob).decode()


def _reading_row(row: tuple[Any, ...]) -> ReadingRow:
    values = list(row)
    values[-1] = _unpack(values[-1])
    return ReadingRow(*values)


def _values(row: Row) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in row.__slots__)
