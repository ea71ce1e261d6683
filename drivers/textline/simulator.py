"""A textline device simulator: a monitor or a pump that streams one line per period.

The values follow a ketamine session in compressed form: blood pressure rising toward the end
of a 40-minute infusion and easing back after it, small noise on every vital sign, a pump at a
constant rate whose volume infused grows with time. ``speed`` runs the timeline faster.
Serving over TCP lets the daemon read it exactly as it reads a terminal server.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from typing import Literal

from drivers.textline.codec import encode_pump, encode_vitals

__all__ = ["TcpSimulatorServer", "TextLineSimulator", "serve_tcp"]

INFUSION_MIN = 40.0


@dataclass(slots=True)
class TextLineSimulator:
    """Lines for one device. ``kind``: ``vitals`` or ``pump``; ``rate_ml_h`` for a pump;
    ``bp_rise`` (mmHg, systolic) scales the blood-pressure response of a monitor."""

    kind: Literal["vitals", "pump"]
    rate_ml_h: float = 52.5
    vtbi_ml: float = 35.0
    drug: str = "Ketamine"
    bp_rise: float = 16.0
    seed: int = 0
    _rand: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rand = random.Random(self.seed)  # noqa: S311  # simulation noise, not secrets

    def line(self, minute: float) -> bytes:
        """The line the device sends ``minute`` minutes into the session."""
        if self.kind == "pump":
            return self._pump_line(minute)
        return self._vitals_line(minute)

    def _pump_line(self, minute: float) -> bytes:
        infused = min(self.vtbi_ml, self.rate_ml_h * minute / 60.0)
        if infused >= self.vtbi_ml:
            frame = encode_pump(
                "kvo",
                {"RATE": self.rate_ml_h, "VI": round(infused, 2), "VTBI": 0.0},
                drug=self.drug,
                flags=("end_of_volume",),
            )
        else:
            values = {
                "RATE": self.rate_ml_h,
                "VI": round(infused, 2),
                "VTBI": round(self.vtbi_ml - infused, 2),
            }
            frame = encode_pump("infusing", values, drug=self.drug)
        return frame.to_bytes()

    def _vitals_line(self, minute: float) -> bytes:
        # Rise peaking at the end of the infusion, back to baseline about an hour later.
        if minute <= INFUSION_MIN:
            response = minute / INFUSION_MIN
        else:
            response = max(0.0, math.cos((minute - INFUSION_MIN) / 60.0 * math.pi / 2))
        noise = self._rand.gauss
        sbp = 122 + self.bp_rise * response + noise(0, 2)
        dbp = 78 + self.bp_rise * 0.7 * response + noise(0, 1.5)
        hr = 74 + 8 * response + noise(0, 1.5)
        values: dict[str, float | None] = {
            "SBP": round(sbp),
            "DBP": round(dbp),
            "MAP": round((sbp + 2 * dbp) / 3),
            "HR": round(hr),
            "PR": round(hr + noise(0, 1)),
            "SPO2": round(min(100.0, 98 + noise(0, 0.6))),
            "RR": round(14 + noise(0, 1)),
        }
        return encode_vitals(values).to_bytes()


class TcpSimulatorServer:
    """A listening simulator; ``close()`` stops the listener and every client stream."""

    def __init__(self, simulator: TextLineSimulator, period_s: float, speed: float) -> None:
        self._simulator = simulator
        self._period_s = period_s
        self._speed = speed
        self._clients: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._started = 0.0

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (``port`` 0: any free port, see :attr:`port`)."""
        self._started = asyncio.get_running_loop().time()
        self._server = await asyncio.start_server(self._stream, host, port)

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _stream(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        loop = asyncio.get_running_loop()
        try:
            while True:
                minute = (loop.time() - self._started) * self._speed / 60.0
                writer.write(self._simulator.line(minute))
                await writer.drain()
                await asyncio.sleep(self._period_s)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            # The end of a client stream, not an error. asyncio 3.11's start_server callback
            # logs a handler that ends cancelled as an exception, so end it normally.
            pass
        finally:
            self._clients.discard(task)
            writer.close()

    async def close(self) -> None:
        """Stop listening and end every client stream."""
        if self._server is not None:
            self._server.close()
        clients = list(self._clients)
        for task in clients:
            task.cancel()
        if clients:
            await asyncio.wait(clients)
        if self._server is not None:
            await self._server.wait_closed()


async def serve_tcp(
    simulator: TextLineSimulator,
    host: str,
    port: int,
    period_s: float = 1.0,
    speed: float = 1.0,
) -> TcpSimulatorServer:
    """Serve ``simulator`` on ``host:port``: every client gets a line each ``period_s``."""
    server = TcpSimulatorServer(simulator, period_s, speed)
    await server.start(host, port)
    return server
