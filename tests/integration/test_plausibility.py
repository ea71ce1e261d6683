"""Impossible values through each driver raise nothing clinical.

Each driver's device side sends impossible values over a real pty; a real link session
decodes them and checks them, an alarm engine judges the readings and the metrics count what
was replaced. Every test then sends plausible but alarming values down the same path and sees
the alarm raised, so that it fails if the pipeline simply raised nothing at all.

What each codec can carry at all: textline refuses a non-finite number (``nan``, ``inf``) as
a bad frame, so only finite impossible values reach the check from it; B. Braun BCC numbers
are plain decimals (no exponent, no ``nan``), negative ones included; IntelliVue's FLOAT-Type
NaN and infinities arrive as ``unavailable``/``invalid`` from the codec itself, and its
largest finite value is about 8e133, so it cannot carry 1e300 (out-of-range finite values
and a diastolic above its systolic it can).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.bbraun_bcc.device import ComDevice
from drivers.bbraun_bcc.rack import Pump
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorConfig
from drivers.intellivue.monitor_values import MonitorValues, Numeric
from drivers.readings import PumpReading, VitalsReading
from drivers.registry import get_driver
from drivers.sim.devices import SimTime
from drivers.sim.faults import DeviceRole
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario
from drivers.sim.serve import PtyPort, serve
from drivers.sim.timeline import Timeline
from drivers.textline.codec import encode_vitals
from edge.alarms.engine import AlarmEngine, EngineEvent
from edge.alarms.limits import AlarmLimits, HeartRateLimits, RespRateLimits, Spo2Limits
from edge.alarms.models import AlarmEvent
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import Config, InfusionOrder
from edge.device_state import DeviceState
from edge.items import InputItem, OutputItem
from edge.metrics import EdgeMetrics
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import Outbox
from edge.session import LinkSession
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import running_daemon
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.integration.test_demo import http_get
from tests.mosquitto import Mosquitto, free_port
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "normal-ketamine.yaml"
RATE, DOSE = "MDC_FLOW_FLUID_PUMP", "MDC_RATE_DOSE"
SYS, DIA, MEAN = (
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
)
# Alarms with no delay: a single impossible reading would raise them if it got through.
AT_ONCE = AlarmLimits(
    spo2_low=Spo2Limits(high_delay_s=0, medium_delay_s=0),
    hr_abnormal=HeartRateLimits(high_delay_s=0, medium_delay_s=0),
    rr_abnormal=RespRateLimits(delay_s=0),
)
ORDER = InfusionOrder(  # 0.5 mg/kg x 70 kg / 1 mg/mL over 40 min: 52.5 mL/h
    drug="Ketamine", concentration_mg_per_ml=1, dose_mg_per_kg=0.5, weight_kg=70, duration_min=40
)


@dataclass
class FixedDevice:
    """A protocol's device side with values the test sets, served like a simulator."""

    role: DeviceRole
    answer: Callable[[bytes, float], bytes]
    speak: Callable[[float], bytes] = lambda _now: b""
    description: str = "a device with values set by the test"

    def receive(self, data: bytes, at: SimTime) -> bytes:
        return self.answer(data, at.device_s)

    def tick(self, at: SimTime) -> bytes:
        return self.speak(at.device_s)

    def spoil_next_frame(self) -> None:
        return None


@dataclass
class Pipeline:
    """What came out of the session: readings, engine events, and the metrics."""

    metrics: EdgeMetrics
    simulation: Simulation
    readings: list[PumpReading | VitalsReading] = field(default_factory=list)
    events: list[EngineEvent] = field(default_factory=list)

    def alarms(self) -> list[AlarmEvent]:
        return [e for e in self.events if isinstance(e, AlarmEvent)]

    def implausible(self, device: str) -> float:
        for labels, value in self.metrics.samples()["observations_implausible"]:
            if labels["device"] == device:
                return value
        raise KeyError(device)

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        for _ in range(round(timeout / 0.05)):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in time")


async def judge(
    items: Subscription[InputItem], engine: AlarmEngine, out: Bus[OutputItem], into: Pipeline
) -> None:
    async for item in items:
        if isinstance(item, DeviceState):
            into.events += engine.on_device_state(item)
            await out.publish(item)
        elif isinstance(item, PumpReading | VitalsReading):
            into.readings.append(item)
            into.events += engine.on_reading(item)
            await out.publish(item)


