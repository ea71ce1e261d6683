"""Failures to start that a user fixes by changing one thing: a port that cannot be bound, a
broker that cannot be started. Each is one line naming what and where, and how to change it;
the command line prints it without a traceback and exits 1."""

from __future__ import annotations

import errno

__all__ = ["StartupError", "bind_error"]


class StartupError(Exception):
    """A start-up failure, explained in one line (``str(exc)``)."""


def bind_error(what: str, host: str, port: int, exc: OSError, change: str) -> StartupError:
    """``what`` (``HTTP port``) could not listen on ``host``:``port``; ``change`` says how to
    pick another (``--http-port PORT``)."""
    if exc.errno == errno.EADDRINUSE:
        reason = "is already in use"
    elif exc.errno == errno.EACCES:
        reason = "needs privileges (ports below 1024)"
    elif exc.errno == errno.EADDRNOTAVAIL:
        reason = "is not an address of this machine"
    else:
        reason = f"cannot be bound ({exc.strerror or exc})"
    return StartupError(f"{what} {host}:{port} {reason}; {change}")
