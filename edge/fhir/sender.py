"""The FHIR sender: POSTs each stored transaction Bundle to the base URL, one at a time, in
queue order (httpx).

2xx: the server took the whole transaction; remove it. 4xx other than 408 and 429: the
server refused it (bad resource, unauthorised): move it to the queue's ``refused`` table with
the status and the OperationOutcome's words, log and count it, go on with the next (resending
an unchanged bundle would be refused again). 408, 429, 5xx, a timeout or a connection that
fails: keep it, back off (capped, jittered) and send it again; the conditional creates and
updates in the bundle make a resend harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl

import httpx

from edge.backoff import Backoff
from edge.config import FhirConfig
from edge.forward.queue import ForwardQueue, QueuedMessage, next_or_finished
from edge.forward.stack import SenderCounters

__all__ = ["FhirSender", "client_settings"]

log = logging.getLogger(__name__)
RETRIED = frozenset({408, 429})
FHIR_JSON = "application/fhir+json"


def client_settings(
    fhir: FhirConfig,
) -> tuple[httpx.Auth | None, dict[str, str], ssl.SSLContext | bool]:
    """(auth, headers, TLS verification) of the configured server."""
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    auth: httpx.Auth | None = None
    if fhir.bearer_token is not None:
        headers["Authorization"] = f"Bearer {fhir.bearer_token.get_secret_value()}"
    elif fhir.username is not None and fhir.password is not None:
        auth = httpx.BasicAuth(fhir.username, fhir.password.get_secret_value())
    verify: ssl.SSLContext | bool = True
    if fhir.ca_file is not None:
        verify = ssl.create_default_context(cafile=fhir.ca_file)
    return auth, headers, verify


class FhirSender:
    """Sends what ``queue`` holds to ``base_url``."""

    def __init__(
        self,
        base_url: str,
        queue: ForwardQueue,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout_s: float = 15.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = base_url
        self.queue = queue
        self.counters = SenderCounters()
        self._auth = auth
        self._headers = headers or {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        self._verify = verify
        self._timeout = timeout_s
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0)
        self._finish = asyncio.Event()
        self._failing = False  # a failure was logged at WARNING; repeats go at DEBUG

    def finish(self) -> None:
        """Stop once nothing stored is left to send (shutdown)."""
        self._finish.set()

    async def run(self) -> None:
        """Send until :meth:`finish` and an empty queue, or cancellation."""
        async with httpx.AsyncClient(
            auth=self._auth, headers=self._headers, verify=self._verify, timeout=self._timeout
        ) as client:
            while (message := await next_or_finished(self.queue, self._finish)) is not None:
                if not await self._send(client, message):
                    await asyncio.sleep(self._backoff.next_delay())

    async def _send(self, client: httpx.AsyncClient, message: QueuedMessage) -> bool:
        """Send ``message`` once; False to back off before the next try."""
        try:
            response = await client.post(self.url, content=message.payload)
        except httpx.TimeoutException:
            self.counters.ack_timeouts += 1
            self.counters.connected = False
            self._failed("FHIR server did not answer in time; will resend", {})
            return False
        except httpx.TransportError as exc:
            self.counters.connect_failures += 1
            self.counters.connected = False
            self._failed("FHIR server unreachable", {"error": str(exc)})
            return False
        self.counters.connected = True
        status = response.status_code
        if 200 <= status < 300:
            self._failing = False
            if not await self.queue.delivered(message):
                return False
            self.counters.delivered += 1
            self._backoff.reset()
            return True
        if 400 <= status < 500 and status not in RETRIED:
            return await self._refused(message, status, _outcome(response))
        self.counters.bad_replies += 1
        self._failed("FHIR server error; will resend", {"status": status})
        return False

    def _failed(self, what: str, extra: dict[str, object]) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(level, what, extra={"server": self.url, **extra})
        self._failing = True

    async def _refused(self, message: QueuedMessage, status: int, detail: str) -> bool:
        self.counters.refused += 1
        log.warning(
            "FHIR bundle refused by the server; kept in the refused table",
            extra={
                "bundle": message.control_id,
                "kind": message.kind,
                "bed": message.bed,
                "status": status,
            },
        )
        return await self.queue.refuse(message, str(status), detail)


def _outcome(response: httpx.Response) -> str:
    """The OperationOutcome's diagnostics or texts, else the body's start."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.text[:500]
    issues = body.get("issue", []) if isinstance(body, dict) else []
    texts = [
        str(issue.get("diagnostics") or issue.get("details", {}).get("text") or issue.get("code"))
        for issue in issues
        if isinstance(issue, dict)
    ]
    return "; ".join(texts)[:500] if texts else response.text[:500]
