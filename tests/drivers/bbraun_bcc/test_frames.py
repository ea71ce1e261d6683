"""BCC frames, stuffing, records and requests: golden vectors S1-S4 and round trips."""

from __future__ import annotations

import pytest

from drivers.bbraun_bcc.frames import BccFrame, Control, FrameError, destuff, stuff
from drivers.bbraun_bcc.records import (
    Record,
    Request,
    alive_request,
    join_records,
    mem_get_request,
    mem_get_slot_request,
    parse_request,
    split_records,
    version_request,
)
from drivers.errors import DecodeError
from tests.drivers.bbraun_bcc.vectors import (
    S1_PLAIN,
    S1_WIRE,
    S2_PLAIN,
    S2_WIRE,
    S3_PLAIN,
    S3_WIRE,
    S4_BLOCK1,
    S4_BLOCK1_PLAIN,
    S4_BLOCK1_RECORDS,
    S4_BLOCK2,
    S4_BLOCK2_PLAIN,
)


def naive_stuff(data: bytes) -> bytes:
    """Stuffing by chained replace (safe in this direction, E before D): an independent oracle."""
    return data.replace(b"E", b"EE").replace(b"D", b"EX").replace(b"e", b"ee").replace(b"d", b"ex")


GOLDEN = [
    pytest.param(alive_request(), S1_PLAIN, S1_WIRE, id="S1-alive"),
    pytest.param(BccFrame("ComSystem", b"3605,50100,GNACK,0"), S2_PLAIN, S2_WIRE, id="S2-gnack"),
    pytest.param(mem_get_request("ComSystem"), S3_PLAIN, S3_WIRE, id="S3-mem-get"),
    pytest.param(S4_BLOCK1, S4_BLOCK1_PLAIN, naive_stuff(S4_BLOCK1_PLAIN), id="S4-block1"),
    pytest.param(S4_BLOCK2, S4_BLOCK2_PLAIN, naive_stuff(S4_BLOCK2_PLAIN), id="S4-block2"),
]


@pytest.mark.parametrize(("frame", "plain", "wire"), GOLDEN)
def test_golden_encode(frame: BccFrame, plain: bytes, wire: bytes) -> None:
    assert frame.to_bytes(stuffing=False) == plain
    assert frame.to_bytes() == wire


@pytest.mark.parametrize(("frame", "plain", "wire"), GOLDEN)
def test_golden_decode(frame: BccFrame, plain: bytes, wire: bytes) -> None:
    assert BccFrame.from_bytes(plain) == frame
    assert destuff(wire) == plain
    assert BccFrame.from_bytes(destuff(wire)) == frame


def test_sheet_numbers_for_s1_to_s4() -> None:
    assert (len(S1_PLAIN), len(S1_WIRE), S1_PLAIN[-6:-1]) == (31, 33, b"00061")
    assert (len(S2_PLAIN), len(S2_WIRE), S2_PLAIN[-6:-1]) == (46, 47, b"00126")
    assert (len(S3_PLAIN), len(S3_WIRE), S3_PLAIN[-6:-1]) == (35, 38, b"00153")
    block1, block2 = S4_BLOCK1.to_bytes(False), S4_BLOCK2.to_bytes(False)
    assert (len(block1), block1[1:6], block1[-6:-1], len(S4_BLOCK1.to_bytes())) == (
        849,
        b"00849",
        b"00076",
        865,
    )
    assert (len(block2), block2[1:6], block2[-6:-1], len(S4_BLOCK2.to_bytes())) == (
        527,
        b"00527",
        b"00219",
        533,
    )
    assert block1.startswith(
        bytes.fromhex("01 30 30 38 34 39 02 43 6F 6D 53 79 73 74 65 6D 2F 31 2F 31 3E 33 36 31 31")
    )
    assert block1.endswith(bytes.fromhex("41 31 36 2C 30 17 30 30 30 37 36 04"))
    assert block2.endswith(bytes.fromhex("41 31 36 2C 30 03 30 30 32 31 39 04"))
    for stuffed_name in (b"FMEXONGLEE", b"GNMOEXEEL", b"INEXORT", b"INTIMEE", b"EXSSTATUS"):
        assert stuffed_name in S4_BLOCK1.to_bytes()
    assert b"Keetaminee" in S4_BLOCK1.to_bytes()


@pytest.mark.parametrize(
    ("stuffed", "plain"),
    [
        (b"EEX", b"EX"),  # the spec's pitfall: not "ED"
        (b"EXEE", b"DE"),
        (b"eeexex", b"edd"),
        (b"eexex", b"exd"),
        (b"AEXMIN", b"ADMIN"),
        (b"", b""),
        (b"\x01\x02\x03", b"\x01\x02\x03"),
    ],
)
def test_destuff_is_one_left_to_right_pass(stuffed: bytes, plain: bytes) -> None:
    assert destuff(stuffed) == plain
    assert stuff(plain) == stuffed


@pytest.mark.parametrize("bad", [b"E", b"e", b"EA", b"ED", b"eX", b"Ex", b"ABCe"])
def test_destuff_rejects_bad_escapes(bad: bytes) -> None:
    with pytest.raises(FrameError):
        destuff(bad)


def test_stuff_round_trips_every_byte() -> None:
    data = bytes(range(256)) * 2
    assert stuff(data) == naive_stuff(data)
    assert destuff(stuff(data)) == data


