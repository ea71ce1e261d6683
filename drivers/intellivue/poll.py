"""IntelliVue poll results and numeric observations (fact sheet §8.4, §8.5, example S6).

A poll result is a RORS (or, when split, a chain of ROLRS ended by one RORS with the same
invoke id) with command 7 and this body::

    managed_object 6 | action_type u16 (0x0C16 single, 0xF13B extended) | length u16
    | poll_number u16 | [extended: sequence_no u16] | rel_time_stamp u32 (1/8 ms)
    | abs_time_stamp 8 (BCD, all 0xFF = none) | partition u16 | obj_class u16 | attr_group u16
    | PollInfoList:         count u16 | length u16 | SingleContextPoll ...
      SingleContextPoll:    context_id u16 | count u16 | length u16 | ObservationPoll ...
      ObservationPoll:      obj_handle u16 | AttributeList

Numeric attribute values::

    NuObsValue (10 B):      physio_id u16 | state u16 | unit_code u16 | value FLOAT-Type u32
    NuObsValCmp:            count u16 | length u16 | NuObsValue ...
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Self

from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.dataexport import MDS
from drivers.intellivue.datatypes import (
    NO_ABS_TIME,
    Ava,
    FloatType,
    ObjectId,
    Reader,
    decode_attributes,
    decode_list,
    encode_attributes,
    encode_list,
    u16,
    u32,
)
from drivers.intellivue.remote import RemoteOp, encode_op

__all__ = [
    "ContextPoll",
    "NuObsValue",
    "ObservationPoll",
    "PollResult",
    "decode_compound",
    "decode_nu_value",
    "encode_compound",
]

_NU_OBS_VALUE = struct.Struct(">HHHI")  # physio_id, state, unit_code, FLOAT-Type word
_ACTIONS = {codes.NOM_ACT_POLL_MDIB_DATA: False, codes.NOM_ACT_POLL_MDIB_DATA_EXT: True}


class NuObsValue(NamedTuple):
    """One numeric value: physio id, MeasurementState bits, unit code and the value (a
    named tuple, read in one unpack: one per polled value)."""

    physio_id: int
    state: int
    unit_code: int
    value: FloatType

    def to_bytes(self) -> bytes:
        return (
            u16(self.physio_id) + u16(self.state) + u16(self.unit_code) + u32(self.value.to_word())
        )

    @classmethod
    def read(cls, reader: Reader) -> Self:
        physio_id, state, unit, word = reader.unpack(_NU_OBS_VALUE)
        return cls(physio_id, state, unit, FloatType.from_word(word))


def decode_nu_value(raw: bytes) -> NuObsValue:
    """The NuObsValue of a NOM_ATTR_NU_VAL_OBS attribute (exactly 10 bytes)."""
    reader = Reader(raw, "NuObsValue")
    value = NuObsValue.read(reader)
    reader.end()
    return value


def encode_compound(values: Sequence[NuObsValue]) -> bytes:
    """A NuObsValCmp (the value of NOM_ATTR_NU_CMPD_VAL_OBS)."""
    return encode_list([value.to_bytes() for value in values])


def decode_compound(raw: bytes) -> tuple[NuObsValue, ...]:
    """The values of a NOM_ATTR_NU_CMPD_VAL_OBS attribute."""
    reader = Reader(raw, "NuObsValCmp")
    values = decode_list(reader, NuObsValue.read, "NuObsValCmp")
    reader.end()
    return values


@dataclass(frozen=True, slots=True)
class ObservationPoll:
    """One polled object: its handle and attributes (raw; see :mod:`.codec`)."""

    handle: int
    attributes: tuple[Ava, ...]

    def to_bytes(self) -> bytes:
        return u16(self.handle) + encode_attributes(self.attributes)

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(reader.u16(), decode_attributes(reader))


@dataclass(frozen=True, slots=True)
class ContextPoll:
    """The polled objects of one MDS context (SingleContextPoll); may be empty."""

    context_id: int
    objects: tuple[ObservationPoll, ...]

    def to_bytes(self) -> bytes:
        return u16(self.context_id) + encode_list([obj.to_bytes() for obj in self.objects])

    @classmethod
    def read(cls, reader: Reader) -> Self:
        context_id = reader.u16()
        return cls(context_id, decode_list(reader, ObservationPoll.read, "SingleContextPoll"))


@dataclass(frozen=True, slots=True)
class PollResult:
    """Monitor -> client: one poll result message (RORS, or ROLRS when ``linked`` holds its
    (state, count)). ``rel_time`` is the monitor's RelativeTime of the result (1/8 ms)."""

    invoke_id: int
    poll_number: int
    rel_time: int
    contexts: tuple[ContextPoll, ...]
    extended: bool = True
    sequence_no: int = 0
    obj_class: int = codes.NOM_MOC_VMO_METRIC_NU
    attr_group: int = codes.NOM_ATTR_GRP_METRIC_VAL_OBS
    abs_time: bytes = NO_ABS_TIME
    linked: tuple[int, int] | None = None
    partition: int = codes.NOM_PART_OBJ
    managed_object: ObjectId = MDS

    @property
    def objects(self) -> tuple[ObservationPoll, ...]:
        """Every polled object, all contexts together."""
        return tuple(obj for context in self.contexts for obj in context.objects)

    def to_bytes(self) -> bytes:
        reply = u16(self.poll_number)
        if self.extended:
            reply += u16(self.sequence_no)
        reply += u32(self.rel_time) + self.abs_time
        reply += u16(self.partition) + u16(self.obj_class) + u16(self.attr_group)
        reply += encode_list([context.to_bytes() for context in self.contexts])
        action = codes.NOM_ACT_POLL_MDIB_DATA_EXT if self.extended else codes.NOM_ACT_POLL_MDIB_DATA
        body = self.managed_object.to_bytes() + u16(action) + u16(len(reply)) + reply
        ro_type = codes.RORS if self.linked is None else codes.ROLRS
        op = RemoteOp(ro_type, self.invoke_id, codes.CMD_CONFIRMED_ACTION, body, self.linked)
        return encode_op(op)

    @classmethod
    def from_op(cls, op: RemoteOp) -> Self:
        if op.ro_type not in (codes.RORS, codes.ROLRS):
            raise DecodeError(f"poll result: ro_type {op.ro_type}")
        reader = Reader(op.body, "poll result")
        managed_object, action = ObjectId.read(reader), reader.u16()
        if action not in _ACTIONS:
            raise DecodeError(f"action result: unsupported action type 0x{action:04X}")
        extended = _ACTIONS[action]
        reply = Reader(reader.take(reader.u16()), "poll result")
        reader.end()
        number = reply.u16()
        sequence_no = reply.u16() if extended else 0
        rel_time, abs_time = reply.u32(), reply.take(8)
        partition, obj_class, group = reply.u16(), reply.u16(), reply.u16()
        contexts = decode_list(reply, ContextPoll.read, "PollInfoList")
        reply.end()
        return cls(
            invoke_id=op.invoke_id,
            poll_number=number,
            rel_time=rel_time,
            contexts=contexts,
            extended=extended,
            sequence_no=sequence_no,
            obj_class=obj_class,
            attr_group=group,
            abs_time=abs_time,
            linked=op.linked,
            partition=partition,
            managed_object=managed_object,
        )
