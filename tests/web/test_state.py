"""The live state and the topic parser: pure, fed with payloads built by the contract's own
models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.publish.payloads import (
    AlarmDigestPayload,
    AlarmPayload,
    DeviceStatePayload,
    EnvelopeFactory,
    SessionPayload,
    VitalsTelemetry,
)
from edge.web.inbound import Inbound, parse_topic
from edge.web.state import LiveState
from tests.web.edges import hypertension

PREFIX = "infusion-edge/v1"
T0 = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)
ENVELOPES = EnvelopeFactory("edge-a", session="s1")


def alarm_message(
    site: str = "north",
    ts: datetime = T0,
    envelopes: EnvelopeFactory = ENVELOPES,
    bed: str = "bed-1",
    **fields: Any,
) -> tuple[str, bytes]:
    alarm = hypertension(bed, raised_at=T0, **fields)
    payload = AlarmPayload.model_validate(
        {**envelopes.fields(AlarmPayload, ts), **alarm.model_dump()}
    )
    return f"{PREFIX}/{site}/beds/{bed}/alarms/{alarm.alarm_id}", payload.to_json()


def digest_message(
    *beds: str, ts: datetime = T0, envelopes: EnvelopeFactory = ENVELOPES, site: str = "north"
) -> tuple[str, bytes]:
    """The digest of ``envelopes``' edge listing the hypertension alarms of ``beds``."""
    listed = [{"alarm_id": hypertension(bed, raised_at=T0).alarm_id, "bed": bed} for bed in beds]
    payload = AlarmDigestPayload.model_validate(
        {**envelopes.fields(AlarmDigestPayload, ts), "open": listed}
    )
    return f"{PREFIX}/{site}/edges/{envelopes.edge_id}/alarms", payload.to_json()


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
    assert parse_topic(PREFIX, f"{PREFIX}/north/edges/e1/alarms") == Inbound(
        "alarm_digest", "north", edge_id="e1"
    )
    assert parse_topic(PREFIX, f"{PREFIX}/s/beds/b/devices/d/state") == Inbound(
        "device_state", "s", bed="b", device_id="d"
    )
    assert parse_topic(PREFIX, f"{PREFIX}/s/alarm-log") == Inbound("alarm_log", "s")
    for ignored in (
        f"{PREFIX}/s/beds/b/alarms/a/ack",
        f"{PREFIX}/s/beds//session",
        "other/prefix/s/beds/b/session",
    ):
        assert parse_topic(PREFIX, ignored) is None, ignored


def test_an_alarm_is_shown_updated_and_removed_by_its_ended_state() -> None:
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
    assert state.apply(topic, b"") == []  # the broker's copy cleared: not an end
    assert len(state.alarms) == 1
    ended = alarm_message(ts=T0 + timedelta(seconds=9), state="ended", ended_at=T0)
    assert [c.type for c in state.apply(*ended)] == ["alarm_removed"]
    assert state.apply(topic, b"") == []
    assert state.apply(*acked) == []  # a late duplicate of an ended alarm stays ended
    assert state.alarms == {}


def test_an_empty_retained_message_alone_never_removes_an_alarm() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    state.apply(topic, payload)
    for _ in range(3):
        assert state.apply(topic, b"") == []
    assert state.apply(f"{PREFIX}/north/edges/edge-a/alarms", b"") == []  # an erased digest
    assert [a["alarm_id"] for a in state.sorted_alarms()] == [topic.rpartition("/")[2]]


def test_a_republished_alarm_changes_nothing_the_browsers_see() -> None:
    state = LiveState(PREFIX)
    state.apply(*alarm_message())
    assert state.apply(*alarm_message(ts=T0 + timedelta(seconds=30))) == []
    assert state.sorted_alarms()[0]["ts"] == "2026-03-14T09:15:30Z"  # held: the newest


def test_a_digest_removes_older_alarms_it_leaves_out_but_not_newer_ones() -> None:
    envelopes = EnvelopeFactory("edge-a", session="s1")
    state = LiveState(PREFIX)
    old, kept = alarm_message(envelopes=envelopes), alarm_message(envelopes=envelopes, bed="b2")
    state.apply(*old)
    state.apply(*kept)
    digest = digest_message("b2", envelopes=envelopes)
    raised_later = alarm_message(envelopes=envelopes, bed="b3")
    changes = state.apply(*digest)
    assert [(c.type, c.data["key"]) for c in changes] == [
        ("alarm_removed", f"north/{hypertension('bed-1', raised_at=T0).alarm_id}")
    ]
    state.apply(*raised_later)  # raised after the digest: it stays
    assert {a["bed"] for a in state.sorted_alarms()} == {"b2", "b3"}
    assert state.apply(*old) == []  # a late copy of the removed alarm stays removed
    assert state.apply(*digest) == []  # the same digest again: nothing more
    assert {a["bed"] for a in state.sorted_alarms()} == {"b2", "b3"}


