"""An MLLP receiver for the tests, on 127.0.0.1: parses what it gets with python-hl7 and
answers as a script says (``AA``, ``AE``, ``AR``, ``CA``, ``silent``, ``close``)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Literal

import hl7

from edge.hl7.mllp import MllpDecoder, frame

__all__ = ["Answer", "Receiver", "eventually"]

Answer = Literal["AA", "AE", "AR", "CA", "silent", "close", "garbage"]


def ack(control_id: str, code: str, detail: str = "") -> str:
    """An HL7 ACK of ``control_id``."""
    msh = "MSH|^~\\&|RECEIVER|HOSP|INFUSION-EDGE|CLINIC|20250101100006+0000||ACK^R01^ACK|"
    return f"{msh}ACK-{control_id}|P|2.6\rMSA|{code}|{control_id}|{detail}\r"


class Receiver:
    """Every message received (``received``: control ids in arrival order, with
    duplicates; ``messages``: the parsed messages); ``answer(control_id, count)`` says what
    to do with the ``count``-th arrival of ``control_id`` (1 = first)."""

    def __init__(self, answer: Callable[[str, int], Answer] = lambda _id, _n: "AA") -> None:
        self.answer = answer
        self.received: list[str] = []
        self.messages: dict[str, hl7.Message] = {}
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.tls: ssl.SSLContext | None = None  # serve MLLP over TLS with this context

    @property
    def url(self) -> str:
        """``mllp://127.0.0.1:PORT``."""
        return f"mllp{'s' if self.tls else ''}://127.0.0.1:{self.port}"

    def accepted(self) -> list[str]:
        """Control ids of the messages answered AA or CA, first arrival order, once each."""
        return list(dict.fromkeys(self._accepted))

    async def start(self, port: int = 0) -> None:
        """Listen (again, on the same port after :meth:`stop`)."""
        self._accepted: list[str] = getattr(self, "_accepted", [])
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", port or self.port, ssl=self.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        decoder = MllpDecoder()
        try:
            while data := await reader.read(65536):
                for raw in decoder.feed(data):
                    if not await self._one(raw.decode(), writer):
                        return
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(self, text: str, writer: asyncio.StreamWriter) -> bool:
        message = hl7.parse(text)
        control_id = str(message.segment("MSH")[10])
        self.received.append(control_id)
        self.messages[control_id] = message
        answer = self.answer(control_id, self.received.count(control_id))
        if answer == "close":
            return False
        if answer == "silent":
            return True
        if answer == "garbage":
            writer.write(b"\x0bnot an ack\x1c\x0d")
        else:
            if answer in ("AA", "CA"):
                self._accepted.append(control_id)
            detail = "" if answer in ("AA", "CA") else "PID-3 missing"
            writer.write(frame(ack(control_id, answer, detail)))
        await writer.drain()
        return True


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait, polling every 20 ms, until ``condition()`` holds; ``TimeoutError`` after
    ``timeout`` seconds."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"condition not met within {timeout} s")
