"""The pump side of the Alaris Asena protocol, sans I/O, for tests and the simulator.

It frames with the same code the host decodes with and answers the read-only queries of fact
sheet §3.1 from :class:`PumpValues`. Control commands (:data:`~.commands.REFUSED_COMMANDS`,
or a query with fields) are never obeyed: they are recorded in :attr:`AsenaPump.refused` and
get no answer, so a test can prove the host never sent one. Time remaining is always ``24+``
and the mode always ``SET``, the only forms the sheet shows.

Fault injection: :attr:`AsenaPump.muted` (switched off), :attr:`AsenaPump.status_needs_remote`
(answers the identity queries but no status query: a pump whose reading needs remote mode,
as the sheet fears), :meth:`AsenaPump.spoil_next_frame` (a wrong CRC).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.alaris_asena import commands as q
from drivers.alaris_asena.codec import NO_ALARM, NO_ALARM_CODE
from drivers.alaris_asena.framer import AsenaFrame, AsenaFramer

__all__ = ["PROTOCOL", "SERIAL", "AsenaPump", "PumpValues"]

SERIAL = "8002-51740"
PROTOCOL = "Asena Rev 2.1.5"


@dataclass(slots=True)
class PumpValues:
    """What the pump shows: rate (mL/h; 0 when stopped), volume infused and VTBI (mL; VTBI
    ``None``: not set), line pressure (mmHg), its alarm code (``None``: no alarm), syringe."""

    rate_ml_h: float = 0.0
    infused_ml: float = 0.0
    vtbi_ml: float | None = None
    pressure_mmhg: float = 17.91
    alarm_code: str | None = None
    syringe_brand: str = "BD PLASTIPAK"
    syringe_ml: int = 50
    log_id: int = 127904


def _inf(serial: str, v: PumpValues) -> AsenaFrame:
    alarm = NO_ALARM if v.alarm_code is None else "A"
    return AsenaFrame.of(
        "INF", serial, alarm, "SET", f"{v.rate_ml_h:.2f}", "ml/h", "", f"{v.infused_ml:.3f}",
        "ml", f"{v.pressure_mmhg:.2f}", "mmHg", "24+", "EVENT", str(v.log_id),
    )  # fmt: skip


def answer(name: str, serial: str, v: PumpValues) -> AsenaFrame:
    """The pump's answer to the read-only query ``name``."""
    if name == q.INF:
        return _inf(serial, v)
    if name == q.INF_VTBI:
        if v.vtbi_ml is None:
            return AsenaFrame.of("INF_VTBI", "DEACT", "", "ml", "STOP")
        return AsenaFrame.of("INF_VTBI", "ACTIV", f"{v.vtbi_ml:.3f}", "ml", "STOP")
    if name == q.ALARM:
        return AsenaFrame.of("ALARM", v.alarm_code or NO_ALARM_CODE, " ", " ")
    if name == q.SYRINGE_STATUS:
        return AsenaFrame.of("SYRINGE_STATUS", v.syringe_brand, f"{v.syringe_ml:3d}", "CONF")
    if name == q.COMMS_PROTOCOL:
        return AsenaFrame.of("COMMS_PROTOCOL", PROTOCOL)
    return AsenaFrame.of("INST_SERIALNO", serial)


class AsenaPump:
    """An Asena syringe pump behind its RS-232 port, driven by bytes."""

    def __init__(self, values: PumpValues | None = None, serial: str = SERIAL) -> None:
        self.values = values or PumpValues()
        self.serial = serial
        self.muted = False
        self.status_needs_remote = False
        self.refused: list[str] = []
        """Bodies of every frame that was not a read-only query (never obeyed)."""
        self.queries: list[str] = []
        self._framer = AsenaFramer()
        self._spoil = False

    def spoil_next_frame(self) -> None:
        self._spoil = True

    def receive(self, data: bytes) -> bytes:
        """The answers to the complete requests in ``data``."""
        out = b""
        for frame in self._framer.feed(data):
            if not isinstance(frame, AsenaFrame) or self.muted:
                continue
            if q.is_refused(frame.body):
                self.refused.append(frame.body)
                continue
            self.queries.append(frame.body)
            if self.status_needs_remote and frame.body not in (q.INST_SERIALNO, q.COMMS_PROTOCOL):
                continue
            out += self._out(answer(frame.body, self.serial, self.values).to_bytes())
        return out

    def _out(self, data: bytes) -> bytes:
        if not self._spoil:
            return data
        self._spoil = False
        body, _, check = data[:-1].rpartition(b"|")
        return body + b"|" + b"%04X" % (int(check, 16) ^ 0xFFFF) + b"\r"
