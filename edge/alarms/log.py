"""The alarm log: every alarm transition and session change, in SQLite, across restarts.

One file, WAL journal, ``synchronous=FULL``: a call to :meth:`AlarmLog.append` has reached the
disk when it returns, so the log can be written before the events are published. Tables:

- ``alarm_transitions``: every :class:`AlarmEvent`, in order (``seq``), as JSON;
- ``alarm_current``: the latest snapshot of each alarm that has not ended (what
  :meth:`AlarmLog.open_alarms` restores after a restart);
- ``session_changes`` and ``session_current``: the same for treatment sessions (the latest
  session of each bed);
- ``nibp_current``: the last NIBP cuff of each monitor (:class:`LastCuff`), so the two-cuff
  confirmation of the high hypertension level goes on after a restart.
- ``rate_history``: the latest state of each pump's rate estimator
  (:class:`~edge.alarms.rate.RateHistory`, JSON), saved every few seconds in one transaction
  for all pumps, so a restart resumes the delivered-rate windows.
- ``config_changes``: the audit of every applied reload of the config (when, by whom, the
  file's hash, the diff: :class:`~edge.reload.changes.ConfigChangeRecord`, JSON).

Blocking I/O: the daemon calls it from a worker thread or accepts a few ms per append.
Errors are sqlite3's and the OS's; :mod:`edge.alarms.log_guard` is where the daemon meets them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from pydantic import ValidationError

from edge.alarms.models import Alarm, AlarmEvent, SessionEvent, TreatmentSession
from edge.alarms.rate import RateHistory
from edge.alarms.vitals import LastCuff
from edge.reload.changes import ConfigChangeRecord
from edge.storage.sqlite import open_checked, probe_write

__all__ = ["AlarmLog", "LoggedEvent"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id TEXT NOT NULL,
    transition TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_transitions_by_alarm ON alarm_transitions (alarm_id, seq);
CREATE TABLE IF NOT EXISTS alarm_current (
    alarm_id TEXT PRIMARY KEY,
    alarm TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    change TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_changes_by_session ON session_changes (session_id, seq);
CREATE TABLE IF NOT EXISTS session_current (
    bed TEXT PRIMARY KEY,
    session TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nibp_current (
    device_id TEXT PRIMARY KEY,
    cuff TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_history (
    device_id TEXT PRIMARY KEY,
    saved_at TEXT NOT NULL,
    history TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An alarm transition and its position ``seq`` in the log (increasing, from 1)."""

    seq: int
    event: AlarmEvent


