"""The dashboard reconciles its alarms with each edge's digest over a real Mosquitto: an alarm
that ended while the dashboard was away leaves, an empty retained message erases nothing, and
an alarm republished by its edge is shown again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from edge.backoff import Backoff
from edge.web.mqtt_view import MqttFeed
from edge.web.state import LiveState
from tests.mosquitto import Mosquitto
from tests.web.edges import PREFIX, fake_edge, hypertension
from tests.web.helpers import eventually, web_config
from tests.web.serving import served

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def feeding(mosquitto: Mosquitto, state: LiveState) -> AsyncIterator[MqttFeed]:
    """A dashboard feed into ``state``, connected, until the block ends."""
    config = web_config(mosquitto.url)
    feed = MqttFeed(config.mqtt, "dash-1", state, lambda _: None, Backoff(0.1, 0.5))
    task = asyncio.create_task(feed.run(), name="test-feed")
    try:
        await eventually(lambda: feed.connected)
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_alarm_that_ended_while_the_dashboard_was_away_leaves_by_the_digest(
    mosquitto: Mosquitto,
) -> None:
    kept, gone = hypertension("bed-1"), hypertension("bed-2")
    state = LiveState(PREFIX)
    async with fake_edge(mosquitto.port) as edge:
        async with feeding(mosquitto, state):
            await edge.alarm(kept)
            await edge.alarm(gone)
            await edge.digest()
            await eventually(lambda: len(state.alarms) == 2)
        await edge.end_alarm(gone)  # the dashboard is away: it misses the `ended` state
        async with feeding(mosquitto, state):  # back, with what it held
            await eventually(lambda: list(state.alarms) == [f"test-site/{kept.alarm_id}"])


async def test_an_erased_alarm_stays_and_a_republished_one_is_shown_again(
    mosquitto: Mosquitto,
) -> None:
    alarm = hypertension("bed-1")
    async with served(web_config(mosquitto.url)) as server, fake_edge(mosquitto.port) as edge:
        state = server.dashboard.state
        await edge.alarm(alarm)
        await edge.digest()
        await eventually(lambda: len(state.alarms) == 1)
        topic = edge.topics.alarm("bed-1", alarm.alarm_id)
        await edge.client.publish(topic, b"", qos=1, retain=True)  # anybody may do this
        fresh = LiveState(PREFIX)
        async with feeding(mosquitto, fresh):
            await eventually(lambda: fresh.received >= 2)  # the edge status and the digest
            await asyncio.sleep(0.3)
            assert fresh.alarms == {}  # the broker's copy is gone ...
            assert len(state.alarms) == 1  # ... but not from a dashboard that showed it
            await edge.alarm(alarm)  # the edge's next refresh
            await edge.digest()
            await eventually(lambda: len(fresh.alarms) == 1)
        assert list(state.alarms) == [f"test-site/{alarm.alarm_id}"]
