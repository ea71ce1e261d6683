"""Payload models: the envelope, the contract's names, the schemas integrators get."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.readings import Observation, PumpReading, PumpStatus, VitalsReading
from edge.cli import main
from edge.publish.outbox import Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import (
    EnvelopeFactory,
    PumpTelemetry,
    StatusPayload,
    VitalsTelemetry,
)
from edge.publish.topics import AckTopic, Topics

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_envelope_numbers_messages_from_one_and_status_stays_outside() -> None:
    factory = EnvelopeFactory("edge-1")
    first = factory.fields(PumpTelemetry, NOW)
    second = factory.fields(PumpTelemetry, NOW)
    status = factory.status_fields(StatusPayload, NOW)
    assert (first["seq"], second["seq"], status["seq"]) == (1, 2, 0)
    assert first["session"] == status["session"]
    assert EnvelopeFactory("edge-1").session != factory.session


def test_telemetry_json_carries_the_reading_and_the_envelope() -> None:
    reading = PumpReading(
        device_id="pump-1",
        bed="bed-1",
        ts=NOW,
        pump=PumpStatus(state="infusing"),
        observations=(Observation(code="MDC_FLOW_FLUID_PUMP", value=52.5, unit="mL/h"),),
    )
    fields = EnvelopeFactory("edge-1").fields(PumpTelemetry, reading.ts)
    body = json.loads(PumpTelemetry.model_validate({**fields, **dict(reading)}).to_json())
    assert body["schema"] == "infusion-edge.telemetry/1"
    assert body["ts"] == "2026-11-24T10:00:00Z"
    assert body["observations"][0] == {
        "code": "MDC_FLOW_FLUID_PUMP",
        "value": 52.5,
        "unit": "mL/h",
        "state": "valid",
        "ts": None,
    }
    assert body["pump"]["state"] == "infusing"
    assert body["conditions"] == []


@pytest.mark.parametrize("kind", ["pump", "vitals"])
def test_the_writers_telemetry_bytes_are_the_models_payload_with_the_next_seq(kind: str) -> None:
    """The writer splices the envelope and the reading's own JSON: the same object as the
    payload model gives, which validates against it, numbered in sequence."""
    observation = Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=141.0, unit="mm[Hg]", ts=NOW)
    reading: PumpReading | VitalsReading = (
        PumpReading(device_id="p-1", bed='b"1', ts=NOW, pump=PumpStatus(state="kvo"))
        if kind == "pump"
        else VitalsReading(device_id="m-1", bed="b-1", ts=NOW, observations=(observation,))
    )
    envelopes = EnvelopeFactory('edge-"1')
    outbox = Outbox(Path("/nonexistent/o.sqlite"), 10, 10)  # never opened
    writer = OutboxWriter(outbox, Topics("infusion-edge/v1", "north"), envelopes)
    first, second = (writer.messages_for(reading)[0].payload for _ in range(2))
    model = PumpTelemetry if kind == "pump" else VitalsTelemetry
    reference = EnvelopeFactory('edge-"1', session=envelopes.session, first_seq=2)
    expected = model.model_validate({**reference.fields(model, NOW), **dict(reading)})
    assert json.loads(second) == json.loads(expected.to_json())
    assert model.model_validate_json(second) == expected
    assert json.loads(first)["seq"] == 1


def test_vitals_telemetry_publishes_the_device_conditions() -> None:
    reading = VitalsReading(
        device_id="ox-1",
        bed="bed-1",
        ts=NOW,
        observations=(
            Observation(code="MDC_PULS_OXIM_SAT_O2", value=None, unit="%", state="unavailable"),
        ),
        conditions=("sensor_off",),
    )
    fields = EnvelopeFactory("edge-1").fields(VitalsTelemetry, reading.ts)
    body = json.loads(VitalsTelemetry.model_validate({**fields, **dict(reading)}).to_json())
    assert body["conditions"] == ["sensor_off"]
    schema = VitalsTelemetry.model_json_schema()
    assert "sensor_off" in json.dumps(schema["properties"]["conditions"])


def test_topics_follow_the_contract() -> None:
    topics = Topics("infusion-edge/v1", "north")
    assert topics.status("e1") == "infusion-edge/v1/north/edges/e1/status"
    assert topics.alarm_digest("e1") == "infusion-edge/v1/north/edges/e1/alarms"
    assert topics.telemetry("b1", "p1") == "infusion-edge/v1/north/beds/b1/devices/p1/telemetry"
    assert topics.device_state("b1", "p1") == "infusion-edge/v1/north/beds/b1/devices/p1/state"
    assert topics.alarm("b1", "a.1") == "infusion-edge/v1/north/beds/b1/alarms/a.1"
    assert topics.alarm_log() == "infusion-edge/v1/north/alarm-log"
    assert topics.session("b1") == "infusion-edge/v1/north/beds/b1/session"
    assert topics.parse_ack(topics.alarm_ack("b1", "a.1")) == AckTopic("b1", "a.1")


@pytest.mark.parametrize(
    "topic",
    [
        "infusion-edge/v1/north/beds/b1/alarms/a.1",
        "infusion-edge/v1/south/beds/b1/alarms/a.1/ack",
        "infusion-edge/v1/north/beds//alarms/a.1/ack",
        "infusion-edge/v1/north/beds/b1/alarms/a.1/ack/x",
    ],
)
def test_other_topics_are_not_acknowledgements(topic: str) -> None:
    assert Topics("infusion-edge/v1", "north").parse_ack(topic) is None


def test_cli_prints_every_payload_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    for name in (
        "telemetry (pump)",
        "telemetry (vitals)",
        "device state",
        "edge status",
        "alarm digest",
    ):
        assert {"schema", "edge_id", "session", "seq", "ts"} <= set(schemas[name]["properties"])
