"""MEDIBUS framing: the fact sheet's examples as golden vectors, round trips, bad input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.base import BadFrame
from drivers.draeger_medibus.codec import Alarm, encode_alarms, parse_alarms, parse_data
from drivers.draeger_medibus.framer import MedibusFramer, Message, command, response

GOLDEN = {  # fact sheet §6
    "E1 ICC": (command(0x51), bytes.fromhex("1B51 3643 0D")),
    "E1 echo": (response(0x51), bytes.fromhex("0151 3532 0D")),
    "E2 request": (command(0x24), bytes.fromhex("1B24 3346 0D")),
    "E2 empty": (response(0x24), bytes.fromhex("0124 3235 0D")),
    "E3 data": (response(0x24, b"EB 98 E1 70 "), b"\x01$EB 98 E1 70 7A\r"),
    "E4 configure": (command(0x4A, b"$EB"), bytes.fromhex("1B4A 244542 3130 0D")),
    "E4 echo": (response(0x4A), bytes.fromhex("014A 3442 0D")),
    "E5 data": (
        response(0x24, b"D6 14 B86.507D 22 78  5 DB 5.1"),
        b"\x01$D6 14 B86.507D 22 78  5 DB 5.1E4\r",
    ),
    "E6 alarm": (response(0x27, b"M98APNEA EVITA "), b"\x01'M98APNEA EVITA 04\r"),
    "E7 alarms": (command(0x27), bytes.fromhex("1B27 3432 0D")),
    "E7 settings": (command(0x29), bytes.fromhex("1B29 3434 0D")),
    "E7 CP2 data": (command(0x2B), bytes.fromhex("1B2B 3436 0D")),
    "NAK": (response(0x15), bytes.fromhex("0115 3136 0D")),
}


def test_golden_vectors() -> None:
    for name, (built, wire) in GOLDEN.items():
        assert built == wire, name
        (message,) = MedibusFramer().feed(wire)
        assert isinstance(message, Message), name
        assert message.code == wire[1]


def test_golden_data_and_alarm_decode() -> None:
    (data,) = MedibusFramer().feed(GOLDEN["E5 data"][1])
    assert isinstance(data, Message)
    assert parse_data(data.data) == {0xD6: 14, 0xB8: 6.5, 0x7D: 22, 0x78: 5, 0xDB: 5.1}
    (alarm,) = MedibusFramer().feed(GOLDEN["E6 alarm"][1])
    assert isinstance(alarm, Message)
    assert parse_alarms(alarm.data) == (Alarm(29, 0x98, "APNEA EVITA"),)
    assert encode_alarms((Alarm(29, 0x98, "APNEA EVITA"),)) == b"M98APNEA EVITA "


def test_nop_with_the_appendix_checksum_is_accepted() -> None:
    assert command(0x30) == b"\x1b04B\r"
    (nop,) = MedibusFramer().feed(bytes.fromhex("1B30 3436 0D"))
    assert nop == Message("command", 0x30)


def test_byte_by_byte_with_noise_flow_control_and_embedded_command() -> None:
    wire = b"xx\x11" + GOLDEN["E5 data"][1][:10] + command(0x30) + GOLDEN["E5 data"][1][10:]
    framer = MedibusFramer()
    out = [item for byte in wire + b"\x13" for item in framer.feed(bytes((byte,)))]
    assert [type(item) for item in out] == [Message, Message]
    assert out[0] == Message("command", 0x30)
    assert isinstance(out[1], Message)
    assert out[1].data == b"D6 14 B86.507D 22 78  5 DB 5.1"
    assert framer.dropped == 2


def test_truncation_cancel_and_overlong() -> None:
    good = GOLDEN["E5 data"][1]
    wanted = Message("response", 0x24, good[2:-3])
    framer = MedibusFramer()
    cut = BadFrame("message cut short by a new response")
    assert framer.feed(good[:12] + good) == [cut, wanted]
    assert framer.feed(good[:12] + b"\x18" + command(0x51)) == [Message("command", 0x51)]
    assert framer.aborted == 1
    assert framer.feed(good[:12] + b"\n" + good) == [
        BadFrame("control byte 0x0A inside a message"),
        wanted,
    ]
    out = framer.feed(b"\x01$" + b"1" * 4000 + b"\r" + good)
    assert out == [BadFrame("message longer than 3845 bytes"), wanted]
    assert framer.feed(good[:-3] + b"e4\r") == [
        BadFrame("response checksum b'e4' is not two upper-case hex digits")
    ]


@given(st.binary(max_size=600))
def test_any_input_frames_without_raising(data: bytes) -> None:
    framer = MedibusFramer()
    for item in framer.feed(data):
        assert isinstance(item, Message | BadFrame)


@given(st.integers(0, 33), st.integers(0, 7))
def test_a_flipped_bit_never_yields_the_data_response(index: int, bit: int) -> None:
    good = bytearray(GOLDEN["E5 data"][1])
    good[index] ^= 1 << bit
    out = MedibusFramer().feed(bytes(good))
    wanted = Message("response", 0x24, GOLDEN["E5 data"][1][2:-3])
    assert wanted not in out
    assert (
        not any(
            isinstance(item, Message) and item.kind == "response" and item.code == 0x24
            for item in out
        )
        or index == 1
    )  # a flipped echo code makes another command's response, never E5's
