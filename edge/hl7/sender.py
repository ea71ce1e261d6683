"""The MLLP sender: one connection to the receiver, one message in flight, in queue order.

A loop, not callbacks: connect (``mllp://`` or ``mllps://`` with TLS), then for each stored
message, oldest first: send it, wait up to ``ack_timeout_s`` for the ACK that names its
control id (ACKs naming another id, left from an earlier connection, are skipped). ``AA``/
``CA``: remove it from the queue. ``AE``/``AR``/``CE``/``CR``: move it to the queue's
``refused`` table, log and count it, go on with the next (the fact sheet: do not resend
unchanged). No ACK in time, a reply that is no ACK, a closed or broken connection: close,
back off (capped, jittered), reconnect and send the same message again, with the same
control id (the receiver must tolerate duplicates: delivery is at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from urllib.parse import urlsplit

from edge.backoff import Backoff
from edge.config import Hl7Config
from edge.forward.queue import ForwardQueue, QueuedMessage, next_or_finished
from edge.forward.stack import SenderCounters
from edge.hl7.mllp import END, START, Ack, AckError, MllpDecoder, parse_ack

__all__ = ["MllpSender", "tls_context"]

log = logging.getLogger(__name__)

READ_CHUNK = 4096


class _ReconnectError(Exception):
    """The connection is no good any more: close it, back off, send again."""


def tls_context(hl7: Hl7Config) -> ssl.SSLContext | None:
    """The TLS context of an ``mllps://`` url (CA and client certificate from ``tls``)."""
    if not hl7.url.startswith("mllps://"):
        return None
    tls = hl7.tls
    context = ssl.create_default_context(cafile=tls.ca_file if tls else None)
    if tls is not None and tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


class MllpSender:
    """Sends what ``queue`` holds to ``host:port``."""

    def __init__(
        self,
        url: str,
        queue: ForwardQueue,
        *,
        tls: ssl.SSLContext | None = None,
        ack_timeout_s: float = 15.0,
        connect_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{url!r}: expected mllp://host:port")
        self.host, self.port = parts.hostname, parts.port
        self.queue = queue
        self.counters = SenderCounters()
        self._tls = tls
        self._ack_timeout = ack_timeout_s
        self._connect_timeout = connect_timeout_s
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0)
        self._finish = asyncio.Event()
        self._unreachable = False

    def finish(self) -> None:
        """Stop once nothing stored is left to send (shutdown)."""
        self._finish.set()

    async def run(self) -> None:
        """Connect and send until :meth:`finish` and an empty queue, or cancellation."""
        while not self._finish.is_set() or self.queue.depth:
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.host,
                        self.port,
                        ssl=self._tls,
                        server_hostname=self.host if self._tls else None,
                    ),
                    self._connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                self.counters.connect_failures += 1
                log.log(  # once at WARNING, then at DEBUG until it works again
                    logging.DEBUG if self._unreachable else logging.WARNING,
                    "HL7 receiver unreachable",
                    extra={**self._where(), "error": str(exc) or "timeout"},
                )
                self._unreachable = True
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._unreachable = False
            done = await self._session(*streams)
            if done:
                return
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Send over one connection; True when finished, False to reconnect."""
        self.counters.connected = True
        log.info("HL7 receiver connected", extra={"receiver": f"{self.host}:{self.port}"})
        decoder = MllpDecoder()
        try:
            while True:
                message = await next_or_finished(self.queue, self._finish)
                if message is None:
                    return True
                writer.write(START + message.payload + END)
                await writer.drain()
                ack = await asyncio.wait_for(
                    self._ack_for(message, reader, decoder), self._ack_timeout
                )
                await self._answered(message, ack)
        except TimeoutError:
            self.counters.ack_timeouts += 1
            log.warning("HL7 ACK not received in time; reconnecting", extra=self._where())
        except _ReconnectError as exc:
            log.warning(
                "HL7 connection lost; reconnecting", extra={**self._where(), "error": str(exc)}
            )
        except OSError as exc:
            log.warning(
                "HL7 connection lost; reconnecting", extra={**self._where(), "error": str(exc)}
            )
        finally:
            self.counters.connected = False
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        return False

    def _where(self) -> dict[str, object]:
        return {"receiver": f"{self.host}:{self.port}"}

    async def _ack_for(
        self, message: QueuedMessage, reader: asyncio.StreamReader, decoder: MllpDecoder
    ) -> Ack:
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise _ReconnectError("closed by the receiver")
            for reply in decoder.feed(data):
                try:
                    ack = parse_ack(reply)
                except AckError as exc:
                    self.counters.bad_replies += 1
                    raise _ReconnectError(str(exc)) from exc
                if ack.control_id == message.control_id:
                    return ack
                log.debug("HL7 ACK for another message skipped", extra={"ack": ack.control_id})

    async def _answered(self, message: QueuedMessage, ack: Ack) -> None:
        if ack.accepted:
            if await self.queue.delivered(message):
                self.counters.delivered += 1
                self._backoff.reset()
            else:  # the disk refused the delete: it goes again later, after a pause
                await asyncio.sleep(self._backoff.next_delay())
            return
        if not ack.refused:
            self.counters.bad_replies += 1
            raise _ReconnectError(f"unknown acknowledgement code {ack.code!r}")
        self.counters.refused += 1
        log.warning(
            "HL7 message refused by the receiver; kept in the refused table",
            extra={
                "control_id": message.control_id,
                "kind": message.kind,
                "bed": message.bed,
                "code": ack.code,
            },
        )
        if not await self.queue.refuse(message, ack.code, ack.detail):
            await asyncio.sleep(self._backoff.next_delay())
