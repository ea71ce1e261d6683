"""The alarm log as the daemon uses it: a disk fault never blocks or drops an alarm.

:class:`GuardedAlarmLog` is the one boundary where the alarm log's sqlite3 and OS errors
become storage faults (:mod:`edge.storage.errors`). When an append fails the events still go
on (the caller publishes them either way); they wait in a bounded memory list, oldest dropped
first past ``pending_max`` (counted in ``dropped``), and :meth:`GuardedAlarmLog.retry` (the
storage monitor, every few seconds) writes them, in order, once the disk takes writes again.
A corrupt file is moved aside and a fresh log begun: nothing is restored from it. The
monitors' last NIBP cuffs (:meth:`GuardedAlarmLog.save_cuffs`) wait the same way, the latest
per monitor.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from edge.alarms.log import AlarmLog
from edge.alarms.models import Alarm, AlarmEvent, SessionEvent, TreatmentSession
from edge.alarms.rate import RateHistory
from edge.alarms.vitals import LastCuff
from edge.reload.changes import ConfigChangeRecord
from edge.storage.errors import StorageFaultError, storage_fault
from edge.storage.files import set_aside
from edge.storage.state import FaultState

__all__ = ["GuardedAlarmLog"]

log = logging.getLogger(__name__)

PENDING_MAX = 10_000  # events kept in memory while the log cannot be written
CORRUPT_NOTICE_S = 300.0
_MEANWHILE = "alarm events kept in memory"
R = TypeVar("R")  # what a read of the log returns


class GuardedAlarmLog:
    """The alarm log at ``path``; call :meth:`open` first. Never raises a storage error."""

    name = "alarm_log"

    def __init__(
        self,
        path: str | Path,
        *,
        pending_max: int = PENDING_MAX,
        corrupt_notice_s: float = CORRUPT_NOTICE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.pending_max = pending_max
        self.state = FaultState("alarm_log", corrupt_notice_s, monotonic)
        self.dropped = 0  # events that never reached the log (memory list full)
        self._log: AlarmLog | None = None
        self._pending: deque[AlarmEvent | SessionEvent] = deque()
        self._cuffs: dict[str, LastCuff] = {}  # last cuffs waiting for the log, per monitor

    @property
    def faulted(self) -> bool:
        """The log cannot be written now, or a corrupt file was moved aside a while ago."""
        return self.state.faulted

    @property
    def pending(self) -> int:
        """Events waiting in memory for the log."""
        return len(self._pending)

    def open(self) -> None:
        """Open the log; a corrupt file is moved aside and a fresh one begun at once."""
        try:
            self._log = AlarmLog(self.path)
        except (sqlite3.Error, OSError) as exc:
            fault = storage_fault(self.name, self.path, exc)
            self._failed(fault)
            if fault.kind == "corrupt":
                self._retry()

    def append(self, events: Iterable[AlarmEvent | SessionEvent]) -> None:
        """Write ``events`` (durable on return), or keep them for :meth:`retry`."""
        if self._log is not None and not self._pending:
            batch = list(events)
            try:
                self._log.append(batch)
            except (sqlite3.Error, OSError) as exc:
                self._failed(storage_fault(self.name, self.path, exc))
                self._keep(batch)
            return
        self._keep(events)

    def _keep(self, events: Iterable[AlarmEvent | SessionEvent]) -> None:
        self._pending.extend(events)
        excess = len(self._pending) - self.pending_max
        if excess > 0:
            for _ in range(excess):
                self._pending.popleft()
            self.dropped += excess
            log.error(
                "alarm log events dropped from memory",
                extra={"count": excess, "dropped_total": self.dropped},
            )

    def save_cuffs(self, cuffs: Iterable[LastCuff]) -> None:
        """Keep ``cuffs`` as their monitors' last cuffs (durable on return), or keep them in
        memory (the latest per monitor) for :meth:`retry`."""
        self._cuffs.update((cuff.device_id, cuff) for cuff in cuffs)
        if self._log is None or self._pending or not self._cuffs:
            return
        try:
            self._log.save_cuffs(self._cuffs.values())
        except (sqlite3.Error, OSError) as exc:
            self._failed(storage_fault(self.name, self.path, exc))
            return
        self._cuffs.clear()

    def cuffs(self) -> list[LastCuff]:
        """The last cuff of every monitor ([] when the log cannot be read)."""
        return self._read(lambda log: log.cuffs(), [])

    async def retry(self) -> None:
        """While faulted: open the log again if needed and write what waits in memory."""
        self._retry()

    def _retry(self) -> None:
        if self.state.fault is None:
            return
        try:
            if self._log is None:
                self._log = AlarmLog(self.path)
            if self._pending:
                self._log.append(self._pending)
                self._pending.clear()
            else:
                self._log.check_writable()
            if self._cuffs:
                self._log.save_cuffs(self._cuffs.values())
                self._cuffs.clear()
        except (sqlite3.Error, OSError) as exc:
            self._failed(storage_fault(self.name, self.path, exc))
            return
        self.state.recovered()

    def _read(self, read: Callable[[AlarmLog], R], empty: R) -> R:
        """``read`` of the log, or ``empty`` when the log is not open or the read fails (the
        failure is a storage fault)."""
        if self._log is None:
            return empty
        try:
            return read(self._log)
        except (sqlite3.Error, OSError) as exc:
            self._failed(storage_fault(self.name, self.path, exc))
            return empty

    def _failed(self, fault: StorageFaultError) -> None:
        self.state.failed(fault, _MEANWHILE)
        if fault.kind != "corrupt":
            return
        if self._log is not None:
            with suppress(sqlite3.Error):
                self._log.close()
            self._log = None
        try:
            target = set_aside(self.path, datetime.now(UTC))
        except OSError as exc:
            self.state.failed(storage_fault(self.name, self.path, exc), _MEANWHILE)
            return
        self.state.moved_aside(self.path, target)

    def open_alarms(self) -> list[Alarm]:
        """The alarms open before a restart ([] when the log cannot be read)."""
        return self._read(lambda log: log.open_alarms(), [])

    def sessions(self) -> list[TreatmentSession]:
        """The latest session of every bed ([] when the log cannot be read)."""
        return self._read(lambda log: log.sessions(), [])

    def session_changes(self) -> list[SessionEvent]:
        """The latest change of each bed's latest session ([] when the log cannot be read)."""
        return self._read(lambda log: log.session_changes(), [])

    def save_rate_histories(
        self, histories: Mapping[str, RateHistory | None], at: datetime
    ) -> None:
        """Keep the rate histories if the log takes writes now; while it is faulted they are
        not kept (the next save, a few seconds later, carries the state of then)."""
        if self._log is None or self.state.fault is not None:
            return
        try:
            self._log.save_rate_histories(histories, at)
        except (sqlite3.Error, OSError) as exc:
            self._failed(storage_fault(self.name, self.path, exc))

    def rate_histories(self) -> dict[str, RateHistory]:
        """The rate histories saved before a restart ({} when the log cannot be read)."""
        return self._read(lambda log: log.rate_histories(), {})

    def append_config_change(self, record: ConfigChangeRecord) -> bool:
        """Keep the audit record of a reload; False when the log cannot take it now (the
        record is still published, and logged)."""
        if self._log is None:
            return False
        try:
            self._log.append_config_change(record)
        except (sqlite3.Error, OSError) as exc:
            self._failed(storage_fault(self.name, self.path, exc))
            return False
        return True

    def config_changes(self, limit: int = 1000) -> list[ConfigChangeRecord]:
        """The latest applied reloads, oldest first ([] when the log cannot be read)."""
        return self._read(lambda log: log.config_changes(limit), [])

    def close(self) -> None:
        """Write what waits if the disk allows, then close; what cannot be written is lost
        (logged)."""
        self._retry()
        if self._pending:
            log.error("alarm log closed with unwritten events", extra={"count": len(self._pending)})
        if self._log is not None:
            with suppress(sqlite3.Error):
                self._log.close()
            self._log = None
