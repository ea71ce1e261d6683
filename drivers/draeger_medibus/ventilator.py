"""The device side of MEDIBUS, sans I/O: a simulated intensive-care ventilator.

It uses the same framer and codec as the host, so the simulator and the tests that wire it to
:class:`~.conversation.MedibusConversation` exercise both ends. Behaviour (fact sheet §3, §5;
where the sheet is silent, this simulator's choice is marked):

- ICC is echoed and starts the link; until then every other command is ignored (choice);
- NOP and any command it does not serve are echoed; device identification answers
  ``8240'Evita 4'`` and a revision; ``$`` the measured data, ``'`` the current alarms;
  STOP is echoed and ends the link;
- a corrupt command (bad checksum, cut short) is answered ``SOH NAK 16 CR``;
- more than :data:`LINK_SILENCE_S` without a byte from the host ends the link.

Values live in :class:`VentilatorValues` (set them at any time; ``None``: not sent, as a real
device omits a value it does not have).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import BadFrame
from drivers.draeger_medibus import codes
from drivers.draeger_medibus.codec import Alarm, encode_alarms, encode_data, format_value
from drivers.draeger_medibus.framer import NAK, MedibusFramer, checksum, response

__all__ = ["IDENTITY", "LINK_SILENCE_S", "Ventilator", "VentilatorValues", "data_fields"]

LINK_SILENCE_S = 3.0
IDENTITY = b"8240'Evita 4'04.20:04.03"


@dataclass(slots=True)
class VentilatorValues:
    """What the ventilator measures: RR (/min), expiratory tidal volume (mL), minute volume
    (L/min), peak, plateau and mean airway pressure and PEEP (mbar), FiO2 (%), EtCO2 (%);
    ``alarms``: its current alarms. ``None``: not measured now."""

    rr: float | None = 14
    vt_ml: float | None = 450
    mv_l_min: float | None = 6.3
    ppeak: float | None = 22
    pplat: float | None = 18
    pmean: float | None = 10
    peep: float | None = 5
    fio2: float | None = 40
    etco2_pct: float | None = 5.1
    alarms: tuple[Alarm, ...] = ()


def _whole(value: float) -> bytes:
    return f"{round(value):3d} ".encode("ascii")


def data_fields(values: VentilatorValues) -> dict[int, bytes]:
    """The measured-data items for ``values``, in the Evita 4 formats (fact sheet §4.1, E5)."""
    fields: dict[int, bytes] = {}
    if values.rr is not None:
        fields[0xD6] = _whole(values.rr)
    if values.vt_ml is not None:
        vt = values.vt_ml
        fields.update(
            {0x88: f"{round(vt):4d}".encode()} if vt < 1000 else {0x82: format_value(vt / 1000, 2)}
        )
    if values.mv_l_min is not None:
        mv = values.mv_l_min
        fields.update({0xB8: format_value(mv, 2)} if mv < 10 else {0xB9: format_value(mv, 1)})
    pressures = (
        (0x7D, values.ppeak),
        (0x74, values.pplat),
        (0x73, values.pmean),
        (0x78, values.peep),
    )
    fields.update({code: _whole(value) for code, value in pressures if value is not None})
    if values.fio2 is not None:
        fields[0xF0] = _whole(values.fio2)
    if values.etco2_pct is not None:
        fields[0xDB] = format_value(values.etco2_pct, 1)
    return fields


class Ventilator:
    """A simulated ventilator's MEDIBUS port. ``commands`` counts the commands answered."""

    def __init__(self, values: VentilatorValues | None = None) -> None:
        self.values = values if values is not None else VentilatorValues()
        self.linked = False
        self.commands = 0
        self._framer = MedibusFramer()
        self._heard_at: float | None = None
        self._spoil = False

    def spoil_next_frame(self) -> None:
        """Send the next response with a wrong checksum."""
        self._spoil = True

    def receive(self, data: bytes, now: float) -> bytes:
        """Handle bytes from the host at ``now`` (s); returns the responses."""
        self.tick(now)
        if data:
            self._heard_at = now
        out = bytearray()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                out += response(NAK)
            elif item.kind == "command":
                out += self._command(item.code)
        return bytes(out)

    def tick(self, now: float) -> bytes:
        """The link ends after :data:`LINK_SILENCE_S` without a byte; it never speaks first."""
        if self._heard_at is not None and now - self._heard_at > LINK_SILENCE_S:
            self.linked = False
        return b""

    def _command(self, code: int) -> bytes:
        if code == codes.ICC:
            self.linked = True
        elif not self.linked:
            return b""
        self.commands += 1
        if code == codes.STOP:
            self.linked = False
        return self._respond(code, self._data(code))

    def _data(self, code: int) -> bytes:
        if code == codes.DEVICE_ID:
            return IDENTITY
        if code == codes.DATA_CP1:
            return encode_data(data_fields(self.values))
        if code == codes.ALARMS_CP1:
            return encode_alarms(self.values.alarms)
        return b""

    def _respond(self, code: int, data: bytes) -> bytes:
        if not self._spoil:
            return response(code, data)
        self._spoil = False
        good = checksum(bytes((0x01, code)) + data)
        return response(code, data, check=b"%02X" % (int(good, 16) ^ 0xFF))
