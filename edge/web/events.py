"""``GET /api/events``: the live view as Server-Sent Events, with ``Last-Event-ID`` replay.

A page first gets a ``snapshot`` event (the whole view), then one event per change: ``bed``,
``bed_removed`` (its edge cleared the bed: a reload removed it), ``alarm``, ``alarm_removed``,
``edge``, ``edge_removed``, ``feed``. Each carries an id
(``{epoch}-{number}``, see ``edge.web.journal``). When the page reconnects, the browser sends
the last id it got (``Last-Event-ID``; a page may also pass ``?last_event_id=``) and gets
exactly the events it missed; when they are no longer kept, or the id is from another server
process, it gets a fresh snapshot. With no change for ``http.stream_heartbeat_s`` a
``heartbeat`` (no id) carries the server time and the broker connection, so a page can tell a
quiet stream from a dead one, and the server finds a client that is gone when the write fails.
Changes go out in chunks, each event encoded once for all streams, so many open pages cost
little: alarms and the other urgent events within ``BATCH_S`` (0.1 s), bed updates (one after
every reading of a bed) within ``BED_BATCH_S`` (0.5 s), or with the next urgent chunk. A bed
event carries the whole bed, so a chunk holds only the newest of each bed; the event ids of the
ones left out are covered by the later id, and replay still misses nothing. The snapshot is
encoded once for the streams that open within ``SNAPSHOT_REUSE_S`` (0.5 s; each then gets the
changes after it), so a burst of new streams costs little more than their sends. Each stream
ticks at its own phase, so many streams never send at once. Streams are capped per client and
in total (:mod:`edge.web.streams`).

Once a page holds a bed (from the snapshot or a ``bed`` event), a chunk carries only the parts
of it that its events changed, as a ``bed_delta`` (:mod:`edge.web.bed_changes`): a few hundred
bytes instead of the whole bed. A whole ``bed`` goes out for a new bed, when a pump or device
comes or goes, every ``WHOLE_BED_EVERY`` th event of a bed (``edge.web.journal``), and for
every bed in the first chunk of a replay: a page that reconnects may have missed the end of a
chunk, so its beds are sent whole. A client that does not merge deltas asks for whole beds
with ``?beds=whole``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from edge.web.bed_changes import Part, bed_delta
from edge.web.dashboard import Dashboard
from edge.web.journal import MERGED_TYPES, EventJournal, JournalEvent
from edge.web.streams import client_key
from edge.web.views import JsonDict

__all__ = ["EncodedEvents", "chunk_events", "event_routes", "until_due"]

RETRY_MS = 2000  # how soon the browser reconnects
SEND_TIMEOUT_S = 15.0  # a page that takes no data for this long is dropped
CLOSE_GRACE_S = 1.0
BATCH_S = 0.1  # s: how late an urgent change (an alarm) goes out, several in one chunk
BED_BATCH_S = 0.5  # s: how late a bed update goes out when nothing urgent comes
SNAPSHOT_REUSE_S = 0.5  # s: a snapshot encoded this recently serves a new stream too
ENCODED_KEPT = 1024


class _DashboardStream(EventSourceResponse):
    """sse-starlette's response, ended by the dashboard's own shutdown signal.

    sse-starlette's default exit watcher finds uvicorn through the process's SIGTERM handler,
    which is not uvicorn's when the daemon owns the signals, and leaves a polling task behind
    on the event loop. Here the event generator returns once ``Dashboard.close_streams`` was
    called, so the stream ends cleanly; one that is still sending after ``CLOSE_GRACE_S``
    (a stuck client) is cancelled.
    """

    def __init__(
        self, content: AsyncIterator[ServerSentEvent | bytes], dashboard: Dashboard, client: str
    ) -> None:
        super().__init__(content, ping=0, send_timeout=SEND_TIMEOUT_S)
        self._dashboard = dashboard
        self._client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then give the client's slot back however the stream ended."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._dashboard.streams.give_back(self._client)

    async def _listen_for_exit_signal_with_grace(self) -> None:
        await self._dashboard.closing.wait()
        await asyncio.sleep(CLOSE_GRACE_S)  # cancelled as soon as the stream has ended


def _encode(data: JsonDict) -> str:
    return json.dumps(data, separators=(",", ":"))


class EncodedEvents:
    """Each journal event encoded once for every stream (the last :data:`ENCODED_KEPT`), and
    the snapshot once for the streams that open within :data:`SNAPSHOT_REUSE_S`."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        self._journal = dashboard.journal
        self._encoded: dict[tuple[int, frozenset[Part] | None], bytes] = {}
        self._snapshot = b""
        self._snapshot_cursor = 0
        self._snapshot_made = float("-inf")  # monotonic s

    def snapshot(self) -> tuple[int, bytes]:
        """The ``snapshot`` event and the journal number it stands at. A new stream gets the
        events after that number next, so a snapshot made a moment ago serves as well as a
        new one (a flood of new streams, or every page of a ward after a restart)."""
        now = time.monotonic()
        cursor = self._snapshot_cursor
        if now - self._snapshot_made >= SNAPSHOT_REUSE_S or self._journal.after(cursor) is None:
            dashboard, cursor = self._dashboard, self._journal.last
            snapshot = {
                **dashboard.state.snapshot(),
                "settings": dashboard.settings(),
                "server_time": dashboard.server_time(),
            }
            event_id = self._journal.event_id(cursor)
            self._snapshot = ServerSentEvent(
                _encode(snapshot), event="snapshot", id=event_id, retry=RETRY_MS
            ).encode()
            self._snapshot_cursor, self._snapshot_made = cursor, now
        return cursor, self._snapshot

    def encode(self, events: list[JournalEvent], whole_beds: bool = False) -> bytes:
        """``events`` as one chunk of the stream: each bed once, only its changed parts (all of
        it with ``whole_beds``), see :func:`chunk_events`."""
        chunk = chunk_events(events, whole_beds)
        return b"".join(self._one(event, parts) for event, parts in chunk)

    def _one(self, event: JournalEvent, parts: frozenset[Part] | None) -> bytes:
        if parts is not None and not parts:
            return b""  # a bed event that changed nothing (a repeated reading)
        encoded = self._encoded.get((event.number, parts))
        if encoded is None:
            if parts is None:
                kind, data = event.type, event.data
            else:
                kind, data = "bed_delta", bed_delta(event.data, parts)
            event_id = self._journal.event_id(event.number)
            encoded = ServerSentEvent(_encode(data), event=kind, id=event_id).encode()
            self._encoded[event.number, parts] = encoded
            if len(self._encoded) > ENCODED_KEPT:
                del self._encoded[next(iter(self._encoded))]
        return encoded


