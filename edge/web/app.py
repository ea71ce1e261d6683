"""The dashboard's ASGI app: ``create_app(config)``.

Routes: ``/`` (the page), ``/static/...`` (its CSS and JavaScript, no build step),
``/api/beds``, ``/api/alarms``, ``/api/events`` (SSE), ``POST /api/alarms/{alarm_id}/ack``,
``POST /api/login``, ``POST /api/logout``, ``GET /api/me``, ``/healthz``, ``/readyz``, the
history's (``/api/beds/{bed}/history``, sessions and records, ``/record``: ``history_api``), and
whatever ``extra_routes`` the caller adds (``/metrics``). The app's lifespan runs the broker
feed. Every response carries a strict Content-Security-Policy and no-cache headers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.config import Config
from edge.web.api import Api, ReadyCheck
from edge.web.auth import RequestRefusedError
from edge.web.dashboard import Dashboard
from edge.web.events import event_routes
from edge.web.history_api import HistoryApi

__all__ = ["SESSION_COOKIE", "create_app", "dashboard_of"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "infusion_edge_session"
MAX_BODY_BYTES = 64 * 1024
HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
}


class _SecurityHeaders:
    """Adds :data:`HEADERS`, and ``Cache-Control: no-cache`` where none is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in HEADERS.items() if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRefusedError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


def _session_secret(config: Config) -> str:
    if config.http.session_secret is not None:
        return config.http.session_secret.get_secret_value()
    log.warning(
        "http.session_secret is not set: logins end when the dashboard restarts "
        "(set INFUSION_EDGE_HTTP__SESSION_SECRET)"
    )
    return secrets.token_urlsafe(32)


def create_app(
    config: Config,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    dashboard: Dashboard | None = None,
) -> Starlette:
    """The dashboard app of ``config``.

    ``extra_routes`` are mounted beside the dashboard's own (``Route("/metrics", ...)``);
    ``ready_checks`` (name -> callable returning whether that part is ready) join the broker
    feed's in ``/readyz``. The :class:`Dashboard` is ``app.state.dashboard``.
    """
    dashboard = dashboard or Dashboard(config)
    routes: list[BaseRoute] = [
        Route("/", _index, methods=["GET"]),
        *Api(dashboard, ready_checks or {}).routes(),
        *HistoryApi(dashboard).routes(),
        *event_routes(dashboard),
        *dashboard.access.routes(),
        *extra_routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(_SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=_session_secret(config),
            session_cookie=SESSION_COOKIE,
            max_age=config.http.session_max_age_s,
            same_site="strict",
            https_only=config.http.secure_cookies,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={RequestRefusedError: _refused},
        lifespan=lambda _app: dashboard.running(),
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.dashboard = dashboard
    return app


def dashboard_of(app: Starlette) -> Dashboard | None:
    """The :class:`Dashboard` of an app made by :func:`create_app`, else ``None``."""
    dashboard = getattr(app.state, "dashboard", None)
    return dashboard if isinstance(dashboard, Dashboard) else None