class AlarmLog:
    """The alarm log in the SQLite file at ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_checked(self.path, any_thread=False)
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(f"{self.path}: alarm log schema {version}, expected 1")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def check_writable(self) -> None:
        """Raise sqlite3's error unless the disk takes a write of a few pages now."""
        probe_write(self._db)

    def close(self) -> None:
        """Close the file; the log cannot be used after."""
        self._db.close()

    def __enter__(self) -> AlarmLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def append(self, events: Iterable[AlarmEvent | SessionEvent]) -> None:
        """Write ``events`` in one transaction, in order; durable when this returns."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                if isinstance(event, AlarmEvent):
                    self._append_alarm(event)
                else:
                    self._append_session(event)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _append_alarm(self, event: AlarmEvent) -> None:
        alarm = event.alarm
        self._db.execute(
            "INSERT INTO alarm_transitions (alarm_id, transition, at, event) VALUES (?, ?, ?, ?)",
            (alarm.alarm_id, event.transition, event.at.isoformat(), event.model_dump_json()),
        )
        if alarm.state == "ended":
            self._db.execute("DELETE FROM alarm_current WHERE alarm_id = ?", (alarm.alarm_id,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO alarm_current (alarm_id, alarm) VALUES (?, ?)",
                (alarm.alarm_id, alarm.model_dump_json()),
            )

    def _append_session(self, event: SessionEvent) -> None:
        session = event.session
        self._db.execute(
            "INSERT INTO session_changes (session_id, change, at, event) VALUES (?, ?, ?, ?)",
            (session.session_id, event.change, event.at.isoformat(), event.model_dump_json()),
        )
        self._db.execute(
            "INSERT OR REPLACE INTO session_current (bed, session) VALUES (?, ?)",
            (session.bed, session.model_dump_json()),
        )

    def events(self, after: int = 0, limit: int = 1000) -> list[LoggedEvent]:
        """Up to ``limit`` alarm transitions with ``seq`` above ``after``, in order."""
        rows = self._db.execute(
            "SELECT seq, event FROM alarm_transitions WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [LoggedEvent(seq, AlarmEvent.model_validate_json(raw)) for seq, raw in rows]

    def history(self, alarm_id: str) -> list[AlarmEvent]:
        """Every transition of ``alarm_id``, in order."""
        rows = self._db.execute(
            "SELECT event FROM alarm_transitions WHERE alarm_id = ? ORDER BY seq", (alarm_id,)
        )
        return [AlarmEvent.model_validate_json(raw) for (raw,) in rows]

    def open_alarms(self) -> list[Alarm]:
        """The latest state of every alarm that has not ended, in the order they were raised."""
        rows = self._db.execute("SELECT alarm FROM alarm_current")
        alarms = [Alarm.model_validate_json(raw) for (raw,) in rows]
        return sorted(alarms, key=lambda alarm: alarm.raised_at)

    def sessions(self) -> list[TreatmentSession]:
        """The latest session of every bed that has had one (closed ones included)."""
        rows = self._db.execute("SELECT session FROM session_current ORDER BY bed")
        return [TreatmentSession.model_validate_json(raw) for (raw,) in rows]

    def session_changes(self) -> list[SessionEvent]:
        """The latest change of each bed's latest session (its snapshot and time), by bed."""
        changes = []
        for session in self.sessions():
            row = self._db.execute(
                "SELECT event FROM session_changes WHERE session_id = ? ORDER BY seq DESC LIMIT 1",
                (session.session_id,),
            ).fetchone()
            if row is not None:
                changes.append(SessionEvent.model_validate_json(row[0]))
        return changes

    def save_cuffs(self, cuffs: Iterable[LastCuff]) -> None:
        """Keep ``cuffs`` as their monitors' last cuffs, in one transaction."""
        rows = [(cuff.device_id, cuff.model_dump_json()) for cuff in cuffs]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO nibp_current (device_id, cuff) VALUES (?, ?)", rows
            )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def save_rate_histories(
        self, histories: Mapping[str, RateHistory | None], at: datetime
    ) -> None:
        """Keep each device's rate history (``None``: forget it), in one transaction."""
        if not histories:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for device_id, history in histories.items():
                if history is None:
                    self._db.execute("DELETE FROM rate_history WHERE device_id = ?", (device_id,))
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO rate_history (device_id, saved_at, history) "
                    "VALUES (?, ?, ?)",
                    (device_id, at.isoformat(), history.model_dump_json()),
                )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def cuffs(self) -> list[LastCuff]:
        """The last cuff of every monitor that has had one."""
        rows = self._db.execute("SELECT cuff FROM nibp_current ORDER BY device_id")
        return [LastCuff.model_validate_json(raw) for (raw,) in rows]

    def rate_histories(self) -> dict[str, RateHistory]:
        """The last rate history saved for each device (one that no longer parses is
        skipped: the estimator then starts afresh)."""
        histories = {}
        for device_id, raw in self._db.execute("SELECT device_id, history FROM rate_history"):
            try:
                histories[device_id] = RateHistory.model_validate_json(raw)
            except ValidationError:
                log.warning("rate history skipped", extra={"device": device_id})
        return histories

    def append_config_change(self, record: ConfigChangeRecord) -> None:
        """Keep the audit ``record`` of an applied reload; durable when this returns."""
        self._db.execute(
            "INSERT INTO config_changes (at, config_hash, record) VALUES (?, ?, ?)",
            (record.at.isoformat(), record.config_hash, record.model_dump_json()),
        )

    def config_changes(self, limit: int = 1000) -> list[ConfigChangeRecord]:
        """The latest ``limit`` applied reloads, oldest first."""
        rows = self._db.execute(
            "SELECT record FROM (SELECT seq, record FROM config_changes ORDER BY seq DESC "
            "LIMIT ?) ORDER BY seq",
            (limit,),
        )
        return [ConfigChangeRecord.model_validate_json(raw) for (raw,) in rows]