@contextlib.asynccontextmanager
async def pipeline(
    tmp_path: Path, device: FixedDevice, config: Config, engine: AlarmEngine
) -> AsyncIterator[Pipeline]:
    """``device`` served on a pty at the config's port, read by a real link session."""
    timeline = Timeline(load_scenario(SCENARIO))
    simulation = Simulation(device, timeline)
    announced = asyncio.Event()
    port = Path(config.devices[0].port)
    outbox = Outbox(tmp_path / "outbox.sqlite", max_messages=100, max_age_s=3600)
    await outbox.open()
    metrics = EdgeMetrics(config, "0", PublisherCounters, outbox, engine)
    result = Pipeline(metrics, simulation)
    inputs: Bus[InputItem] = Bus()
    outputs: Bus[OutputItem] = Bus()
    driver = get_driver(config.devices[0].driver)
    session = LinkSession(
        str(port), config.devices, driver, inputs, SystemClock(), Backoff(initial=0.1, cap=0.5)
    )
    tasks = [
        asyncio.create_task(
            serve(simulation, PtyPort(port), lambda _: announced.set()), name="sim"
        ),
        asyncio.create_task(metrics.consume(outputs.subscribe("metrics")), name="metrics"),
        asyncio.create_task(judge(inputs.subscribe("t"), engine, outputs, result), name="judge"),
    ]
    try:
        async with asyncio.timeout(5):
            await announced.wait()
        tasks.append(asyncio.create_task(session.run(), name=session.name))
        yield result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await outbox.close()


def config_for(port: Path, driver: str, **device: Any) -> Config:
    return Config(
        site="clinic",
        edge_id="edge-1",
        beds={"bed-1": {}},
        devices=[{"id": "dev-1", "bed": "bed-1", "driver": driver, "port": str(port), **device}],
    )


def clinical(alarms: list[AlarmEvent]) -> list[AlarmEvent]:
    return [e for e in alarms if e.alarm.kind == "physiological"]


async def test_a_bbraun_pump_rate_of_minus_500_ml_h_is_invalid_and_raises_nothing(
    tmp_path: Path,
) -> None:
    """INRT -500 mL/h, INP2 250 % and a dose rate of -2 mg/kg/h from a B. Braun rack: without
    the check, -500 against the bed's order of 52.5 mL/h is a ``setpoint_mismatch``."""
    impossible = Pump(
        rate_ml_h=-500, vtbi_ml=35, infused_ml=1.0, running=True, pressure_pct=250, dose_rate=-2
    )
    rack = ComDevice({"11": impossible})
    config = config_for(
        tmp_path / "ttyRACK", "bbraun_bcc", address="11", options={"poll_period_s": 0.5}
    )
    engine = AlarmEngine(SystemClock(), limits=AT_ONCE, orders={"bed-1": ORDER})
    device = FixedDevice("pumps", rack.receive)
    async with pipeline(tmp_path, device, config, engine) as out:
        await out.until(lambda: len(out.readings) >= 3 and out.implausible("dev-1") >= 3)
        reading = out.readings[-1]
        assert isinstance(reading, PumpReading)
        observed = {o.code: (o.value, o.state) for o in reading.observations}
        assert observed[RATE] == (None, "invalid")
        assert observed[DOSE] == (None, "invalid")
        assert observed["X_BBRAUN_PRESS_REL_ALARM"] == (None, "invalid")
        assert observed["MDC_VOL_FLUID_DELIV"] == (1.0, "valid")
        assert reading.pump.state == "infusing"
        assert clinical(out.alarms()) == []

        rack.set_pumps({"11": Pump(rate_ml_h=100, vtbi_ml=35, infused_ml=1.0, running=True)})
        await out.until(lambda: bool(clinical(out.alarms())))
    (raised,) = clinical(out.alarms())
    assert (raised.alarm.rule, raised.alarm.priority) == ("setpoint_mismatch", "high")
    assert "Programmed rate 100.0 mL/h" in raised.alarm.message
    assert out.readings[-1].value(RATE) == 100.0


