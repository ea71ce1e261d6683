"""What the host may send an Asena: read-only queries, and the control commands it refuses.

The driver is read-only. :data:`QUERIES` is the whole list of what it can encode, each a
bare command name without fields (fact sheet §3.1); :func:`encode_query` refuses anything
else. :data:`REFUSED_COMMANDS` (fact sheet §3.2) change the pump or hand it to remote
control; they are listed so that code and tests can recognise them: no code path builds
them, ``REMOTE_CTRL`` included, even where reading might need remote mode.
"""

from __future__ import annotations

from drivers.alaris_asena.framer import AsenaFrame

__all__ = ["QUERIES", "REFUSED_COMMANDS", "RefusedCommandError", "encode_query", "is_refused"]

INST_SERIALNO = "INST_SERIALNO"
COMMS_PROTOCOL = "COMMS_PROTOCOL"
INF = "INF"
INF_VTBI = "INF_VTBI"
ALARM = "ALARM"
SYRINGE_STATUS = "SYRINGE_STATUS"

QUERIES: frozenset[str] = frozenset(
    {INST_SERIALNO, COMMS_PROTOCOL, INF, INF_VTBI, ALARM, SYRINGE_STATUS}
)
"""Every request the driver may send: queries that read and change nothing."""

REFUSED_COMMANDS: frozenset[str] = frozenset(
    {
        "REMOTE_CTRL",  # ^ENABLED^<key> or ^DISABLED: hands the pump to remote control
        "INF_RATE",  # ^<rate>^ml/h: sets the rate
        "INF_START",
        "INF_STOP",
        "INF_VI_CLEAR",  # resets the volume infused
        "INF_BOLUS",  # ^ENABLED
        "REMQUERY",  # ^DEACT
    }
)
"""Commands that change the pump. ``INF_VTBI`` with fields (``^ACTIV^...``, ``^DEACT``) sets
the VTBI and is refused too; bare ``INF_VTBI`` only reads it."""


class RefusedCommandError(ValueError):
    """A request the read-only driver will not send."""


def is_refused(body: str) -> bool:
    """Whether a frame body is a command that changes the pump (or anything not a query)."""
    name, _, fields = body.partition("^")
    return name in REFUSED_COMMANDS or name not in QUERIES or bool(fields)


def encode_query(name: str) -> bytes:
    """The frame of the read-only query ``name``; raises :class:`RefusedCommandError` for any
    other body (a control command, a query with fields)."""
    if is_refused(name):
        raise RefusedCommandError(f"the alaris_asena driver is read-only: will not send {name!r}")
    return AsenaFrame(name).to_bytes()
