"""The dashboard's history routes: trends, sessions and session records (JSON, CSV, page).

``GET /api/beds/{bed}/history?since=...&until=...`` answers the bed's series in that time (ISO
8601 with a zone, or Unix seconds; default the last 3 h until now): continuous vitals (HR,
SpO2, RR), each NIBP measurement, the pump's rate (0 unless infusing or KVO) and volume, the
sessions (phase boundaries), the alarms raised, the alarm ``marks`` (each raise and each rise
of priority, from the alarm log: ``t``, ``priority``, ``rule``, ``transition``) and the alarm
limits to draw. ``site`` names the bed's site when two sites share the name.
``GET /api/beds/{bed}/sessions`` lists the bed's sessions, newest first;
``GET /api/beds/{bed}/sessions/{session_id}/record`` is the record as JSON,
``.../record.csv`` its charted rows as CSV (``?download=1``: as an attachment). ``/record`` is
the printable page. ``POST .../sessions/{session_id}/note`` (``{"text": ...}``, a nurse's
login, when ``http.history.notes`` is on) sets the record's one free-text note. Every route
needs a viewer; without a history they answer 503.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from edge.alarms.limits import AlarmLimits
from edge.publish.payloads import AlarmPayload, SessionPayload, read_payload
from edge.web.auth import RequestRefusedError, read_json
from edge.web.dashboard import Dashboard
from edge.web.history_store import HistoryStore, SessionRow
from edge.web.session_record import RecordNotFoundError, record_csv, session_record
from edge.web.views import JsonDict

__all__ = ["HistoryApi", "parse_since"]

RECORD_PAGE = Path(__file__).resolve().parent / "static" / "record.html"
DEFAULT_SPAN_S = 3 * 3600.0
MAX_POINTS = 4000  # per series; more are thinned evenly
MARKED = ("raised", "priority_raised", "reactivated")  # transitions marked on the trend
NOTE_MAX = 64  # characters of a session's note
DELIVERING = ("infusing", "kvo")  # the rate series is 0 mL/h in any other pump state


def parse_since(text: str | None, now: float, name: str = "since") -> float:
    """A time parameter (``name``) as Unix seconds: ISO 8601 with a zone, or a number; the
    last 3 h when absent; a 400 naming the parameter when malformed."""
    if not text:
        return now - DEFAULT_SPAN_S
    try:
        value = float(text)
    except ValueError:
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise RequestRefusedError(
                400, f"{name}: {text!r} is not an ISO 8601 time with a zone nor Unix seconds"
            ) from None
        return at.timestamp()
    if not math.isfinite(value):
        raise RequestRefusedError(400, f"{name}: not a finite number")
    return value


class HistoryApi:
    """The history routes of one dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard

    def routes(self) -> list[Route]:
        """The routes."""
        return [
            Route("/record", self._page, methods=["GET"]),
            Route("/api/beds/{bed}/history", self._history, methods=["GET"]),
            Route("/api/beds/{bed}/sessions", self._sessions, methods=["GET"]),
            Route("/api/beds/{bed}/sessions/{session_id}/record", self._record, methods=["GET"]),
            Route("/api/beds/{bed}/sessions/{session_id}/record.csv", self._csv, methods=["GET"]),
            Route("/api/beds/{bed}/sessions/{session_id}/note", self._note, methods=["POST"]),
        ]

    async def _page(self, request: Request) -> Response:
        return FileResponse(RECORD_PAGE, media_type="text/html")

    def _store(self, request: Request) -> HistoryStore:
        self._dashboard.access.require_viewer(request)
        store = self._dashboard.history
        if store is None:
            raise RequestRefusedError(503, "this dashboard keeps no history (http.history)")
        return store

    async def _site(self, request: Request, store: HistoryStore, bed: str) -> str:
        site = request.query_params.get("site")
        if site:
            return site
        sites = await asyncio.to_thread(store.sites_of, bed)
        if not sites:
            live = {b.site for b in self._dashboard.state.beds.values() if b.bed == bed}
            sites = sorted(live) or [self._dashboard.config.site]
        if len(sites) > 1:
            raise RequestRefusedError(409, f"bed {bed} is in several sites: give site")
        return sites[0]

    async def _history(self, request: Request) -> Response:
        store = self._store(request)
        bed = request.path_params["bed"]
        site = await self._site(request, store, bed)
        now = time.time()
        since = parse_since(request.query_params.get("since"), now, "since")
        until = now + 60.0
        if request.query_params.get("until"):
            until = parse_since(request.query_params.get("until"), now, "until")
        series = await asyncio.to_thread(_series, store, site, bed, since, until)
        limits = self._limits(site, bed)
        return JSONResponse(
            {"site": site, "bed": bed, "since": since, "until": until, **series, "limits": limits}
        )

    def _limits(self, site: str, bed: str) -> JsonDict:
        """The limits to draw: this dashboard's config for its own site, else the defaults
        (an edge's own limits show in its alarms)."""
        config = self._dashboard.config
        limits = AlarmLimits()
        if site == config.site:
            limits = config.alarms.beds.get(bed, config.alarms)
        bp = limits.hypertension
        return {
            "sbp_medium": bp.medium_systolic,
            "dbp_medium": bp.medium_diastolic,
            "sbp_high": bp.high_systolic,
            "dbp_high": bp.high_diastolic,
            "sbp_rise": bp.rise_systolic,
            "dbp_rise": bp.rise_diastolic,
            "spo2_medium_below": limits.spo2_low.medium_below,
            "spo2_high_below": limits.spo2_low.high_below,
        }

    async def _sessions(self, request: Request) -> Response:
        store = self._store(request)
        bed = request.path_params["bed"]
        site = await self._site(request, store, bed)
        rows = await asyncio.to_thread(store.sessions, site, bed)
        return JSONResponse({"site": site, "bed": bed, "sessions": [_session(r) for r in rows]})

    async def _record_of(self, request: Request) -> JsonDict:
        store = self._store(request)
        bed, session_id = request.path_params["bed"], request.path_params["session_id"]
        site = await self._site(request, store, bed)
        notes = self._dashboard.config.http.history.notes
        try:
            return await asyncio.to_thread(
                functools.partial(session_record, store, site, bed, session_id, notes=notes)
            )
        except RecordNotFoundError as exc:
            raise RequestRefusedError(404, str(exc)) from exc

    async def _note(self, request: Request) -> Response:
        """A nurse's note on a session's record (``{"text": ...}``, at most
        :data:`NOTE_MAX` printable characters; empty clears it)."""
        store = self._store(request)
        if not self._dashboard.config.http.history.notes:
            raise RequestRefusedError(403, "notes on session records are off (http.history.notes)")
        body = await read_json(request)
        user = self._dashboard.access.user(request)
        if user is None or user.role != "nurse":
            raise RequestRefusedError(403, "only a nurse may write a session's note")
        text = body.get("text")
        if not isinstance(text, str) or len(text) > NOTE_MAX or not text.isprintable():
            raise RequestRefusedError(
                400, f"text: a string of at most {NOTE_MAX} printable characters"
            )
        record = await self._record_of(request)  # 404 for an unknown session
        note = (record["site"], record["bed"], record["session_id"], text.strip(), user.name)
        at = time.time()
        await asyncio.to_thread(store.set_note, *note, at)
        return JSONResponse({"text": text.strip(), "by": user.name, "at": at})

    async def _record(self, request: Request) -> Response:
        record = await self._record_of(request)
        headers = _attachment(request, record, "json")
        return JSONResponse(record, headers=headers)

    async def _csv(self, request: Request) -> Response:
        record = await self._record_of(request)
        headers = _attachment(request, record, "csv")
        return Response(record_csv(record), media_type="text/csv; charset=utf-8", headers=headers)


