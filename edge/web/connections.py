"""Connection limits of the dashboard's HTTP server: slow and idle clients are closed, and a
flood of connections never locks out a nurse.

uvicorn's h11 protocol closes a keep-alive connection after ``timeout_keep_alive``, but has no
deadline for a request: a socket that never sends a byte (or sends headers one byte a minute)
stays open for ever. :class:`GuardedH11Protocol` subclasses it and adds two things:

- a request deadline: from the moment a connection is accepted (or the first byte of the next
  request on a kept-alive connection), the request line, the headers and the body must arrive
  within ``http.request_timeout_s``; otherwise the connection is closed. The timer is armed
  while h11 says the client is still sending (``IDLE`` without uvicorn's keep-alive timer, or
  ``SEND_BODY``) and cancelled once the whole request is in (``DONE``). Idle time between
  requests is uvicorn's keep-alive limit (``http.keep_alive_s``).
- a connection cap with reserved capacity instead of uvicorn's ``limit_concurrency`` (which
  answers 503 to everybody once enough sockets are open): at most ``http.max_connections``
  are kept. When a new one would exceed it, the connection that has waited longest for a
  request (idle, or still sending its request) is closed to make room; a connection whose
  request is being answered (a short request, or an event stream: those are capped apart, see
  :mod:`edge.web.streams`) is never closed for this. Only when every connection is being
  answered is the new one closed at once. So idle sockets only ever push out each other, and
  a nurse's request, once its headers are in, is served.

The accepted sockets also get ``TCP_USER_TIMEOUT`` (Linux): data a peer leaves unacknowledged
for :data:`UNACKED_S` drops the connection, so the heartbeats of an event stream find a client
that vanished without closing. The process's soft ``RLIMIT_NOFILE`` is raised (up to the hard
limit) so that the cap fits in it beside the daemon's own descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

__all__ = ["ConnectionGuard", "GuardedConfig", "GuardedH11Protocol", "raise_descriptor_limit"]

log = logging.getLogger(__name__)

UNACKED_S = 30.0  # TCP_USER_TIMEOUT
SPARE_DESCRIPTORS = 256  # beside the connections: devices, SQLite, the broker, logs
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


@dataclass
class ConnectionGuard:
    """The open connections of one server and what they are doing, with counters.

    ``waiting`` holds the connections waiting for (or receiving) a request, oldest first:
    the ones that may be closed to make room."""

    max_connections: int
    request_timeout_s: float
    live: set[GuardedH11Protocol] = field(default_factory=set)
    waiting: dict[GuardedH11Protocol, None] = field(default_factory=dict)
    timed_out: int = 0  # closed: the request did not arrive in time
    evicted: int = 0  # closed to make room for a newer connection
    refused: int = 0  # closed at once: every connection was being answered

    def admit(self, connection: GuardedH11Protocol) -> bool:
        """Take ``connection`` in, closing the longest-waiting one if that makes room;
        ``False`` when there is no room (the caller closes it)."""
        if len(self.live) >= self.max_connections:
            if not self.waiting:
                self.refused += 1
                return False
            oldest = next(iter(self.waiting))
            self.forget(oldest)
            self.evicted += 1
            oldest.transport.close()
        self.live.add(connection)
        self.waiting[connection] = None
        return True

    def track(self, connection: GuardedH11Protocol, waiting: bool) -> None:
        """Record whether ``connection`` is waiting for a request (keeps its age if it was)."""
        if connection not in self.live:
            return
        if waiting:
            self.waiting.setdefault(connection, None)
        else:
            self.waiting.pop(connection, None)

    def forget(self, connection: GuardedH11Protocol) -> None:
        self.live.discard(connection)
        self.waiting.pop(connection, None)


class GuardedConfig(uvicorn.Config):
    """uvicorn's config carrying the :class:`ConnectionGuard` its protocols share."""

    def __init__(self, app: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, http=GuardedH11Protocol, **kwargs)
        self.guard = guard


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and the connection cap (see above)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, GuardedConfig):
            raise TypeError("GuardedH11Protocol needs a GuardedConfig")
        self.guard = config.guard
        self.request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.close()
            return
        _set_user_timeout(transport)
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._cancel_deadline()
        self.guard.forget(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def _track(self) -> None:
        """Arm or cancel the request deadline after h11's state moved."""
        if self.transport.is_closing():
            self._cancel_deadline()
            return
        state = self.conn.their_state
        self.guard.track(self, state in _RECEIVING)
        receiving = state is h11.SEND_BODY or (
            state is h11.IDLE and self.timeout_keep_alive_task is None
        )
        if not receiving:
            self._cancel_deadline()
        elif self.request_deadline is None:
            self.request_deadline = self.loop.call_later(
                self.guard.request_timeout_s, self._request_too_slow
            )

    def _cancel_deadline(self) -> None:
        if self.request_deadline is not None:
            self.request_deadline.cancel()
            self.request_deadline = None

    def _request_too_slow(self) -> None:
        self.request_deadline = None
        if not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.close()


def _set_user_timeout(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if sock is not None and option is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, int(UNACKED_S * 1000))


def raise_descriptor_limit(max_connections: int) -> None:
    """Raise the soft ``RLIMIT_NOFILE`` to fit ``max_connections`` plus
    :data:`SPARE_DESCRIPTORS` (never above the hard limit; a warning when it does not fit)."""
    needed = max_connections + SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "open-file limit below http.max_connections plus spare descriptors",
            extra={"limit": soft, "needed": needed},
        )
