"""One cuff, one measurement, black-box in real time: the IntelliVue simulator over TCP
(``infusion-edge simulate``), the daemon (``infusion-edge run``), a real Mosquitto and a
subscriber on the site's topics.

The monitor repeats its last cuff in every 1 s poll, and the driver ages the cuff's
RelativeTime stamp against each result: one cuff must stay one measurement however many
polls carry it, so one high cuff raises ``hypertension`` medium only, and the high level
needs a second, distinct cuff. The hypertensive-responder scenario runs from just after its
183/113 cuff (minute 36) at 8x speed: its next cuff, 190/114 at minute 39, comes 22.4 s
later in real time (the monitor's clock runs in real time), so about 22 polls carry the
first cuff alone.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import write_config
from tests.integration.test_simulators import REPO, finish, first_line, start_simulate
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

SCENARIO = REPO / "config" / "scenarios" / "hypertensive-responder.yaml"
ROOT = "infusion-edge/v1/test-site/#"
LOG = "infusion-edge/v1/test-site/alarm-log"
TELEMETRY = "/beds/bed-1/devices/monitor-1/telemetry"
SPEED = 8.0
START_MIN = 36.01  # 0.6 scenario s after the 183/113 cuff
SECOND_CUFF_S = (39 - START_MIN) * 60 / SPEED  # real s until the 190/114 cuff: 22.4
STARTUP_S = 15.0  # simulator and daemon start, association, first poll, publish
LATENCY_S = 3.0  # a new cuff shows in the next 1 s poll; engine, outbox, broker: < 1 s
SYS, DIA = "MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA"


def hypertension(subscriber: Subscriber) -> list[dict[str, Any]]:
    entries = [m.json() for m in subscriber.messages if m.topic == LOG]
    return [e for e in entries if e["alarm"]["rule"] == "hypertension"]


def cuffs_polled(subscriber: Subscriber) -> list[tuple[float, float]]:
    """The (systolic, diastolic) of every vitals reading published, in order."""
    out = []
    for message in subscriber.on(TELEMETRY):
        values = {o["code"]: o["value"] for o in message.json()["observations"]}
        if SYS in values:
            out.append((values[SYS], values[DIA]))
    return out


def arrival(subscriber: Subscriber, what: str) -> int:
    """The index in arrival order of the first telemetry carrying 190/114 (``190/114
    reading``) or the first alarm-log entry naming ``what``."""
    for index, message in enumerate(subscriber.messages):
        if what == "190/114 reading" and message.topic.endswith(TELEMETRY):
            values = {o["code"]: o["value"] for o in message.json()["observations"]}
            if (values.get(SYS), values.get(DIA)) == (190, 114):
                return index
        elif message.topic == LOG and what in message.json()["alarm"]["message"]:
            return index
    raise AssertionError(f"no message with {what}")


@pytest.mark.timeout(120)
async def test_one_high_cuff_is_medium_only_and_a_second_cuff_confirms_high(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    simulator = await start_simulate(
        "--driver", "intellivue", "--scenario", str(SCENARIO), "--tcp", "0",
        "--speed", str(SPEED), "--start-min", str(START_MIN),
    )  # fmt: skip
    try:
        port = await first_line(simulator)
        device = {"id": "monitor-1", "bed": "bed-1", "driver": "intellivue", "port": port}
        config = write_config(tmp_path, [device], mosquitto.url)
        async with subscribed(mosquitto.port, ROOT) as subscriber, running_daemon(config) as edge:
            await subscriber.wait_until(lambda: len(hypertension(subscriber)) >= 1, STARTUP_S)
            medium = hypertension(subscriber)[0]
            medium_polls = len(cuffs_polled(subscriber))
            await subscriber.wait_until(
                lambda: (190, 114) in cuffs_polled(subscriber), SECOND_CUFF_S + LATENCY_S
            )
            await subscriber.wait_until(lambda: len(hypertension(subscriber)) >= 2, LATENCY_S)
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
    finally:
        code, stderr = await finish(simulator, signal.SIGTERM)
    assert code == 0, stderr

    assert (medium["transition"], medium["alarm"]["priority"]) == ("raised", "medium")
    assert medium["alarm"]["message"].startswith("Blood pressure 183/113 mmHg")
    polled = cuffs_polled(subscriber)
    first_cuff = polled[medium_polls - 1 : polled.index((190, 114))]
    # the one cuff in every poll for ~22 s, and nothing but medium meanwhile
    assert len(first_cuff) >= 15, polled
    assert set(first_cuff) == {(183, 113)}
    high = hypertension(subscriber)[1]
    assert (high["transition"], high["alarm"]["priority"]) == ("priority_raised", "high")
    assert arrival(subscriber, "190/114 mmHg") > arrival(subscriber, "190/114 reading")
    assert high["alarm"]["alarm_id"] == medium["alarm"]["alarm_id"]
    # raised by the first reading of the second cuff, confirmed by the first one 22 s before
    assert re.search(
        r"190/114 mmHg.*confirmed by 183/113 mmHg 2[123] s before", high["alarm"]["message"]
    )
    assert len(hypertension(subscriber)) == 2
