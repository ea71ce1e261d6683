"""The ComDevice side: answers, blocks and handshake, pump changes, fault hooks."""

from __future__ import annotations

import pytest

from drivers.base import BadFrame, DeviceTarget, Instant
from drivers.bbraun_bcc.codec import Block, decode_answer
from drivers.bbraun_bcc.device import ComDevice, Pump
from drivers.bbraun_bcc.framer import BccFramer
from drivers.bbraun_bcc.frames import BccFrame, FrameError
from drivers.bbraun_bcc.rack import general_records
from drivers.bbraun_bcc.records import (
    Record,
    alive_request,
    mem_get_request,
    mem_get_slot_request,
    split_records,
    version_request,
)
from drivers.readings import PumpFlags
from tests.drivers.bbraun_bcc.harness import WALL0

BED = "ComSystem"
ACK, NAK = b"\x06", b"\x15"
KETAMINE = Pump(
    rate_ml_h=75.0,
    vtbi_ml=50.0,
    infused_ml=12.5,
    drug="Ketamine 35mg/50ml",
    drug_short="Ketamine",
    concentration=0.7,
    dose_rate=0.75,
    pressure_pct=12,
    running=True,
)


def blocks(data: bytes, stuffing: bool = True) -> list[BccFrame]:
    items = BccFramer(stuffing=stuffing).feed(data)
    assert all(isinstance(item, BccFrame) for item in items), items
    return [item for item in items if isinstance(item, BccFrame)]


def only_block(data: bytes) -> BccFrame:
    (frame,) = blocks(data)
    return frame


def records(data: bytes) -> list[tuple[str, str, str | None]]:
    return [(r.address, r.parameter, r.value) for r in split_records(only_block(data).information)]


def test_alive_with_bed_one_or_its_own_name() -> None:
    device = ComDevice({"11": KETAMINE})
    for bed in ("1", BED):
        answer = only_block(device.receive(alive_request(bed).to_bytes(), 3605))
        assert answer == BccFrame(BED, b"3605,50100,GNACK,0")
    assert records(device.receive(alive_request("Other").to_bytes(), 1)) == [
        ("50100", "GNERR", "68")
    ]


def test_other_requests_need_the_real_bed_id() -> None:
    device = ComDevice({"11": KETAMINE})
    assert records(device.receive(mem_get_request("1").to_bytes(), 1)) == [("50100", "GNERR", "68")]


def test_version_has_three_fields() -> None:
    answer = ComDevice().receive(version_request(BED).to_bytes(), 207)
    assert only_block(answer).information == b"207,50100,V3.30"


@pytest.mark.parametrize(
    "request_bytes",
    [
        BccFrame(BED, b"MEM:PUT").to_bytes(),
        alive_request().to_bytes()[:-3] + b"99\x04",  # checksum
        b"\x01garbage\x04",
    ],
)
def test_bad_requests_get_gnerr_68(request_bytes: bytes) -> None:
    device = ComDevice({"11": KETAMINE})
    assert records(device.receive(request_bytes, 9)) == [("50100", "GNERR", "68")]


def test_mem_get_one_block_per_pump_in_slot_order_after_each_ack() -> None:
    device = ComDevice({"21": Pump(), "1A": Pump(), "11": KETAMINE, "19": Pump()})
    first = only_block(device.receive(mem_get_request(BED).to_bytes(), 3611))
    sent = [first]
    while device.answering:
        data = device.receive(ACK, 3611)
        if data:
            sent.append(only_block(data))
    assert [frame.last for frame in sent] == [False, False, False, True]
    slots = [{r.slot for r in split_records(frame.information) if r.slot != "00"} for frame in sent]
    assert slots == [{"11"}, {"19"}, {"1A"}, {"21"}]
    first_records = split_records(first.information)
    assert [r.parameter for r in first_records[:6]] == [
        "FMNOR",
        "FMSTAT",
        "FMDONGLE",
        "FMBANY",
        "FMRT",
        "FMRSTAT",
    ]
    assert first_records[4].value == "FMS3S1NS"
    assert first_records[6] == Record(3611, "50111", "GNMODEL", "688F030006")
    assert all(r.slot != "00" for frame in sent[1:] for r in split_records(frame.information))
    assert device.receive(ACK, 3612) == b""  # nothing left to acknowledge


