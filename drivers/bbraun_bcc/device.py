"""The ComDevice side of B. Braun BCC request mode, sans I/O: request bytes in, answer bytes out.

For simulators and tests: it frames with the same code the host uses and answers as fact
sheet §10 describes::

    ADMIN:ALIVE (bedId "1" or its own)  -> t,50100,GNACK,0                       one ETX block
    ADMIN:VERSION                       -> t,50100,V3.30                         one ETX block
    MEM:GET                             -> one block per pump in slot order, the first one
                                           led by the 50100 records; ETB ... ETB, ETX
                                           no pumps: t,50100,GNERR,11
    MEM:GETSLOT#xy                      -> 50100 records + that pump, one ETX block;
                                           no pump there: t,501xy,GNERR,811
    bad frame, unknown request,         -> t,50100,GNERR,68
    wrong bedId

The next block goes out only after ACK; NAK resends the current block; a new request
restarts with the first block. A pump set with :meth:`ComDevice.set_pumps` that was not there
before is announced by GNNEW instead of GNMODEL in the next answer; a pump that went away is
reported once by ``t,501xy,GNERR,39`` (in the first block). ``t`` is ``now_s``, the seconds
since the ComDevice was switched on, as given by the caller.

For tests of the host's error handling: :meth:`ComDevice.set_slot_error` makes a slot answer
``t,501xy,GNERR,code`` in every MEM:GET (a pump's block then holds only that record; a slot
without a pump gets it in the first block), and :attr:`ComDevice.answer_bed_id` frames the
answers with another rack's bedId (a second rack on the line, a swapped cable) while requests
are still checked against the ComDevice's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import BadFrame
from drivers.bbraun_bcc.framer import BccFramer
from drivers.bbraun_bcc.frames import EOT, BccFrame, Control, stuff
from drivers.bbraun_bcc.rack import Pump, general_records, pump_records
from drivers.bbraun_bcc.records import (
    GENERAL_ADDRESS,
    INITIAL_BED_ID,
    Record,
    Request,
    is_slot,
    join_records,
    parse_request,
)
from drivers.errors import DecodeError

__all__ = ["VERSION", "ComDevice", "Pump"]

VERSION = "V3.30"
"""What ADMIN:VERSION answers."""


class ComDevice:
    """A ComDevice with pumps in slots ``xy`` (``"11"``, ``"1A"``, ...), driven by bytes.

    Fault injection: :meth:`corrupt_next_block` spoils the checksum of the next block sent
    (a NAK then gets an intact copy); :attr:`muted` makes it ignore everything, like a
    ComDevice that was switched off; :meth:`set_slot_error` and :attr:`answer_bed_id` (see
    the module's docstring).
    """

    def __init__(
        self,
        pumps: Mapping[str, Pump] | None = None,
        *,
        bed_id: str = "ComSystem",
        stuffing: bool = True,
    ) -> None:
        BccFrame(bed_id, b"")  # validates the bedId
        self._bed_id = bed_id
        self._stuffing = stuffing
        self.muted = False
        self.answer_bed_id: str | None = None
        self._slot_errors: dict[str, int] = {}
        self._framer = BccFramer(stuffing=stuffing)
        self._pumps: dict[str, Pump] = {}
        self._new: set[str] = set()
        self._removed: set[str] = set()
        self._blocks: list[BccFrame] = []
        self._index = 0
        self._corrupt = False
        self.set_pumps(pumps or {})
        self._new.clear()  # pumps present at power-on are not "newly inserted"

    @property
    def bed_id(self) -> str:
        """The ComDevice's name; changing it makes requests with the old one fail (GNERR 68)."""
        return self._bed_id

    @bed_id.setter
    def bed_id(self, bed_id: str) -> None:
        BccFrame(bed_id, b"")  # validates the bedId
        self._bed_id = bed_id

    @property
    def stuffing(self) -> bool:
        """Whether this ComDevice stuffs and destuffs (fixed at construction)."""
        return self._stuffing

    @property
    def pumps(self) -> Mapping[str, Pump]:
        """The pumps in the rack by slot (a copy)."""
        return dict(self._pumps)

    @property
    def answering(self) -> bool:
        """Whether an answer is in progress (a block awaits ACK or NAK)."""
        return self._index < len(self._blocks)

    def set_pumps(self, pumps: Mapping[str, Pump]) -> None:
        """Replace the rack's pumps; new slots answer GNNEW once, gone ones GNERR 39 once."""
        for slot, pump in pumps.items():
            if not is_slot(slot):
                raise ValueError(f"not a pump slot: {slot!r} (pillar 1-3, slot 1-9 or A-O)")
            # render once so that a value the wire cannot carry fails here, not mid-answer
            BccFrame(self._bed_id, join_records(pump_records(pump, f"501{slot}", 0)))
        self._new |= pumps.keys() - self._pumps.keys()
        self._removed |= self._pumps.keys() - pumps.keys()
        self._removed -= pumps.keys()
        self._new -= self._pumps.keys() - pumps.keys()
        self._pumps = dict(pumps)

    def set_slot_error(self, slot: str, code: int | None) -> None:
        """Answer ``GNERR,code`` for ``slot`` in every MEM:GET from now on; ``None`` stops it."""
        if not is_slot(slot):
            raise ValueError(f"not a pump slot: {slot!r} (pillar 1-3, slot 1-9 or A-O)")
        if code is None:
            self._slot_errors.pop(slot, None)
        else:
            self._slot_errors[slot] = code

    def corrupt_next_block(self) -> None:
        """Send the next block (first copy only) with a wrong checksum."""
        self._corrupt = True

    def receive(self, data: bytes, now_s: float) -> bytes:
        """Bytes from the host -> bytes to send back (possibly none); ``now_s`` is the time in
        s since the ComDevice was switched on, sent as the records' time."""
        if self.muted:
            return b""
        out = bytearray()
        for item in self._framer.feed(data):
            if isinstance(item, Control):
                out += self._on_control(item)
            else:
                out += self._on_request(item, max(int(now_s), 0))
        return bytes(out)

    def _on_control(self, control: Control) -> bytes:
        if not self.answering:
            return b""
        if control is Control.ACK:
            self._index += 1
            if not self.answering:
                self._blocks = []
                return b""
        return self._send_current()

    def _on_request(self, item: BccFrame | BadFrame, time: int) -> bytes:
        blocks = self._answer(item, time)
        bed_id = self.answer_bed_id or self.bed_id
        self._blocks = [
            BccFrame(bed_id, join_records(block), last=index == len(blocks) - 1)
            for index, block in enumerate(blocks)
        ]
        self._index = 0
        return self._send_current()

    def _answer(self, item: BccFrame | BadFrame, time: int) -> list[list[Record]]:
        bad_request = [[Record(time, GENERAL_ADDRESS, "GNERR", "68")]]
        if isinstance(item, BadFrame):
            return bad_request
        try:
            request = parse_request(item.information)
        except DecodeError:
            return bad_request
        own = item.bed_id == self.bed_id
        if request.command == "ADMIN:ALIVE" and (own or item.bed_id == INITIAL_BED_ID):
            return [[Record(time, GENERAL_ADDRESS, "GNACK", "0")]]
        if not own:
            return bad_request
        if request.command == "ADMIN:VERSION":
            return [[Record(time, GENERAL_ADDRESS, VERSION)]]
        if request.command == "MEM:GET":
            return self._mem_get(time)
        return [self._mem_get_slot(request, time)]

    def _mem_get(self, time: int) -> list[list[Record]]:
        removed = [Record(time, f"501{slot}", "GNERR", "39") for slot in sorted(self._removed)]
        removed += [
            Record(time, f"501{slot}", "GNERR", str(code))
            for slot, code in sorted(self._slot_errors.items())
            if slot not in self._pumps
        ]
        self._removed.clear()
        if not self._pumps:
            return [[Record(time, GENERAL_ADDRESS, "GNERR", "11"), *removed]]
        blocks = [self._pump_block(slot, time) for slot in sorted(self._pumps)]
        blocks[0][:0] = [*general_records(self._pumps, time), *removed]
        return blocks

    def _mem_get_slot(self, request: Request, time: int) -> list[Record]:
        slot = request.slot or ""
        if slot in self._pumps:
            return [*general_records(self._pumps, time), *self._pump_block(slot, time)]
        address = f"501{slot}" if is_slot(slot) else GENERAL_ADDRESS
        code = "39" if slot in self._removed else "811"
        self._removed.discard(slot)
        return [Record(time, address, "GNERR", code)]

    def _pump_block(self, slot: str, time: int) -> list[Record]:
        code = self._slot_errors.get(slot)
        if code is not None:
            return [Record(time, f"501{slot}", "GNERR", str(code))]
        new = slot in self._new
        self._new.discard(slot)
        return pump_records(self._pumps[slot], f"501{slot}", time, new=new)

    def _send_current(self) -> bytes:
        frame = self._blocks[self._index]
        if not self._corrupt:
            return frame.to_bytes(self._stuffing)
        self._corrupt = False
        plain = frame.to_bytes(stuffing=False)
        check = (int(plain[-6:-1]) + 1) % 256
        spoiled = plain[:-6] + b"%05d" % check + bytes((EOT,))
        return stuff(spoiled) if self._stuffing else spoiled
