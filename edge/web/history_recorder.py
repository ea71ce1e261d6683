"""Feeds the dashboard's history (:class:`~edge.web.history_store.HistoryStore`) from the
payloads the live state has validated, without slowing the broker feed down.

:meth:`HistoryRecorder.take` runs on the feed's path: it samples and queues rows in memory
(no I/O). :meth:`HistoryRecorder.run` writes the queue every ``flush_s`` in a worker thread,
in one transaction, and deletes what is past the retention every ``prune_every_s``.

Sampling, per device: a reading is kept when ``sample_s`` has passed since the last one kept,
when it carries a new NIBP measurement (kept as a cuff, too), or when a pump's state or flags
changed. A store that fails (a full or read-only disk) keeps the queue, up to ``max_pending``
rows (the oldest go first, counted in ``dropped``), logs once per kind of error and never
stops the feed; it retries at the next flush. A store that could not even be opened (its
folder missing or not writable at start) is opened again at each flush, the queue kept the
same way, so trends and records come back once the disk does, without a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from edge.alarms.vitals import DIASTOLIC, SYSTOLIC
from edge.publish.payloads import (
    AlarmLogPayload,
    AlarmPayload,
    ConfigLogPayload,
    PumpTelemetry,
    SessionPayload,
    VitalsTelemetry,
)
from edge.web.history_store import (
    AlarmEventRow,
    AlarmRow,
    CuffRow,
    HistoryStore,
    LimitChangeRow,
    ReadingRow,
    Row,
    SessionRow,
)
from edge.web.inbound import Inbound

__all__ = ["HistoryRecorder"]

log = logging.getLogger(__name__)

MEAN = "MDC_PRESS_BLD_NONINV_MEAN"
TREND_CODES = {
    "hr": ("MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"),  # /min
    "spo2": ("MDC_PULS_OXIM_SAT_O2",),  # %
    "rr": ("MDC_RESP_RATE", "MDC_AWAY_RESP_RATE"),  # /min
    "rate": ("MDC_FLOW_FLUID_PUMP",),  # mL/h
    "volume": ("MDC_VOL_FLUID_DELIV",),  # mL
}
ENVELOPE = {"schema_", "edge_id", "session", "seq"}


@dataclass(slots=True)
class _Kept:
    """What was last kept of one device."""

    ts: float
    cuff: float | None = None
    pump: tuple[str, tuple[str, ...]] | None = None


class HistoryRecorder:
    """Samples validated payloads into ``store``: an open store, or the path of one that could
    not be opened yet (each flush tries again; :attr:`store` is ``None`` until it opens)."""

    def __init__(
        self,
        store: HistoryStore | Path,
        *,
        retention_s: float,
        sample_s: float = 5.0,
        flush_s: float = 1.0,
        prune_every_s: float = 600.0,
        max_pending: int = 200_000,
    ) -> None:
        self.store = store if isinstance(store, HistoryStore) else None
        self.path = store.path if isinstance(store, HistoryStore) else store
        self.retention_s = retention_s
        self.sample_s = sample_s
        self.flush_s = flush_s
        self.prune_every_s = prune_every_s
        self.pending: deque[Row] = deque(maxlen=max_pending)
        self.written = 0
        self.dropped = 0
        self.failing: str | None = None
        self._kept: dict[tuple[str, str, str], _Kept] = {}

    def take(self, inbound: Inbound, payload: BaseModel) -> None:
        """Queue what ``payload`` (validated, from ``inbound``'s topic) adds to the history."""
        if isinstance(payload, PumpTelemetry | VitalsTelemetry):
            self._reading(inbound, payload)
        elif isinstance(payload, SessionPayload):
            self._queue(
                SessionRow(
                    inbound.site,
                    inbound.bed,
                    payload.session_id,
                    payload.ts.timestamp(),
                    payload.phase,
                    payload.started_at.timestamp(),
                    payload.label,
                    payload.model_dump_json(by_alias=True),
                )
            )
        elif isinstance(payload, AlarmLogPayload):
            alarm = payload.alarm
            self._queue(
                AlarmEventRow(
                    inbound.site,
                    alarm.bed,
                    payload.at.timestamp(),
                    alarm.alarm_id,
                    payload.transition,
                    alarm.priority,
                    alarm.state,
                    alarm.acknowledged_by if payload.transition == "acknowledged" else None,
                )
            )
        elif isinstance(payload, ConfigLogPayload):
            by = payload.by.user or payload.by.means
            for change in payload.changes.limits:
                self._queue(
                    LimitChangeRow(
                        inbound.site,
                        change.bed,
                        payload.at.timestamp(),
                        change.limit,
                        json.dumps(change.before),
                        json.dumps(change.after),
                        by,
                    )
                )
        elif isinstance(payload, AlarmPayload) and payload.bed == inbound.bed:
            self._queue(
                AlarmRow(
                    inbound.site,
                    payload.alarm_id,
                    payload.bed,
                    payload.raised_at.timestamp(),
                    payload.ts.timestamp(),
                    payload.state,
                    payload.model_dump_json(by_alias=True),
                )
            )

    def _reading(self, inbound: Inbound, reading: PumpTelemetry | VitalsTelemetry) -> None:
        key = (inbound.site, inbound.bed, reading.device_id)
        ts = reading.ts.timestamp()
        kept = self._kept.get(key)
        cuff = _cuff(inbound, reading) if isinstance(reading, VitalsTelemetry) else None
        new_cuff = cuff is not None and (kept is None or kept.cuff != cuff.ts)
        pump = None
        if isinstance(reading, PumpTelemetry):
            flags = tuple(name for name, on in reading.pump.flags.model_dump().items() if on)
            pump = (reading.pump.state, flags)
        changed = pump is not None and (kept is None or kept.pump != pump)
        due = kept is None or abs(ts - kept.ts) >= self.sample_s
        if not (due or new_cuff or changed):
            return
        if kept is None:
            kept = self._kept[key] = _Kept(ts)
        kept.ts = ts
        if cuff is not None and new_cuff:
            kept.cuff = cuff.ts
            self._queue(cuff)
        kept.pump = pump or kept.pump
        values = {name: _value(reading, codes) for name, codes in TREND_CODES.items()}
        self._queue(
            ReadingRow(
                inbound.site,
                inbound.bed,
                reading.device_id,
                ts,
                reading.kind,
                values["hr"],
                values["spo2"],
                values["rr"],
                values["rate"],
                values["volume"],
                pump[0] if pump else None,
                reading.model_dump_json(exclude=ENVELOPE),
            )
        )

    def _queue(self, row: Row) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1
        self.pending.append(row)

    async def run(self) -> None:
        """Write the queue every ``flush_s`` and prune every ``prune_every_s`` until
        cancelled; a last write on the way out."""
        last_prune = 0.0
        try:
            while True:
                await asyncio.sleep(self.flush_s)
                await self.flush()
                if time.monotonic() - last_prune >= self.prune_every_s:
                    last_prune = time.monotonic()
                    await self._prune()
        finally:
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Write what is queued (opening the store first when it is not open); on a storage
        error keep it for the next try."""
        store = self.store if self.store is not None else await self._open()
        if store is None or not self.pending:
            return
        batch, self.pending = self.pending, deque(maxlen=self.pending.maxlen)
        try:
            await asyncio.to_thread(store.write, list(batch))
        except sqlite3.Error as exc:
            self._failed(exc)
            overflow = max(0, len(batch) + len(self.pending) - (batch.maxlen or 0))
            batch.extend(self.pending)  # the newest are kept, the oldest go
            self.pending, self.dropped = batch, self.dropped + overflow
            return
        self.written += len(batch)
        if self.failing is not None:
            log.warning("dashboard history writes again", extra={"path": str(self.path)})
            self.failing = None

    async def _open(self) -> HistoryStore | None:
        try:
            self.store = await asyncio.to_thread(HistoryStore, self.path)
        except (OSError, sqlite3.Error) as exc:
            self._failed(exc)
            return None
        log.warning("dashboard history opened", extra={"path": str(self.path)})
        self.failing = None
        return self.store

    async def _prune(self) -> None:
        if self.store is None:
            return
        try:
            await asyncio.to_thread(self.store.prune, time.time() - self.retention_s)
        except sqlite3.Error as exc:
            self._failed(exc)

    def _failed(self, exc: OSError | sqlite3.Error) -> None:
        message = str(exc) or type(exc).__name__
        level = logging.DEBUG if message == self.failing else logging.WARNING
        log.log(
            level,
            "dashboard history not written; kept in memory, retrying",
            extra={"path": str(self.path), "error": message, "pending": len(self.pending)},
        )
        self.failing = message


def _value(reading: PumpTelemetry | VitalsTelemetry, codes: tuple[str, ...]) -> float | None:
    """The first usable value among ``codes``."""
    for code in codes:
        for obs in reading.observations:
            usable = obs.value is not None and obs.state in ("valid", "questionable")
            if obs.code == code and usable:
                return obs.value
    return None


def _cuff(inbound: Inbound, reading: VitalsTelemetry) -> CuffRow | None:
    """The NIBP measurement ``reading`` carries, at its own measurement time."""
    nibp = {
        obs.code: obs
        for obs in reading.observations
        if obs.code in (SYSTOLIC, DIASTOLIC, MEAN) and obs.state in ("valid", "questionable")
    }
    systolic = nibp.get(SYSTOLIC)
    if systolic is None or systolic.value is None:
        return None
    measured = (systolic.ts or reading.ts).timestamp()

    def value(code: str) -> float | None:
        obs = nibp.get(code)
        return obs.value if obs is not None else None

    return CuffRow(
        inbound.site,
        inbound.bed,
        reading.device_id,
        measured,
        value(SYSTOLIC),
        value(DIASTOLIC),
        value(MEAN),
    )