def test_an_alarm_older_than_the_digest_held_and_not_in_it_is_not_shown() -> None:
    envelopes = EnvelopeFactory("edge-a", session="s1")
    stale, listed = alarm_message(envelopes=envelopes), alarm_message(envelopes=envelopes, bed="b2")
    state = LiveState(PREFIX)
    state.apply(*digest_message("b2", envelopes=envelopes))  # retained: any order on connect
    assert state.apply(*stale) == []
    state.apply(*listed)
    assert [a["bed"] for a in state.sorted_alarms()] == ["b2"]


def test_a_digest_of_another_edge_leaves_the_alarm_alone() -> None:
    state = LiveState(PREFIX)
    state.apply(*alarm_message())
    state.apply(*digest_message(envelopes=EnvelopeFactory("edge-b", session="x")))
    assert len(state.alarms) == 1


def test_an_alarm_removed_by_a_digest_comes_back_when_republished() -> None:
    envelopes = EnvelopeFactory("edge-a", session="s1")
    state = LiveState(PREFIX)
    state.apply(*alarm_message(envelopes=envelopes))
    state.apply(*digest_message(envelopes=envelopes))  # as if the edge had lost it
    assert state.alarms == {}
    state.apply(*digest_message("bed-1", envelopes=envelopes))  # listed again
    assert [c.type for c in state.apply(*alarm_message(envelopes=envelopes))] == ["alarm"]
    assert len(state.alarms) == 1


def test_a_newer_message_brings_back_an_alarm_an_ended_copy_removed() -> None:
    envelopes = EnvelopeFactory("edge-a", session="s1")
    state = LiveState(PREFIX)
    state.apply(*alarm_message(envelopes=envelopes, state="ended", ended_at=T0))
    assert state.alarms == {}
    assert [c.type for c in state.apply(*alarm_message(envelopes=envelopes))] == ["bed", "alarm"]


def test_an_edge_restart_with_a_new_session_is_ordered_by_time() -> None:
    before = EnvelopeFactory("edge-a", session="s1", first_seq=500)
    after = EnvelopeFactory("edge-a", session="s2")
    restarted = T0 + timedelta(minutes=2)
    state = LiveState(PREFIX)
    state.apply(*alarm_message(envelopes=before, ts=T0))
    state.apply(*alarm_message(envelopes=before, bed="b2", ts=T0))
    state.apply(*digest_message("bed-1", "b2", envelopes=before, ts=T0))
    # The new session republishes bed-1 (restored) at its start, seq 1: newer by its time.
    republished = alarm_message(envelopes=after, ts=restarted)
    state.apply(*republished)
    assert state.sorted_alarms()[0]["session"] == "s2"
    changes = state.apply(*digest_message("bed-1", envelopes=after, ts=restarted))
    assert [c.type for c in changes] == ["alarm_removed"]  # b2: not restored
    assert [a["bed"] for a in state.sorted_alarms()] == ["bed-1"]
    # A late copy from the old session is older, whatever its seq.
    late = alarm_message(envelopes=before, ts=T0 + timedelta(seconds=1), state="latched")
    assert state.apply(*late) == []
    assert state.sorted_alarms()[0]["state"] == "active"


def test_a_payload_on_another_alarms_topic_is_refused() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    assert state.apply(topic.replace("hypertension", "spo2_low"), payload) == []
    assert state.rejected == 1
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


def device_state_message(connection: str, ts: datetime) -> tuple[str, bytes]:
    payload = DeviceStatePayload.model_validate(
        {
            **ENVELOPES.fields(DeviceStatePayload, ts),
            "device_id": "monitor-1",
            "bed": "bed-1",
            "driver": "intellivue",
            "connection": connection,
            "since": ts,
            "last_reading_at": None,
            "frames_ok": 0,
            "frames_bad": 0,
            "reconnects": 0,
        }
    )
    return f"{PREFIX}/north/beds/bed-1/devices/monitor-1/state", payload.to_json()