async def test_intellivue_impossible_vitals_and_a_diastolic_above_systolic_raise_nothing(
    tmp_path: Path,
) -> None:
    """HR 400, pulse -70, SpO2 -5 %, RR 200 and an NIBP of 120/130 (a diastolic above its
    systolic, in range each) from an IntelliVue monitor: each alone would raise an alarm
    (with no delays, as set here)."""
    wall = datetime.now().replace(microsecond=0)
    monitor = IntelliVueMonitor(
        MonitorValues(
            hr=Numeric(400), pr=Numeric(-70), spo2=Numeric(-5), rr=Numeric(200), nibp_time=None
        ),
        MonitorConfig(bed_label="SIM", wall_at_start=wall),
        0.0,
    )
    monitor.values.measure_nibp(120, 130, 125, now=0.0)
    config = config_for(tmp_path / "ttyMONITOR", "intellivue")
    engine = AlarmEngine(SystemClock(), limits=AT_ONCE)
    device = FixedDevice("monitor", monitor.receive, monitor.tick)
    async with pipeline(tmp_path, device, config, engine) as out:
        await out.until(lambda: len(out.readings) >= 3 and out.implausible("dev-1") >= 7 * 3)
        observed = {o.code: (o.value, o.state) for o in out.readings[-1].observations}
        assert observed == {
            "MDC_ECG_HEART_RATE": (None, "invalid"),
            "MDC_PULS_OXIM_PULS_RATE": (None, "invalid"),
            "MDC_PULS_OXIM_SAT_O2": (None, "invalid"),
            "MDC_RESP_RATE": (None, "invalid"),
            SYS: (None, "invalid"),
            DIA: (None, "invalid"),
            MEAN: (None, "invalid"),
        }
        assert clinical(out.alarms()) == []
        assert engine.sessions.get("bed-1") is None  # no baseline from an impossible NIBP

        monitor.values.hr, monitor.values.pr = Numeric(72), Numeric(72)
        monitor.values.spo2, monitor.values.rr = Numeric(98), Numeric(14)
        monitor.values.measure_nibp(210, 80, 123, now=out.simulation.now().device_s)
        await out.until(lambda: bool(clinical(out.alarms())))
    (raised,) = clinical(out.alarms())
    assert (raised.alarm.rule, raised.alarm.priority) == ("hypertension", "high")
    assert raised.alarm.value == 210


SITE = "infusion-edge/v1/test-site"


def transitions(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [m.json() for m in subscriber.messages if m.topic == f"{SITE}/alarm-log"]


def telemetry(subscriber: Subscriber) -> list[dict[str, Any]]:
    suffix = "/devices/monitor-1/telemetry"
    return [m.json() for m in subscriber.messages if m.topic.endswith(suffix)]


async def implausible_metric(port: int) -> float:
    status, body = await http_get(port, "/metrics")
    assert status == 200
    prefix = 'infusion_edge_observations_implausible_total{bed="bed-1",device="monitor-1"} '
    lines = [line for line in body.decode().splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else -1.0


async def test_the_daemon_makes_impossible_textline_values_invalid_and_raises_nothing(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    """The issue's values over a textline monitor: SpO2 -5 %, SBP 1e300, HR -70, RR 1e9, and
    a pulse rate of 300 that only this config's override (max 250) makes implausible (with HR
    invalid, the pulse rate stands in for it: 300 would raise ``hr_abnormal``)."""
    http_port = free_port()
    path = write_config(tmp_path, [textline_device("monitor-1", monitor.path)], mosquitto.url)
    data = yaml.safe_load(path.read_text())
    data["http"] = {"enabled": True, "bind": "127.0.0.1", "port": http_port}
    data["plausibility"] = {"MDC_PULS_OXIM_PULS_RATE": {"max": 250}}
    data["alarms"] = AT_ONCE.model_dump(include={"spo2_low", "hr_abnormal", "rr_abnormal"})
    path.write_text(yaml.safe_dump(data))
    values = {"SBP": 1e300, "DBP": 80, "HR": -70, "PR": 300, "SPO2": -5, "RR": 1e9}
    feeder = Feeder(monitor, encode_vitals(values).to_bytes())
    async with (
        subscribed(mosquitto.port, f"{SITE}/#") as subscriber,
        feeding(feeder),
        running_daemon(path) as edge,
    ):
        await subscriber.wait_until(lambda: len(telemetry(subscriber)) >= 3)
        observed = {
            o["code"]: (o["value"], o["state"]) for o in telemetry(subscriber)[-1]["observations"]
        }
        assert observed == {
            SYS: (None, "invalid"),
            DIA: (80.0, "valid"),
            "MDC_ECG_HEART_RATE": (None, "invalid"),
            "MDC_PULS_OXIM_PULS_RATE": (None, "invalid"),
            "MDC_PULS_OXIM_SAT_O2": (None, "invalid"),
            "MDC_RESP_RATE": (None, "invalid"),
        }
        for _ in range(100):
            if await implausible_metric(http_port) >= 15:
                break
            await asyncio.sleep(0.1)
        assert await implausible_metric(http_port) >= 15
        warning = await edge.wait_for(lambda e: e.get("msg") == "implausible values made invalid")
        assert (warning["device"], warning["bed"]) == ("monitor-1", "bed-1")

        control = {"SBP": 210, "DBP": 80, "HR": 72, "PR": 72, "SPO2": 98, "RR": 14}
        feeder.line = encode_vitals(control).to_bytes()
        await subscriber.wait_until(
            lambda: any(t["alarm"]["kind"] == "physiological" for t in transitions(subscriber))
        )
    clinical_log = [t for t in transitions(subscriber) if t["alarm"]["kind"] == "physiological"]
    assert [(t["alarm"]["rule"], t["alarm"]["value"]) for t in clinical_log][:1] == [
        ("hypertension", 210.0)
    ]
    assert {t["alarm"]["rule"] for t in clinical_log} == {"hypertension"}