@pytest.mark.parametrize("last", [True, False])
@pytest.mark.parametrize("stuffing", [True, False])
@pytest.mark.parametrize(
    ("bed", "information"),
    [
        ("1", b"ADMIN:ALIVE"),
        ("ComSystem", b"MEM:GETSLOT#1A"),
        ("/09AZaz", "7,50111,INSOLSN,K\ue021e".encode()),
        ("X" * 15, b""),
    ],
)
def test_frame_round_trip(bed: str, information: bytes, last: bool, stuffing: bool) -> None:
    frame = BccFrame(bed, information, last)
    wire = frame.to_bytes(stuffing)
    plain = destuff(wire) if stuffing else wire
    assert int(plain[1:6]) == len(plain) == frame.length
    assert BccFrame.from_bytes(plain) == frame


def test_length_counts_utf8_bytes() -> None:
    frame = BccFrame("1", "\ue021".encode())
    assert frame.length == 19 + 1 + 3
    assert frame.text == "\ue021"


@pytest.mark.parametrize(
    ("bed", "information"),
    [
        ("", b"x"),
        ("X" * 16, b"x"),
        ("bed>1", b"x"),
        ("bed 1", b"x"),
        ("b\u00e9d", b"x"),
        ("1", b"A\x04B"),
        ("1", b"A\x06B"),
        ("1", b"x" * 99_999),
    ],
)
def test_frame_rejects_invalid_content(bed: str, information: bytes) -> None:
    with pytest.raises(FrameError):
        BccFrame(bed, information)


@pytest.mark.parametrize(
    ("plain", "reason"),
    [
        (S1_PLAIN[:-1], "SOH to EOT"),
        (S1_PLAIN[:1] + b"0003x" + S1_PLAIN[6:], "length field"),
        (S1_PLAIN[:1] + b"00032" + S1_PLAIN[6:], "length field says 32"),
        (S1_PLAIN[:6] + b"\x03" + S1_PLAIN[7:], "STX"),
        (S1_PLAIN[:-7] + b"\x02" + S1_PLAIN[-6:], "ETX or ETB"),
        (S1_PLAIN[:-6] + b"00062\x04", "checksum mismatch"),
        (b"\x01" * 5, "too short"),
    ],
)
def test_from_bytes_reasons(plain: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        BccFrame.from_bytes(plain)


def test_from_bytes_needs_the_bed_suffix() -> None:
    good = BccFrame("1", b"1/1>ADMIN:ALIVE").to_bytes(False)
    broken = good.replace(b"1/1/1>1/1>", b"1/1/2>1/2>")
    head = broken[:-6]
    broken = head + b"%05d" % (sum(head) % 256) + b"\x04"
    with pytest.raises(FrameError, match="bedId"):
        BccFrame.from_bytes(broken)


def test_control_bytes() -> None:
    assert Control.ACK.to_bytes() == b"\x06"
    assert Control.NAK.to_bytes() == b"\x15"
    assert Control(0x06) is Control.ACK


@pytest.mark.parametrize(
    ("record", "text"),
    [
        (Record(3611, "50111", "INRT", "75.00"), b"3611,50111,INRT,75.00"),
        (Record(207, "50100", "V3.30"), b"207,50100,V3.30"),
        (Record(1, "5011A", "INSOL", "a,b,c"), b"1,5011A,INSOL,a,b,c"),
        (Record(0, "50112", "INSOL", ""), b"0,50112,INSOL,"),
        (Record(5, "50111", "INSOLSN", "K\ue021"), "5,50111,INSOLSN,K\ue021".encode()),
    ],
)
def test_record_round_trip(record: Record, text: bytes) -> None:
    assert record.to_bytes() == text
    assert Record.from_bytes(text) == record


def test_records_split_and_join() -> None:
    records = split_records("\x1e".join(S4_BLOCK1_RECORDS).encode())
    assert len(records) == 38
    assert records[7] == Record(3611, "50111", "INRT", "75.00")
    assert records[7].slot == "11"
    assert records[0].slot == "00"
    assert join_records(records) == "\x1e".join(S4_BLOCK1_RECORDS).encode()
    assert split_records(b"") == ()


@pytest.mark.parametrize(
    "bad",
    [b"3611,50111", b"x,50111,INRT,1", b"1,40111,INRT,1", b"1,50111,,1", b"\xff,1,2,3"],
)
def test_bad_records_raise_decode_error(bad: bytes) -> None:
    with pytest.raises(DecodeError):
        Record.from_bytes(bad)


def test_record_rejects_separators() -> None:
    with pytest.raises(ValueError, match="parameter"):
        Record(1, "50111", "IN,RT", "1")
    with pytest.raises(ValueError, match="RS"):
        Record(1, "50111", "INSOL", "a\x1eb")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (alive_request(), Request("ADMIN:ALIVE")),
        (version_request("ComSystem"), Request("ADMIN:VERSION")),
        (mem_get_request("ComSystem"), Request("MEM:GET")),
        (mem_get_slot_request("ComSystem", "13"), Request("MEM:GETSLOT", "13")),
        (mem_get_slot_request("ComSystem", "3O"), Request("MEM:GETSLOT", "3O")),
    ],
)
def test_request_round_trip(frame: BccFrame, expected: Request) -> None:
    assert parse_request(frame.information) == expected
    assert expected.frame(frame.bed_id) == frame
    assert BccFrame.from_bytes(destuff(frame.to_bytes())) == frame


def test_request_builders() -> None:
    assert alive_request().bed_id == "1"
    assert mem_get_slot_request("B", "1A").information == b"MEM:GETSLOT#1A"
    for slot in ("41", "10", "1P", "1a", "111"):
        with pytest.raises(ValueError, match="slot"):
            mem_get_slot_request("B", slot)


@pytest.mark.parametrize("bad", [b"MEM:PUT", b"mem:get", b"MEM:GETSLOT#1", b"", b"\xff"])
def test_parse_request_rejects_others(bad: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_request(bad)