def test_a_late_copy_of_a_device_state_does_not_replace_the_newer_one() -> None:
    """A bridge's draining backlog can deliver an older retained state after a newer one."""
    state = LiveState(PREFIX)
    older = device_state_message("offline", T0)
    newer = device_state_message("online", T0 + timedelta(seconds=5))
    state.apply(*newer)
    assert state.apply(*older) == []
    [device] = state.bed_list()[0]["devices"]
    assert device["connection"] == "online"
    topic, _ = newer
    state.apply(topic, b"")  # the broker's copy cleared: the device is forgotten, and its
    assert state.bed_list() == []  # bed with it, since nothing else of it is retained
    assert state.apply(*older) != []  # and a state after the clear is taken again
    assert state.bed_list()[0]["devices"][0]["connection"] == "offline"


def session_message(ts: datetime) -> tuple[str, bytes]:
    payload = SessionPayload.model_validate(
        {
            **ENVELOPES.fields(SessionPayload, ts),
            "session_id": "bed-1.s1",
            "bed": "bed-1",
            "phase": "closed",
            "started_at": T0 - timedelta(hours=1),
            "closed_at": ts,
        }
    )
    return f"{PREFIX}/north/beds/bed-1/session", payload.to_json()


def test_a_bed_its_edge_cleared_is_removed_and_a_later_message_brings_it_back() -> None:
    """A reload removed the bed: the edge clears its devices' states, then its session."""
    state = LiveState(PREFIX)
    device, session = device_state_message("online", T0), session_message(T0)
    state.apply(*device)
    state.apply(*session)
    alarm = alarm_message()
    state.apply(*alarm)
    assert [c.type for c in state.apply(device[0], b"")] == ["bed"]  # the session is still there
    assert [c.type for c in state.apply(session[0], b"")] == ["bed"]  # an alarm is still open
    assert [b["key"] for b in state.bed_list()] == ["north/bed-1"]
    ended = alarm_message(ts=T0 + timedelta(seconds=1), state="ended", ended_at=T0)
    changes = state.apply(*ended)  # its last alarm ends (a nurse acknowledged it)
    assert [(c.type, c.data["key"]) for c in changes] == [
        ("alarm_removed", f"north/{hypertension('bed-1', raised_at=T0).alarm_id}"),
        ("bed_removed", "north/bed-1"),
    ]
    assert state.bed_list() == []
    assert state.snapshot()["beds"] == []
    assert state.apply(session[0], b"") == []  # nothing held: nothing to say
    assert state.apply(device[0], b"") == []
    state.apply(*device_state_message("online", T0 + timedelta(seconds=1)))
    assert [b["key"] for b in state.bed_list()] == ["north/bed-1"]


def test_a_bed_that_only_an_alarm_brought_stays_when_the_alarm_ends() -> None:
    """A bed its edge never cleared (known from an alarm alone) keeps its card."""
    state = LiveState(PREFIX)
    state.apply(*alarm_message())
    ended = alarm_message(ts=T0 + timedelta(seconds=1), state="ended", ended_at=T0)
    assert [c.type for c in state.apply(*ended)] == ["alarm_removed"]
    assert [b["key"] for b in state.bed_list()] == ["north/bed-1"]


def test_an_invalid_payload_is_counted_and_skipped() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    broken = json.loads(payload)
    broken["priority"] = "urgent"
    assert state.apply(topic, json.dumps(broken).encode()) == []
    assert state.apply(f"{PREFIX}/north/edges/e/status", b"not json") == []
    assert (state.received, state.rejected) == (2, 2)
    assert state.alarms == {}


def _with_unknown_keys(payload: bytes) -> bytes:
    """``payload`` as a newer edge could send it: a key this version does not know at the top
    and in every nested object."""

    def add(value: Any) -> Any:
        if isinstance(value, dict):
            return {**{k: add(v) for k, v in value.items()}, "added_later": {"x": 1}}
        if isinstance(value, list):
            return [add(v) for v in value]
        return value

    return json.dumps(add(json.loads(payload))).encode()


def test_a_newer_edges_unknown_keys_are_ignored_and_its_alarm_and_vitals_shown() -> None:
    state = LiveState(PREFIX)
    topic, payload = alarm_message()
    assert [c.type for c in state.apply(topic, _with_unknown_keys(payload))] == ["bed", "alarm"]
    [alarm] = state.sorted_alarms()
    assert "added_later" not in alarm
    vitals_topic, vitals = vitals_message(172, T0)
    assert [c.type for c in state.apply(vitals_topic, _with_unknown_keys(vitals))] == ["bed"]
    assert state.bed_list()[0]["vitals"]["sbp"]["value"] == 172
    assert state.rejected == 0
    # a known key with a wrong value is still refused
    broken = json.loads(payload)
    broken["priority"] = "urgent"
    assert state.apply(topic, json.dumps(broken).encode()) == []
    assert state.rejected == 1