def _attachment(request: Request, record: JsonDict, ext: str) -> dict[str, str]:
    if request.query_params.get("download") != "1":
        return {}
    day = record["started_at"][:10]
    name = f"session-{record['bed']}-{day}-{record['session_id'][-8:]}.{ext}"
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name)
    return {"content-disposition": f'attachment; filename="{safe}"'}


def _session(row: SessionRow) -> JsonDict:
    session = read_payload(SessionPayload, row.body)
    return {
        "session_id": session.session_id,
        "label": session.label,
        "phase": session.phase,
        "started_at": session.started_at.isoformat(),
        "infusion_started_at": _iso(session.infusion_started_at),
        "infusion_started_estimated": session.infusion_started_estimated,
        "infusion_stopped_at": _iso(session.infusion_stopped_at),
        "observation_ends_at": _iso(session.observation_ends_at),
        "closed_at": _iso(session.closed_at),
        "baseline_systolic": session.baseline_systolic,
        "baseline_diastolic": session.baseline_diastolic,
        "order": session.order.model_dump(mode="json") if session.order else None,
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _thin(rows: list[Any]) -> list[Any]:
    if len(rows) <= MAX_POINTS:
        return rows
    step = len(rows) / MAX_POINTS
    return [rows[int(i * step)] for i in range(MAX_POINTS)] + [rows[-1]]


def _series(store: HistoryStore, site: str, bed: str, since: float, until: float) -> JsonDict:
    """The bed's series in [since, until): times in Unix s, values in their units."""
    vitals = _thin(store.readings(site, bed, since, until, kind="vitals"))
    pump = _thin(store.readings(site, bed, since, until, kind="pump"))
    cuffs = store.cuffs(site, bed, since, until)
    sessions = [
        _session(row)
        for row in store.sessions(site, bed)
        if row.started_at < until and (row.phase != "closed" or row.ts >= since)
    ]
    alarms: dict[str, JsonDict] = {}
    for row in store.alarms(site, bed, since, until):
        alarm = read_payload(AlarmPayload, row.body)
        alarms[alarm.alarm_id] = {
            "alarm_id": alarm.alarm_id,
            "rule": alarm.rule,
            "priority": alarm.priority,
            "state": alarm.state,
            "message": alarm.message,
            "value": alarm.value,
            "raised_at": row.raised_at,
            "acknowledged_by": alarm.acknowledged_by,
            "acknowledged_at": _iso(alarm.acknowledged_at),
            "ended_at": _iso(alarm.ended_at),
        }
    marks = [
        {
            "t": event.at,
            "alarm_id": event.alarm_id,
            "priority": event.priority,
            "transition": event.transition,
            "rule": alarms.get(event.alarm_id, {}).get("rule"),
        }
        for event in store.alarm_events(site, bed, since, until)
        if event.transition in MARKED
    ]
    marked = {mark["alarm_id"] for mark in marks}
    marks += [  # the alarm log was missed: the raise, in the alarm's current priority
        {
            "t": alarm["raised_at"],
            "alarm_id": key,
            "priority": alarm["priority"],
            "transition": "raised",
            "rule": alarm["rule"],
        }
        for key, alarm in alarms.items()
        if key not in marked
    ]
    return {
        "vitals": {
            "t": [r.ts for r in vitals],
            "hr": [r.hr for r in vitals],
            "spo2": [r.spo2 for r in vitals],
            "rr": [r.rr for r in vitals],
        },
        "nibp": {
            "t": [c.ts for c in cuffs],
            "sbp": [c.sbp for c in cuffs],
            "dbp": [c.dbp for c in cuffs],
            "map": [c.map for c in cuffs],
        },
        "pump": {
            "t": [r.ts for r in pump],
            "rate": [r.rate if r.pump_state in DELIVERING else 0.0 for r in pump],
            "volume": [r.volume for r in pump],
            "state": [r.pump_state for r in pump],
        },
        "sessions": sessions,
        "alarms": list(alarms.values()),
        "marks": sorted(marks, key=lambda mark: mark["t"]),
    }
