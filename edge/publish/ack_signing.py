"""Signed acknowledgements: the bytes a dashboard signs and the edge checks, in one place.

A dashboard shares a secret (at least 32 characters, ``infusion-edge ack-key``) with the edges
that trust it. It signs an acknowledgement with HMAC-SHA256, key = the secret's UTF-8 bytes,
over these lines joined by ``\\n`` (no trailing newline)::

    infusion-edge.ack/1          the scheme
    {site}                       the target, from the topic
    {bed}                        .../beds/{bed}/alarms/{alarm_id}/ack
    {alarm_id}
    {by}                         the user
    {at}                         UTC, ``2025-03-14T09:15:02.123000Z`` (always 6 digits)
    {dashboard}                  the dashboard's id
    {nonce}                      lowercase hex, new for every command

and sends the MAC as ``sig`` (64 lowercase hex digits). Every field and the target are
covered, so a signature moved to another alarm, bed or site, another user, time or dashboard
fails. No field may hold a control character, so the lines cannot be confused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from edge.publish.payloads import AckCommand

__all__ = [
    "SCHEME",
    "Verdict",
    "canonical",
    "new_nonce",
    "new_secret",
    "sign",
    "signature",
    "signature_matches",
]

SCHEME = "infusion-edge.ack/1"
NONCE_BYTES = 16
SECRET_BYTES = 32


class Verdict(StrEnum):
    """What the edge made of an acknowledgement command; the ``result`` label of
    ``infusion_edge_mqtt_acks_total``."""

    ACCEPTED = "accepted"
    UNSIGNED = "unsigned"  # no sig, dashboard or nonce
    UNKNOWN_DASHBOARD = "unknown_dashboard"
    BAD_SIGNATURE = "bad_signature"  # forged or tampered with
    STALE = "stale"  # at outside the window
    REPLAYED = "replayed"  # nonce seen before
    MALFORMED = "malformed"  # not a valid AckCommand


def _utc(at: datetime) -> str:
    if at.utcoffset() is None:
        raise ValueError("an acknowledgement time needs a time zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *, site: str, bed: str, alarm_id: str, by: str, at: datetime, dashboard: str, nonce: str
) -> bytes:
    """The bytes signed for an acknowledgement of ``alarm_id`` on ``bed`` of ``site``.

    Raises ``ValueError`` for a field with a control character or a naive ``at``."""
    fields = (SCHEME, site, bed, alarm_id, by, _utc(at), dashboard, nonce)
    for field in fields:
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in field):
            raise ValueError("an acknowledgement field holds a control character")
    return "\n".join(fields).encode()


def signature(secret: str, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` with ``secret`` (UTF-8), lowercase hex."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """16 random bytes, lowercase hex."""
    return secrets.token_hex(NONCE_BYTES)


def new_secret() -> str:
    """A new dashboard secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def sign(
    secret: str,
    *,
    site: str,
    bed: str,
    alarm_id: str,
    by: str,
    dashboard: str,
    at: datetime | None = None,
    nonce: str | None = None,
) -> AckCommand:
    """A signed command acknowledging ``alarm_id`` as ``by`` through ``dashboard``, at ``at``
    (default now) with ``nonce`` (default a new one)."""
    at = at or datetime.now(UTC)
    nonce = nonce or new_nonce()
    message = canonical(
        site=site, bed=bed, alarm_id=alarm_id, by=by, at=at, dashboard=dashboard, nonce=nonce
    )
    return AckCommand(
        by=by, at=at, dashboard=dashboard, nonce=nonce, sig=signature(secret, message)
    )


def signature_matches(
    secret: str, command: AckCommand, *, site: str, bed: str, alarm_id: str
) -> bool:
    """Whether ``command`` was signed with ``secret`` for this target (constant time)."""
    try:
        message = canonical(
            site=site,
            bed=bed,
            alarm_id=alarm_id,
            by=command.by,
            at=command.at,
            dashboard=command.dashboard,
            nonce=command.nonce,
        )
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, message), command.sig)