async def _events(
    dashboard: Dashboard, encoded: EncodedEvents, last_event_id: str | None, whole_beds: bool
) -> AsyncIterator[ServerSentEvent | bytes]:
    journal = dashboard.journal
    cursor = journal.parse_id(last_event_id)
    backlog = None if cursor is None else journal.after(cursor)
    first = True
    heartbeat_s = dashboard.config.http.stream_heartbeat_s
    loop = asyncio.get_running_loop()
    phase = random.uniform(0, BED_BATCH_S)  # noqa: S311 (spreading load, not a secret)
    while True:
        if backlog is None:
            cursor, snapshot = encoded.snapshot()
            yield snapshot
        else:
            if first:
                yield ServerSentEvent(comment="replay", retry=RETRY_MS)
            if backlog:
                chunk = encoded.encode(backlog, whole_beds=whole_beds or first)
                if chunk:
                    yield chunk
                cursor = backlog[-1].number
        first = False
        assert cursor is not None
        try:
            async with asyncio.timeout(heartbeat_s):
                await journal.wait_after(cursor)
        except TimeoutError:
            heartbeat = {"server_time": dashboard.server_time(), "feed": dashboard.state.feed}
            yield ServerSentEvent(_encode(heartbeat), event="heartbeat")
        else:
            await until_due(journal, cursor, loop, phase)
        if dashboard.closing.is_set():
            return
        backlog = journal.after(cursor)


def chunk_events(
    events: list[JournalEvent], whole_beds: bool = False
) -> list[tuple[JournalEvent, frozenset[Part] | None]]:
    """What a chunk of ``events`` sends, in order: every event but a bed (``data["key"]``) that
    a later one replaces, each with the parts to send (``None``: all of it). A bed goes out as
    its newest event with the parts any of its events changed, or whole if one of them (or
    ``whole_beds``) says so; the parts not listed did not change since the stream's previous
    chunk."""
    parts: dict[str, frozenset[Part] | None] = {}
    newest: dict[str, int] = {}
    for event in events:
        if event.type in MERGED_TYPES:
            key = event.data["key"]
            if whole_beds or event.parts is None:
                parts[key] = None
            elif key not in parts:  # the bed's first event here: its own set, hashed once
                parts[key] = event.parts
            elif (held := parts[key]) is not None:
                parts[key] = held | event.parts
            newest[key] = event.number
    return [
        (event, parts[event.data["key"]] if event.type in MERGED_TYPES else None)
        for event in events
        if event.type not in MERGED_TYPES or newest[event.data["key"]] == event.number
    ]


def _to_tick(now: float, phase: float, period_s: float) -> float:
    """Seconds from ``now`` to the stream's next tick of ``period_s`` (ticks at ``phase``)."""
    return period_s - (now - phase) % period_s


async def until_due(
    journal: EventJournal, cursor: int, loop: asyncio.AbstractEventLoop, phase: float
) -> None:
    """Wait until the changes after ``cursor`` are due: at the stream's next ``BATCH_S`` tick
    once one of them is urgent, else at its next ``BED_BATCH_S`` tick. What else changes
    meanwhile goes in the same chunk."""
    if journal.last_urgent <= cursor:
        try:
            async with asyncio.timeout(_to_tick(loop.time(), phase, BED_BATCH_S)):
                await journal.wait_urgent_after(cursor)
        except TimeoutError:
            return  # bed updates only: due now
    await asyncio.sleep(_to_tick(loop.time(), phase, BATCH_S))


def event_routes(dashboard: Dashboard) -> list[Route]:
    """``GET /api/events``."""
    encoded = EncodedEvents(dashboard)

    async def events(request: Request) -> Response:
        dashboard.access.require_viewer(request)
        last_event_id = request.headers.get("last-event-id") or request.query_params.get(
            "last_event_id"
        )
        user = dashboard.access.user(request)
        client = client_key(request, user.name if user else None)
        refusal = dashboard.streams.take(client)
        if refusal is not None:
            return refusal.response()
        whole_beds = request.query_params.get("beds") == "whole"
        content = _events(dashboard, encoded, last_event_id, whole_beds)
        return _DashboardStream(content, dashboard, client)

    return [Route("/api/events", events, methods=["GET"])]
