"""The alarm limits in force, per bed, in the bed's larger view of a real Chromium: from the
edge's retained config message on a real broker, read-only, with since when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from edge.config import AlarmsConfig, Config
from edge.publish.payloads import BedLimits, EdgeConfigPayload
from edge.reload.diff import limits_of
from tests.mosquitto import Mosquitto
from tests.web.browser import chromium, log_in
from tests.web.edges import fake_edge
from tests.web.helpers import eventually, web_config
from tests.web.serving import served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SINCE = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def edge_config(medium_below: float, since: datetime) -> EdgeConfigPayload:
    alarms = AlarmsConfig.model_validate(
        {"beds": {"bed-1": {"spo2_low": {"medium_below": medium_below}}}}
    )
    config = Config(site="test-site", edge_id="edge-a", beds={"bed-1": {}}, alarms=alarms)
    return EdgeConfigPayload.model_validate(
        {
            "schema": EdgeConfigPayload.SCHEMA,
            "edge_id": "edge-a",
            "session": "s1",
            "seq": 7,
            "ts": since,
            "config_hash": "ab" * 32,
            "loaded_at": since,
            "beds": {"bed-1": BedLimits(limits=limits_of(config, "bed-1"), since=since)},
        }
    )


async def test_the_larger_view_shows_the_limits_in_force_and_since_when(
    mosquitto: Mosquitto,
) -> None:
    async with served(web_config(mosquitto.url)) as dashboard, chromium() as browser:
        async with fake_edge(mosquitto.port) as edge:
            await edge.session("bed-1")
            await edge.vitals("bed-1", 122, 78)
            older = edge_config(89, SINCE - timedelta(hours=1))  # a late older copy loses
            for payload in (edge_config(91, SINCE), older):
                await edge.client.publish(
                    edge.topics.edge_config("edge-a"), payload.to_json(), qos=1, retain=True
                )
            state = dashboard.dashboard.state
            await eventually(lambda: state.received >= 5 and "test-site/bed-1" in state.limits)
        assert state.limits["test-site/bed-1"]["limits"]["spo2_low"]["medium_below"] == 91

        page = await (await browser.new_context()).new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        await page.locator("article.bed").click()
        limits = page.locator("#trend-limits")
        await expect(limits.locator("time")).to_have_attribute("datetime", SINCE.isoformat())
        row = limits.locator("tr", has_text="SpO2")
        await expect(row).to_contain_text("medium below 91")
        await expect(row).to_contain_text("high below 85")
        await expect(limits.locator("input, button, select")).to_have_count(0)  # read-only

        api = await page.request.get(
            dashboard.url.rstrip("/") + "/api/beds/bed-2/limits?site=test-site"
        )
        assert api.status == 404