def test_nak_resends_the_same_block_and_a_new_request_restarts() -> None:
    device = ComDevice({"11": KETAMINE, "12": Pump()})
    first = device.receive(mem_get_request(BED).to_bytes(), 10)
    assert device.receive(NAK, 11) == first
    second = device.receive(ACK, 11)
    assert device.receive(NAK, 12) == second
    restarted = device.receive(mem_get_request(BED).to_bytes(), 20)
    assert only_block(restarted).last is False
    assert {r.slot for r in split_records(only_block(restarted).information)} == {"00", "11"}
    assert records(restarted)[0] == ("50100", "FMNOR", "1")


def test_ack_and_nak_without_an_answer_are_ignored() -> None:
    device = ComDevice({"11": KETAMINE})
    assert device.receive(ACK + NAK, 1) == b""


def test_no_pumps_is_gnerr_11() -> None:
    assert records(ComDevice().receive(mem_get_request(BED).to_bytes(), 5)) == [
        ("50100", "GNERR", "11")
    ]


def test_inserted_pump_says_gnnew_once() -> None:
    device = ComDevice({"11": KETAMINE})
    device.set_pumps({"11": KETAMINE, "12": Pump(model="686L030007")})
    device.receive(mem_get_request(BED).to_bytes(), 1)
    new = records(device.receive(ACK, 1))
    assert new[0] == ("50112", "GNNEW", "686L030007")
    device.receive(mem_get_request(BED).to_bytes(), 2)
    assert records(device.receive(ACK, 2))[0] == ("50112", "GNMODEL", "686L030007")


def test_removed_pump_is_reported_once_with_gnerr_39() -> None:
    device = ComDevice({"11": KETAMINE, "12": Pump()})
    device.set_pumps({"11": KETAMINE})
    first = records(device.receive(mem_get_request(BED).to_bytes(), 1))
    assert ("50112", "GNERR", "39") in first
    assert only_block(device.receive(mem_get_request(BED).to_bytes(), 2)).last is True
    assert not any(
        p == "GNERR" for _, p, _ in records(device.receive(mem_get_request(BED).to_bytes(), 3))
    )


def test_last_pump_removed() -> None:
    device = ComDevice({"11": KETAMINE})
    device.set_pumps({})
    assert records(device.receive(mem_get_request(BED).to_bytes(), 1)) == [
        ("50100", "GNERR", "11"),
        ("50111", "GNERR", "39"),
    ]


def test_reinserted_pump_is_not_reported_removed() -> None:
    device = ComDevice({"11": KETAMINE})
    device.set_pumps({})
    device.set_pumps({"11": KETAMINE})
    answer = records(device.receive(mem_get_request(BED).to_bytes(), 1))
    assert ("50111", "GNERR", "39") not in answer
    assert ("50111", "GNNEW", "688F030006") in answer


def test_get_slot() -> None:
    device = ComDevice({"11": KETAMINE, "12": Pump()})
    answer = only_block(device.receive(mem_get_slot_request(BED, "12").to_bytes(), 4))
    assert answer.last is True
    assert {r.slot for r in split_records(answer.information)} == {"00", "12"}
    assert records(device.receive(mem_get_slot_request(BED, "13").to_bytes(), 4)) == [
        ("50113", "GNERR", "811")
    ]
    wrong = BccFrame(BED, b"MEM:GETSLOT#9Z").to_bytes()
    assert records(device.receive(wrong, 4)) == [("50100", "GNERR", "811")]
    device.set_pumps({"11": KETAMINE})
    assert records(device.receive(mem_get_slot_request(BED, "12").to_bytes(), 5)) == [
        ("50112", "GNERR", "39")
    ]


