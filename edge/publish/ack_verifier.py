"""The edge's gate for acknowledgement commands: nothing reaches the alarm engine unverified.

:meth:`AckVerifier.check` takes the raw payload of an ``.../alarms/{alarm_id}/ack`` message
and returns a :class:`Checked` with its :class:`~edge.publish.ack_signing.Verdict`, in this
order: ``malformed`` (not a JSON object, over 4 KiB), ``unsigned`` (no ``sig``,
``dashboard`` or ``nonce``), ``malformed`` (not a valid ``AckCommand``),
``unknown_dashboard``, ``bad_signature``, ``stale`` (``at`` more than ``window_s`` from the
edge's clock, either way), ``replayed`` (the dashboard's ``nonce`` seen before), ``accepted``.
The signature is checked before the time and the nonce, so only a key holder can fill the
nonce memory. A nonce is remembered for twice the window (by then a replay is stale anyway), at
most ``max_nonces`` of them (the oldest go first).

Every command is written to the audit trail (logger ``edge.audit``, the conventions of
``edge.web.audit``): an accepted one at INFO, a refused one at WARNING with its ``reason``.
Records name users, dashboards, beds and alarm ids, never a patient; a claimed name is cut to
64 characters.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge.clock import Clock, SystemClock
from edge.config import Config
from edge.publish.ack_signing import Verdict, new_secret, signature_matches
from edge.publish.payloads import AckCommand
from edge.publish.topics import AckTopic

__all__ = ["DEFAULT_WINDOW_S", "AckVerifier", "Checked", "audit", "own_dashboard_secret"]

audit = logging.getLogger("edge.audit")
log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 30.0
MAX_NONCES = 10_000
MAX_PAYLOAD_BYTES = 4096
SIGNED_FIELDS = ("sig", "dashboard", "nonce")


@dataclass(frozen=True, slots=True)
class Checked:
    """The verdict on one command; ``command`` is set exactly when it was accepted."""

    verdict: Verdict
    command: AckCommand | None = None


class AckVerifier:
    """Verifies the acknowledgements of ``site`` against ``keys`` (dashboard id -> secret)."""

    def __init__(
        self,
        site: str,
        keys: Mapping[str, str],
        window_s: float = DEFAULT_WINDOW_S,
        clock: Clock | None = None,
        max_nonces: int = MAX_NONCES,
    ) -> None:
        self._site = site
        self._keys = dict(keys)
        self._window_s = window_s
        self._clock = clock or SystemClock()
        self._max_nonces = max_nonces
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()  # -> forget at

    @classmethod
    def from_config(cls, config: Config, own_secret: str | None, clock: Clock) -> AckVerifier:
        """The verifier of ``config.acknowledgements``, also trusting the edge's own dashboard
        (``config.dashboard_id``) with ``own_secret`` when it is given."""
        keys = {
            dashboard: trusted.secret.get_secret_value()
            for dashboard, trusted in config.acknowledgements.dashboards.items()
        }
        if own_secret is not None:
            if keys.get(config.dashboard_id, own_secret) != own_secret:
                log.warning(
                    "acknowledgements.dashboards lists this edge's own dashboard with another "
                    "secret; its http.ack_secret is used",
                    extra={"dashboard": config.dashboard_id},
                )
            keys[config.dashboard_id] = own_secret
        return cls(config.site, keys, config.acknowledgements.window_s, clock)

    @property
    def dashboards(self) -> list[str]:
        """The ids of the dashboards trusted."""
        return sorted(self._keys)

    def check(self, target: AckTopic, payload: bytes) -> Checked:
        """Judge one command for ``target`` and audit the verdict."""
        data = _json_object(payload)
        checked = self._judge(target, data)
        claimed = data or {}
        extra = {
            "user": _claimed(claimed.get("by")),
            "dashboard": _claimed(claimed.get("dashboard")),
            "bed": target.bed,
            "alarm": target.alarm_id,
        }
        if checked.verdict is Verdict.ACCEPTED:
            audit.info("acknowledgement accepted", extra=extra)
        else:
            audit.warning("acknowledgement refused", extra={**extra, "reason": checked.verdict})
        return checked

    def _judge(self, target: AckTopic, data: dict[str, Any] | None) -> Checked:
        if data is None:
            return Checked(Verdict.MALFORMED)
        if any(not data.get(name) for name in SIGNED_FIELDS):
            return Checked(Verdict.UNSIGNED)
        try:
            command = AckCommand.model_validate(data)
        except ValidationError:
            return Checked(Verdict.MALFORMED)
        secret = self._keys.get(command.dashboard)
        if secret is None:
            return Checked(Verdict.UNKNOWN_DASHBOARD)
        if not signature_matches(
            secret, command, site=self._site, bed=target.bed, alarm_id=target.alarm_id
        ):
            return Checked(Verdict.BAD_SIGNATURE)
        if abs((self._clock.now() - command.at).total_seconds()) > self._window_s:
            return Checked(Verdict.STALE)
        if not self._first_use(command.dashboard, command.nonce):
            return Checked(Verdict.REPLAYED)
        return Checked(Verdict.ACCEPTED, command)

    def _first_use(self, dashboard: str, nonce: str) -> bool:
        """Remember ``nonce`` of ``dashboard``; ``False`` if it is remembered already."""
        now = self._clock.monotonic()
        while self._nonces and next(iter(self._nonces.values())) <= now:
            self._nonces.popitem(last=False)
        key = (dashboard, nonce)
        if key in self._nonces:
            return False
        self._nonces[key] = now + 2 * self._window_s
        while len(self._nonces) > self._max_nonces:
            self._nonces.popitem(last=False)
        return True


def own_dashboard_secret(config: Config) -> str | None:
    """The key of the dashboard served by ``infusion-edge run``: ``http.ack_secret``, else a
    random one made now (only this edge can verify it), else ``None`` when ``http`` is off."""
    if not config.http.enabled:
        return None
    if config.http.ack_secret is not None:
        return config.http.ack_secret.get_secret_value()
    log.info(
        "the built-in dashboard signs acknowledgements with a key made at start: other edges "
        "of the site cannot verify them (set http.ack_secret on a site with several edges)",
        extra={"dashboard": config.dashboard_id},
    )
    return new_secret()


def _json_object(payload: bytes) -> dict[str, Any] | None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _claimed(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None
