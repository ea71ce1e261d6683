"""A shipped scenario run end to end (simulated devices, link sessions, the alarm engine) and
turned into the MQTT messages its edge publishes, by the edge's own outbox writer, for the
dashboard's history tests. The scenario's minute 0 is placed 2 h 10 min ago, so the session
has closed and is within the history's retention."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import aiomqtt

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.engine import EngineEvent
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.publish.outbox import Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import EnvelopeFactory
from edge.publish.topics import Topics
from tests.scenario_harness import KETAMINE_ORDER, BedSimulation, VirtualClock, bed_config
from tests.scenario_harness import shipped_scenario as load_scenario

__all__ = ["BED", "LABEL", "PREFIX", "SITE", "Played", "played", "publish_all"]

PREFIX = "infusion-edge/v1"
SITE = "sim-site"
BED = "chair-1"
LABEL = "Chair 1"
AGO = timedelta(hours=2, minutes=10)


@dataclass(frozen=True)
class Played:
    """A scenario's run: what happened, and the messages its edge published, in order."""

    sim: BedSimulation
    wall0: datetime
    messages: list[tuple[str, bytes, bool]]  # topic, payload, retained

    def sessions(self) -> list[SessionEvent]:
        return [s.event for s in self.sim.events if isinstance(s.event, SessionEvent)]

    def alarms(self) -> list[AlarmEvent]:
        return [s.event for s in self.sim.events if isinstance(s.event, AlarmEvent)]


@functools.cache
def played(name: str) -> Played:
    """The shipped scenario ``name`` run once per test process."""
    wall0 = (datetime.now(UTC) - AGO).replace(microsecond=0)
    scenario = load_scenario(name)
    sim = BedSimulation(scenario, bed_config(scenario, KETAMINE_ORDER), clock=VirtualClock(wall0))
    sim.run()
    assert sim.config is not None
    assert sim.config.site == SITE
    timed: list[tuple[datetime, int, PumpReading | VitalsReading | EngineEvent]] = [
        (reading.ts, 0, reading) for reading in sim.readings
    ]
    timed += [(seen.event.at, 1, seen.event) for seen in sim.events]
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    writer = OutboxWriter(
        cast(Outbox, None),  # messages_for never touches the outbox
        Topics(PREFIX, SITE),
        EnvelopeFactory("edge-sim"),
        labels={BED: LABEL},
    )
    messages = [
        (m.topic, m.payload, m.retain) for _, _, item in timed for m in writer.messages_for(item)
    ]
    return Played(sim, wall0, messages)


async def publish_all(url: str, messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish ``messages`` in order at QoS 1 to the broker at ``url``."""
    host, port = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port), max_queued_outgoing_messages=None) as client:
        for topic, payload, retain in messages:
            await client.publish(topic, payload, qos=1, retain=retain)
