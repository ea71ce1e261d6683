"""Serving the dashboard with uvicorn inside the caller's event loop.

:func:`serve` runs until cancelled, then stops in bounded time: it ends the event streams, lets
uvicorn close its connections and run the app's shutdown (the broker feed), and returns by
re-raising the cancellation. uvicorn's own signal handlers are off: the daemon (or
:func:`run_dashboard`) owns SIGTERM and SIGINT. The listening socket is bound before uvicorn
starts, so a port in use is an ``OSError`` from :func:`listen` (one line naming the setting from
:func:`listen_configured`), not an exit from inside uvicorn. Connections are guarded
(:mod:`edge.web.connections`): a request deadline, a keep-alive limit and a connection cap that
closes idle sockets first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from edge.config import Config, HttpConfig
from edge.startup import bind_error
from edge.tasks import run_until_first_exits
from edge.web.app import create_app, dashboard_of
from edge.web.connections import ConnectionGuard, GuardedConfig, raise_descriptor_limit
from edge.web.dashboard import Dashboard
from edge.web.metrics import DashboardMetrics, metrics_route

__all__ = ["listen", "listen_configured", "run_dashboard", "serve"]

log = logging.getLogger(__name__)

BACKLOG = 128
GRACEFUL_S = 2  # uvicorn's wait for open connections at shutdown
STOP_TIMEOUT_S = 5.0  # the whole stop


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(bind: str, port: int) -> socket.socket:
    """A listening TCP socket on ``bind``:``port`` (``port`` 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def listen_configured(http: HttpConfig) -> socket.socket:
    """:func:`listen` on ``http.bind``:``http.port``; a port that cannot be bound raises a
    one-line :class:`~edge.startup.StartupError` naming the setting to change."""
    try:
        return listen(http.bind, http.port)
    except OSError as exc:
        change = "change http.port in the config (or INFUSION_EDGE_HTTP__PORT)"
        raise bind_error("the dashboard's HTTP port", http.bind, http.port, exc, change) from None


async def serve(config: Config, app: Starlette, *, sock: socket.socket | None = None) -> None:
    """Serve ``app`` on ``sock`` (default: ``http.bind``:``http.port``) until cancelled."""
    listener = sock if sock is not None else listen(config.http.bind, config.http.port)
    http = config.http
    raise_descriptor_limit(http.max_connections)
    guard = ConnectionGuard(http.max_connections, http.request_timeout_s)
    server = _Server(
        GuardedConfig(
            app,
            guard,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=http.keep_alive_s,
            timeout_graceful_shutdown=GRACEFUL_S,
        )
    )
    host, port = listener.getsockname()[:2]
    log.info("dashboard listening", extra={"url": f"http://{host}:{port}/"})
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="http.uvicorn")
    try:
        await asyncio.shield(serving)
    finally:
        if not serving.done():
            await _stop(app, server, serving)
        listener.close()


async def _stop(app: Starlette, server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    dashboard = dashboard_of(app)
    if dashboard is not None:
        dashboard.close_streams()
    server.should_exit = True
    try:
        await asyncio.wait([serving], timeout=STOP_TIMEOUT_S)
    finally:
        if not serving.done():
            log.warning("dashboard server did not stop in time; cancelling it")
            serving.cancel()
            await asyncio.wait([serving])
    log.info("dashboard stopped")


async def _until(event: asyncio.Event) -> None:
    await event.wait()


async def run_dashboard(config: Config) -> None:
    """``infusion-edge dashboard``: the dashboard alone, until SIGTERM or SIGINT."""
    sock = listen_configured(config.http)
    dashboard = Dashboard(config)
    app = create_app(
        config, dashboard=dashboard, extra_routes=[metrics_route(DashboardMetrics(dashboard))]
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_until_first_exits(
            ("http", serve(config, app, sock=sock)), ("signals", _until(stop))
        )
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        sock.close()
