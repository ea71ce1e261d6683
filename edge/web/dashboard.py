"""One dashboard's parts, shared by its routes: the live state, the event journal, the broker
feed, the users, the key that signs its acknowledgements, the open event streams, and the
signal that ends them at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from edge.backoff import Backoff
from edge.config import Config
from edge.web.auth import Access
from edge.web.history_recorder import HistoryRecorder
from edge.web.history_store import HistoryStore, history_path
from edge.web.journal import EventJournal
from edge.web.mqtt_view import MqttFeed
from edge.web.passwords import PasswordBook
from edge.web.state import LiveState
from edge.web.streams import StreamSlots
from edge.web.views import JsonDict

__all__ = ["Dashboard"]

log = logging.getLogger(__name__)

FEED_STOP_TIMEOUT_S = 3.0


class Dashboard:
    """The dashboard of ``config``: what every page shows, and who may do what.

    Its acknowledgements are signed as ``config.dashboard_id`` with ``http.ack_secret``, else
    with ``ack_secret`` (the daemon's key for its own dashboard), else not at all: without a
    key the dashboard cannot acknowledge."""

    def __init__(
        self,
        config: Config,
        *,
        journal_capacity: int = 10_000,
        feed_backoff: Backoff | None = None,
        ack_secret: str | None = None,
    ) -> None:
        self.config = config
        configured = config.http.ack_secret
        self.ack_secret = configured.get_secret_value() if configured else ack_secret
        self.dashboard_id = config.dashboard_id
        self.recorder = _history(config)
        labels = {f"{config.site}/{bed}": b.label for bed, b in config.beds.items() if b.label}
        self.state = LiveState(
            config.mqtt.topic_prefix,
            observe=self.recorder.take if self.recorder else None,
            labels=labels,
        )
        self.journal = EventJournal(journal_capacity)
        self.feed = MqttFeed(
            config.mqtt,
            config.edge_id,
            self.state,
            self.journal.extend,
            backoff=feed_backoff,
        )
        self.access = Access(
            PasswordBook(config.http.users), config.http, can_sign=self.ack_secret is not None
        )
        self.closing = asyncio.Event()
        self.streams = StreamSlots(config.http.max_streams_per_client, config.http.max_streams)
        if config.http.view_requires_login and not config.http.users:
            log.warning("no dashboard users are configured: nobody can log in to see the beds")
        if self.ack_secret is None:
            log.warning(
                "http.ack_secret is not set: this dashboard cannot acknowledge alarms "
                "(make a key with `infusion-edge ack-key`)"
            )

    def settings(self) -> JsonDict:
        """What the page needs to judge its data (seconds)."""
        http = self.config.http
        return {
            "stale_after_s": http.stale_after_s,
            "nibp_stale_after_s": http.nibp_stale_after_s,
        }

    def server_time(self) -> str:
        """Now, for the page to correct its own clock when it shows ages."""
        return datetime.now(UTC).isoformat()

    def close_streams(self) -> None:
        """End every event stream (before the server waits for its connections to close)."""
        self.closing.set()
        self.journal.wake()

    @property
    def history(self) -> HistoryStore | None:
        """The history store once open (``None``: disabled, or not openable yet)."""
        return self.recorder.store if self.recorder is not None else None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the broker feed while inside; the app's lifespan."""
        self.closing.clear()
        tasks = [asyncio.create_task(self.feed.run(), name="web.mqtt-feed")]
        if self.recorder is not None:
            tasks.append(asyncio.create_task(self.recorder.run(), name="web.history"))
        try:
            yield
        finally:
            self.close_streams()
            for task in tasks:
                task.cancel()
            _, pending = await asyncio.wait(tasks, timeout=FEED_STOP_TIMEOUT_S)
            if pending:
                log.warning("dashboard feed did not stop in time")


def _history(config: Config) -> HistoryRecorder | None:
    """The history's recorder, none when disabled. A file that cannot be opened now is tried
    again at each of the recorder's flushes (the dashboard runs on without trends and records
    meanwhile, and says why in the log)."""
    settings = config.http.history
    if not settings.enabled:
        return None
    path = history_path(config)
    store: HistoryStore | Path = path
    error: str | None = None
    try:
        store = HistoryStore(path)
    except (OSError, sqlite3.Error) as exc:
        error = str(exc) or type(exc).__name__
    if error is not None:
        log.error(
            "dashboard history cannot be opened: no trends nor session records until it can;"
            " trying again every second",
            extra={"path": str(path), "error": error},
        )
    return HistoryRecorder(
        store, retention_s=settings.retention_h * 3600.0, sample_s=settings.sample_s
    )
