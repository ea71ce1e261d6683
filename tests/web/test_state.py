"""The live state and the topic parser: pure, fed with payloads built by the contract's own
models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.publish.payloads import AlarmPayload, EnvelopeFactory, VitalsTelemetry
from edge.web.inbound import Inbound, parse_topic
from edge.web.state import LiveState
from tests.web.edges import hypertension

PREFIX = "infusion-edge/v1"
T0 = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)
ENVELOPES = EnvelopeFactory("edge-a", session="s1")


def alarm_message(site: str = "north", ts: datetime = T0, **fields: Any) -> tuple[str, bytes]:
    alarm = hypertension("bed-1", raised_at=T0, **fields)
    payload = AlarmPayload.model_validate(
        {**ENVELOPES.fields(AlarmPayload, ts), **alarm.model_dump()}
    )
    return f"{PREFIX}/{site}/beds/bed-1/alarms/{alarm.alarm_id}", payload.to_json()


def vitals_message(sbp: float, ts: datetime, nibp_ts: datetime | None = None) -> tuple[str, bytes]:
    payload = VitalsTelemetry.model_validate(
        {
            **ENVELOPES.fields(VitalsTelemetry, ts),
            "device_id": "monitor-1",
            "bed": "bed-1",
            "observations": [
                {"code": "MDC_PRESS_BLD_NONINV_SYS", "value": sbp, "unit": "mm[Hg]", "ts": nibp_ts},
                {"code": "MDC_ECG_HEART_RATE", "value": None, "unit": "/min", "state": "invalid"},
                {"code": "MDC_PULS_OXIM_PULS_RATE", "value": 77, "unit": "/min"},
            ],
        }
    )
    return f"{PREFIX}/north/beds/bed-1/devices/monitor-1/telemetry", payload.to_json()


def test_topics_of_every_site_are_parsed_and_the_rest_ignored() -> None:
    assert parse_topic(PREFIX, f"{PREFIX}/north/edges/e1/status") == Inbound(
        "status", "north", edge_id="e1"
    )
    assert parse_topic(PREFIX, f"{PREFIX}/south/beds/b.2/alarms/b.2.-.rule.X") == Inbound(
        "alarm", "south", bed="b.2", alarm_id="b.2.-.rule.X"
    )
    assert parse_topic(PREFIX, f"{PREFIX}/s/beds/b/devices/d/state") == Inbound(
        "device_state", "s", bed="b", device_id="d"
    )
    for ignored in (
        f"{PREFIX}/s/beds/b/alarms/a/ack",
        f"{PREFIX}/s/alarm-log",
        f"{PREFIX}/s/beds//session",
        "other/prefix/s/beds/b/session",
    ):
        assert parse_topic(PREFIX, ignored) is None, ignored


def test_an_alarm_is_shown_updated_and_removed_by_an_empty_payload() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    changes = state.apply(topic, payload)
    assert [c.type for c in changes] == ["bed", "alarm"]
    [alarm] = state.sorted_alarms()
    assert alarm["key"].startswith("north/bed-1.monitor-1.hypertension.")
    assert alarm["site"] == "north"
    assert state.apply(topic, payload) == []  # a duplicate changes nothing
    acked = alarm_message(
        ts=T0 + timedelta(seconds=5),
        state="acknowledged",
        acknowledged_by="nurse.kim",
        acknowledged_at=T0 + timedelta(seconds=5),
    )
    assert [c.type for c in state.apply(*acked)] == ["alarm"]
    assert state.sorted_alarms()[0]["acknowledged_by"] == "nurse.kim"
    assert state.apply(topic, payload) == []  # older than what is held
    assert [c.type for c in state.apply(topic, b"")] == ["alarm_removed"]
    assert state.apply(*acked) == []  # a late duplicate of an ended alarm stays ended
    assert state.alarms == {}


def test_the_same_alarm_id_in_two_sites_is_two_alarms() -> None:
    state = LiveState(PREFIX)
    state.apply(*alarm_message("north"))
    state.apply(*alarm_message("south"))
    alarm_id = state.sorted_alarms()[0]["alarm_id"]
    assert len(state.find_alarms(alarm_id)) == 2
    assert [a["site"] for a in state.find_alarms(alarm_id, "south")] == ["south"]


def test_vitals_keep_the_newest_value_with_its_measurement_time() -> None:
    state = LiveState(PREFIX)
    nibp = T0 - timedelta(minutes=3)
    state.apply(*vitals_message(150, T0, nibp_ts=nibp))
    older = nibp - timedelta(minutes=5)
    state.apply(*vitals_message(130, T0 - timedelta(seconds=30), nibp_ts=older))  # replayed
    bed = state.bed_list()[0]
    assert bed["vitals"]["sbp"]["value"] == 150
    assert bed["vitals"]["sbp"]["ts"] == nibp.isoformat()
    assert bed["vitals"]["hr"]["value"] == 77  # ECG invalid: the pulse rate stands in
    assert bed["vitals"]["hr"]["code"] == "MDC_PULS_OXIM_PULS_RATE"
    assert bed["edge_id"] == "edge-a"


def test_an_invalid_payload_is_counted_and_skipped() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    broken = json.loads(payload)
    broken["priority"] = "urgent"
    assert state.apply(topic, json.dumps(broken).encode()) == []
    assert state.apply(f"{PREFIX}/north/edges/e/status", b"not json") == []
    assert (state.received, state.rejected) == (2, 2)
    assert state.alarms == {}


def test_after_a_reconnect_alarms_the_broker_no_longer_holds_are_removed() -> None:
    state = LiveState(PREFIX)
    kept, gone = alarm_message("north"), alarm_message("south")
    state.apply(*kept)
    state.apply(*gone)
    state.begin_resync()
    state.apply(*kept)  # the broker sends what it retains again
    changes = state.end_resync()
    assert [(c.type, c.data["key"].split("/")[0]) for c in changes] == [("alarm_removed", "south")]
    assert [a["site"] for a in state.sorted_alarms()] == ["north"]
