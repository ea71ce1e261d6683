"""Caps on the open event streams (``GET /api/events``): per client and in total.

A stream is the one long-lived request of the dashboard; everything else (logins,
acknowledgements, ``/healthz``, ``/readyz``, ``/metrics``) is short. So streams are counted
apart: at most ``http.max_streams_per_client`` per client and ``http.max_streams`` in all,
which the config keeps at least 32 below ``http.max_connections``, so short requests always
find a connection (see :mod:`edge.web.connections`).

A client is a login session (the user name and the moment of that login, from the signed
session cookie): a nurse's browser with several tabs is one client, and two nurses behind one
proxy address are two. A viewer that is not logged in (only when ``http.view_requires_login``
is off) is counted by its address. A stream beyond the per-client cap is refused with 429, one
beyond the total with 503, both with a JSON ``{"error": ...}``, ``Retry-After`` and
``Connection: close``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from edge.web.auth import client_address

__all__ = ["StreamRefusal", "StreamSlots", "client_key"]

RETRY_AFTER_S = 10


@dataclass(frozen=True)
class StreamRefusal:
    """Why a stream was refused: an HTTP status and a message for the page."""

    status: int
    message: str

    def response(self) -> JSONResponse:
        headers = {"retry-after": str(RETRY_AFTER_S), "connection": "close"}
        return JSONResponse({"error": self.message}, status_code=self.status, headers=headers)


def client_key(request: Request, user: str | None) -> str:
    """Who a stream counts against: ``user`` and the login time in the session, or the
    client's address when nobody is logged in. Kept in memory only while streams are open."""
    if user is None:
        return f"address {client_address(request)}"
    return f"session {user} {request.session.get('since', '')}"


class StreamSlots:
    """The open streams by client, within ``per_client`` each and ``total`` in all."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.by_client: Counter[str] = Counter()
        self.refused = Counter[int]()  # by HTTP status

    @property
    def open(self) -> int:
        return self.by_client.total()

    def take(self, client: str) -> StreamRefusal | None:
        """Count a new stream of ``client``; the refusal instead when a cap is reached."""
        refusal = None
        if self.by_client[client] >= self.per_client:
            refusal = StreamRefusal(
                429, f"too many event streams for this client (at most {self.per_client})"
            )
        elif self.open >= self.total:
            refusal = StreamRefusal(
                503, f"too many event streams on this dashboard (at most {self.total})"
            )
        if refusal is not None:
            self.refused[refusal.status] += 1
            return refusal
        self.by_client[client] += 1
        return None

    def give_back(self, client: str) -> None:
        """A stream of ``client`` ended."""
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]