def test_corrupted_block_then_intact_copy_after_nak() -> None:
    device = ComDevice({"11": KETAMINE})
    device.corrupt_next_block()
    spoiled = device.receive(mem_get_request(BED).to_bytes(), 1)
    assert BccFramer().feed(spoiled) == [BadFrame("checksum mismatch")]
    assert only_block(device.receive(NAK, 1)).last is True


def test_muted_device_says_nothing() -> None:
    device = ComDevice({"11": KETAMINE})
    device.muted = True
    assert device.receive(alive_request().to_bytes(), 1) == b""


def test_without_stuffing() -> None:
    device = ComDevice({"11": KETAMINE}, stuffing=False)
    data = device.receive(mem_get_request(BED).to_bytes(stuffing=False), 1)
    assert b"ComSystem" in data
    assert blocks(data, stuffing=False)[0].bed_id == BED


def test_invalid_setup() -> None:
    with pytest.raises(ValueError, match="not a pump slot"):
        ComDevice({"41": Pump()})
    with pytest.raises(FrameError):
        ComDevice(bed_id="bed 7")
    with pytest.raises(FrameError):
        ComDevice().bed_id = "x" * 16
    with pytest.raises(ValueError, match="RS"):
        ComDevice({"11": Pump(drug="a\x1eb")})
    with pytest.raises(FrameError, match="control byte"):
        ComDevice({"11": Pump(extra=(("INSOL", "a\x04"),))})


def test_pump_state_survives_the_trip_to_a_reading() -> None:
    pump = Pump(
        rate_ml_h=2.5,
        vtbi_ml=20.0,
        infused_ml=5.0,
        drug="Noradrenalin, 5 mg/50 ml",
        dose_rate=0.08,
        dose_rate_unit=71,
        pressure_pct=40,
        kvo=True,
        occlusion=True,
        near_end=True,
        battery_low=True,
        extra=(("VOLREMAIN", "14.90"),),
    )
    device = ComDevice({"1A": pump})
    data = device.receive(mem_get_request(BED).to_bytes(), 100)
    frame = only_block(data)
    block = Block(split_records(frame.information), Instant(0.0, WALL0))
    (reading,) = decode_answer([block], [DeviceTarget("p", "b", "1A")]).readings
    assert reading.value("MDC_FLOW_FLUID_PUMP") == 2.5
    assert reading.value("MDC_VOL_FLUID_DELIV") == 5.0
    assert reading.value("MDC_VOL_FLUID_TBI_REMAIN") == 14.9
    assert reading.value("MDC_TIME_PD_REMAIN") == 21600
    assert reading.value("X_BBRAUN_PRESS_REL_ALARM") == 40
    assert [(o.value, o.unit) for o in reading.observations if o.code == "MDC_RATE_DOSE"] == [
        (0.08, "ug/kg/min")
    ]
    assert reading.pump.state == "alarm"
    assert reading.pump.drug == "Noradrenalin, 5 mg/50 ml"
    assert reading.pump.flags == PumpFlags(occlusion=True, near_end=True, battery=True)


def test_remaining_time_and_rack_layout() -> None:
    assert Pump().remaining_time_s == 65535
    assert Pump(rate_ml_h=10.0, vtbi_ml=5.0).remaining_time_s == 1800
    assert Pump(rate_ml_h=0.1, vtbi_ml=9999.0).remaining_time_s == 65535
    layout = {r.parameter: r.value for r in general_records({"11": Pump(), "35": Pump()}, 0)}
    assert (layout["FMNOR"], layout["FMRT"]) == ("3", "FMS1NSS2")
    layout = {r.parameter: r.value for r in general_records({}, 0)}
    assert (layout["FMNOR"], layout["FMRT"]) == ("1", "FMNSNSNS")
