"""One bed of a simulator scenario, end to end and in memory, on one virtual clock.

For a bed this wires, byte for byte and with no sockets:

    scenario timeline -> simulated devices (``drivers.sim.build_device``: a B. Braun rack with
    the scenario's pump slots, a Philips IntelliVue monitor, or a GE monitor or a Masimo
    oximeter in its place) -> their cable (``WirePlan``:
    silence, disconnect, garbage, bad checksums, byte-by-byte, as ``drivers.sim.runner`` and
    ``drivers.sim.serve`` apply them) -> the real host conversations (``Driver.conversation``)
    -> readings and device states -> a real :class:`~edge.alarms.engine.AlarmEngine`.

What :class:`~edge.session.LinkSession` does around a conversation is replayed here without
asyncio: ``open`` when the link opens, ``receive`` on every read with the reply written back,
``tick`` when the conversation's ``next_tick_at`` comes, on the session's tick grid
(:func:`~edge.session.tick_grid_at`), ``close`` before the link closes; a link lost (the port gone)
or silent past every device's reopen time is closed and reopened as
:class:`~edge.reconnect.ReconnectPolicy` says (a missing port every second, a silent link at
once, other errors after a capped, jittered :class:`~edge.backoff.Backoff`, seeded); a
watchdog turns silence into ``online``/``stale``/``offline`` with
:func:`~edge.device_state.connection_after` and publishes every change (and every
``STATE_REFRESH_S`` the others) as a :class:`~edge.device_state.DeviceState`, looking when the
next state can change (:func:`~edge.session.connection_changes_at`) or a refresh is due, and
sooner when a reading brings that forward, as the session's watchdog sleeps. The engine is
ticked about once a second, as the alarm stage does.

A scenario's ``acks`` are carried out as a dashboard sends them: at the entry's minute the
bed's open, unacknowledged alarms (of its rule) are each acknowledged by a command signed
with :data:`SCENARIO_DASHBOARD`'s key, checked by the edge's real
:class:`~edge.publish.ack_verifier.AckVerifier` and handed to the engine as the daemon does.
Given an ``alarm_log``, every engine event and each monitor's last cuff are written to it as
the daemon's alarm stage writes them (how ``tests.scenario_priming`` primes a daemon).

Everything runs on one :class:`VirtualClock`: monotonic seconds and a UTC wall clock that
advance together, in whole microseconds, at speed 1 (device clock = scenario clock), so rates,
volumes, protocol timers and alarm delays all agree. Time jumps from one thing due to the
next (a conversation's tick, a device's tick, a watchdog pass, a reconnect attempt, a fault
window's edge, an engine tick): every timer is met when it falls due, and no exchange is
skipped or made up. Bytes cross the cable at once (a reply in the same instant as its
request), except under a byte-by-byte fault, where each byte is due at its gap and the host
reads what has arrived every ``read_s``. Nothing depends on the real clock: a run is
deterministic for a scenario and seed.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from drivers.base import Conversation, DeviceTarget, Driver, Instant
from drivers.readings import PumpReading, VitalsReading
from drivers.registry import get_driver
from drivers.sim.bedside import Ack
from drivers.sim.devices import SimTime, SimulatedDevice, build_device
from drivers.sim.scenario import Scenario, load_scenario, parse_scenario
from drivers.sim.timeline import Timeline
from drivers.sim.wire import WirePlan, WireState
from edge.alarms.engine import AlarmEngine, EngineEvent
from edge.alarms.log import AlarmLog
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.backoff import Backoff
from edge.config import BedConfig, Config, DeviceConfig, InfusionOrder, port_key
from edge.device_state import Connection, DeviceState, connection_after
from edge.publish.ack_signing import Verdict, sign
from edge.publish.ack_verifier import AckVerifier
from edge.publish.topics import AckTopic
from edge.reconnect import Outcome, ReconnectPolicy, reopen_after
from edge.session import (
    MIN_TICK_GAP_S,
    STATE_REFRESH_S,
    connection_changes_at,
    tick_grid_at,
)

__all__ = [
    "BED",
    "KETAMINE_ORDER",
    "MONITOR",
    "MONITOR_DRIVERS",
    "SCENARIOS",
    "SCENARIO_DASHBOARD",
    "WALL0",
    "BedSimulation",
    "PortSimulation",
    "Seen",
    "VirtualClock",
    "bed_config",
    "pump_id",
    "shipped_scenario",
]

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "config" / "scenarios"
WALL0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
"""The wall time of scenario minute 0."""
MONOTONIC0 = 1000.0
"""The monotonic time of scenario minute 0 (not 0: nothing may assume it starts there)."""
BED = "chair-1"
MONITOR = "monitor-1"
KETAMINE_ORDER = InfusionOrder(
    drug="Ketamine",
    concentration_mg_per_ml=1.0,
    dose_mg_per_kg=0.5,
    weight_kg=70,
    duration_min=40,
)
"""The order of every shipped ketamine scenario: 0.5 mg/kg x 70 kg = 35 mg at 1 mg/mL = 35 mL
over 40 min = 52.5 mL/h."""

SCENARIO_DASHBOARD = "scenario-station"
"""The dashboard a scenario's ``acks`` come from; its key is :data:`_DASHBOARD_SECRET`."""
_DASHBOARD_SECRET = "the scenario station's key"

_US = 1_000_000


def shipped_scenario(name: str, edit: Callable[[dict[str, Any]], None] | None = None) -> Scenario:
    """The shipped scenario ``config/scenarios/{name}.yaml``; ``edit`` may change its YAML
    data first (a variant: another stop time, no monitor...), which is then validated."""
    path = SCENARIOS / f"{name}.yaml"
    if edit is None:
        return load_scenario(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    return parse_scenario(yaml.safe_dump(data), f"{path} (edited)")


def pump_id(slot: str) -> str:
    """The configured device id of the pump in rack ``slot``."""
    return f"pump-{slot}"


class VirtualClock:
    """An :class:`edge.clock.Clock` the simulation moves: whole microseconds since scenario
    minute 0, as monotonic seconds from :data:`MONOTONIC0` and UTC from ``wall0`` (the wall
    time of minute 0, default :data:`WALL0`)."""

    def __init__(self, wall0: datetime = WALL0) -> None:
        self.us = 0
        self.wall0 = wall0

    @property
    def t(self) -> float:
        """Seconds since scenario minute 0."""
        return self.us / _US

    def monotonic(self) -> float:
        return MONOTONIC0 + self.us / _US

    def now(self) -> datetime:
        return self.wall0 + timedelta(microseconds=self.us)

    def instant(self) -> Instant:
        """Now, as a link session sees it."""
        return Instant(self.monotonic(), self.now())


@dataclass(frozen=True, slots=True)
class Seen:
    """An engine event and the virtual time ``t`` (s since minute 0) it was emitted at."""

    t: float
    event: EngineEvent
    wall0: datetime = WALL0

    @property
    def minute(self) -> float:
        """The event's own time (a reading's measurement time, or a tick's), in scenario
        minutes."""
        return (self.event.at - self.wall0).total_seconds() / 60.0


MONITOR_DRIVERS = ("intellivue", "ge_dri", "masimo_ascii")
"""The vitals drivers a bed's monitor may be read by in the harness."""


def monitor_timeout_s(driver: str, options: dict[str, object], timeout_s: float) -> float:
    """``timeout_s``, or the driver's floor for ``options`` when that is longer (GE with
    default options: ``resend_after_s`` 15 s + ``period_s`` 5 s = 20 s)."""
    found = get_driver(driver)
    return max(timeout_s, found.min_timeout_for(found.options.model_validate(options)).seconds)


PUMP_DRIVERS = ("bbraun_bcc", "alaris_asena")
"""The pump drivers a bed's pumps may be read by in the harness: a B. Braun rack (one port,
a slot address per pump) or one Alaris Asena per pump (a port each, no address)."""


def _pump_config(
    slot: str, driver: str, options: dict[str, object], timeout_s: float
) -> DeviceConfig:
    rack = driver == "bbraun_bcc"
    return DeviceConfig(
        id=pump_id(slot),
        bed=BED,
        driver=driver,
        port=f"sim://{BED}/pumps" if rack else f"sim://{BED}/pump-{slot}",
        address=slot if rack else None,
        options=options,
        timeout_s=monitor_timeout_s(driver, options, timeout_s),
    )


def bed_config(
    scenario: Scenario,
    order: InfusionOrder | None = KETAMINE_ORDER,
    *,
    monitor_driver: str = "intellivue",
    monitor_options: dict[str, object] | None = None,
    pump_options: dict[str, object] | None = None,
    timeout_s: float = 10.0,
    pump_driver: str = "bbraun_bcc",
) -> Config:
    """A config with the bed :data:`BED` and its ``order``: a monitor :data:`MONITOR` (when
    the scenario has vitals) read by ``monitor_driver`` (a Philips IntelliVue by default, a
    GE monitor ``ge_dri`` or a Masimo oximeter ``masimo_ascii``: see
    :data:`MONITOR_DRIVERS`) and the scenario's pumps on one B. Braun rack (or each an
    Alaris Asena: ``pump_driver``, see :data:`PUMP_DRIVERS`), default timeouts (each at
    least its driver's floor)."""
    devices: list[DeviceConfig] = []
    if scenario.vitals is not None:
        devices.append(
            DeviceConfig(
                id=MONITOR,
                bed=BED,
                driver=monitor_driver,
                port=f"sim://{BED}/monitor",
                options=monitor_options or {},
                timeout_s=monitor_timeout_s(monitor_driver, monitor_options or {}, timeout_s),
            )
        )
    devices += [
        _pump_config(pump.slot, pump_driver, pump_options or {}, timeout_s)
        for pump in scenario.pumps
    ]
    return Config(
        site="sim-site",
        edge_id="sim-edge",
        beds={BED: BedConfig(label="Chair 1", order=order)},
        devices=devices,
    )


@dataclass(slots=True)
class _Watched:
    """One device as the link session's watchdog sees it (``edge.session._Device``)."""

    config: DeviceConfig
    stale_after: float
    timeout: float
    last_seen: float | None = None
    last_reading: PumpReading | VitalsReading | None = None
    connection: Connection | None = None
    published_at: float = float("-inf")


Sink = Callable[[PumpReading | VitalsReading | DeviceState], None]


class PortSimulation:
    """One port: a simulated device behind its cable, and the host's link session on it.

    The device side follows ``drivers.sim.runner.Simulation`` (ticked every ``device_tick_s``
    whatever the host does; what it says is dropped while the device is silent or no host has
    the port open; a spoil draw per frame; garbage bursts) and ``drivers.sim.serve`` (during a
    ``disconnect`` window the port is gone: an open link fails, and opening one fails). The
    host side follows ``edge.session.LinkSession``. Readings and device states go to ``sink``
    in the order the session puts them on the bus.

    Each party keeps its own schedule (the conversation's ``next_tick_at``, the device's
    tick, the watchdog, the reconnect attempt, bytes due on the cable); :meth:`next_due_us`
    says when the next is, and :meth:`step` does what is due at the clock's time. Bytes that
    trickle in (byte-by-byte faults) are read every ``read_s``, as a reader polling the port.
    """

    def __init__(
        self,
        port: str,
        devices: Sequence[DeviceConfig],
        driver: Driver,
        device: SimulatedDevice,
        timeline: Timeline,
        clock: VirtualClock,
        sink: Sink,
        *,
        seed: int = 0,
        device_tick_s: float = 0.5,
        read_s: float = 0.05,
    ) -> None:
        self.port = port
        self.driver = driver
        self.device = device
        self.plan = WirePlan(timeline, device.role, timeline.seed)
        self._clock = clock
        self._sink = sink
        self._watched = {d.id: _Watched(d, d.stale_after(driver), d.timeout_s) for d in devices}
        self._targets = [DeviceTarget(d.id, d.bed, d.address) for d in devices]
        self._options = driver.options.model_validate(devices[0].options)
        backoff_random = random.Random(f"backoff/{seed}/{port}")  # seeded: a run repeats
        self._reconnect = ReconnectPolicy(Backoff(rand=backoff_random.random))
        self._link_readings = 0
        self._device_tick_us = round(device_tick_s * _US)
        self._read_us = round(read_s * _US)
        if self._device_tick_us <= 0 or self._read_us <= 0:
            raise ValueError("device_tick_s and read_s must be above 0")
        self.conversation: Conversation | None = None
        self._opened_at = 0.0
        self._silent_at = float("-inf")  # monotonic s: when every device will have been silent
        self._opened_before = False
        self._retry_at: float | None = 0.0  # the connect loop tries at once
        self._next_tick_us = 0
        self._next_device_tick_us = 0
        self._next_watch_us = 0
        self._inbox: deque[tuple[int, bytes]] = deque()  # (due, bytes) device -> host
        self._writer_free_us = 0  # byte by byte: when the device's writer is free again
        self._wire = WireState()
        self._wire_from = self._wire_until = -1.0  # scenario s: the span _wire holds for
        self._garbage_on = False
        self.frames_ok = 0
        self.frames_bad = 0
        self.reconnects = 0
        self.opens = 0
        self.failed_opens = 0
        self.last_error: str | None = None
        self.dropped_bytes = 0

    # -- the clocks and the cable ---------------------------------------------------------

    def _sim_time(self) -> SimTime:
        t = self._clock.t
        return SimTime(device_s=t, scenario_s=t, speed=1.0)

    def wire(self) -> WireState:
        """The cable now. Fault windows open and close only at their edges, so the state is
        looked up again only when an edge has been passed."""
        t = self._clock.t
        if not self._wire_from <= t < self._wire_until:
            self._wire = self.plan.state(t)
            self._wire_from, self._wire_until = t, self.plan.next_edge_s(t)
        return self._wire

    # -- one step -------------------------------------------------------------------------

    def step(self) -> None:
        """Everything due at the clock's time, in the order the real parts would do it."""
        now_us = self._clock.us
        if self.wire().disconnected and self.conversation is not None:
            self._end_link("link lost: the port disappeared", goodbye=False)
        if now_us >= self._next_device_tick_us:
            self._next_device_tick_us += self._device_tick_us
            self._device_tick()
        retry_at = self._retry_at
        if self.conversation is None and retry_at is not None and self._clock.t >= retry_at:
            self._open()
        self._read()
        if self.conversation is not None and now_us >= self._next_tick_us:
            self._tick()
        if now_us >= self._next_watch_us:
            self._next_watch_us = self._publish_changes()

    def next_due_us(self) -> int:
        """The first time at which this port has something to do: a device or host tick,
        the watchdog, a reconnect attempt, bytes to read, a fault window opening or
        closing (a port that disappears fails the host's link at once)."""
        self.wire()  # its span ends at the next fault edge, where the cable changes
        edge = self._wire_until
        due = min(self._next_device_tick_us, self._next_watch_us)
        if math.isfinite(edge):
            due = min(due, math.ceil(edge * _US))
        if self.conversation is not None:
            due = min(due, self._next_tick_us)
            if self._inbox:  # read at the next multiple of read_s (a reader polling)
                due = min(due, -(-self._inbox[0][0] // self._read_us) * self._read_us)
        elif self._retry_at is not None:
            due = min(due, math.ceil(self._retry_at * _US))
        return due

    # -- device side (drivers.sim.runner.Simulation) --------------------------------------

    def _device_tick(self) -> None:
        at = self._sim_time()
        self._emit(self.device.tick(at))
        garbage_on = self.wire().garbage is not None
        if garbage_on or self._garbage_on:  # off: WirePlan.garbage only forgets its pace
            self._emit(self.plan.garbage(at.scenario_s, at.device_s), frame=False)
        self._garbage_on = garbage_on

    def _attached(self) -> bool:
        return self.conversation is not None and not self.wire().disconnected

    def _emit(self, data: bytes, *, frame: bool = True) -> None:
        """What the device says: onto the cable, unless silent or nobody has the port."""
        if not data:
            return
        if frame and self.plan.spoil_next_frame(self._clock.t):
            self.device.spoil_next_frame()  # the draw for the frame after this one
        wire = self.wire()
        if not self._attached() or wire.silent:
            self.dropped_bytes += len(data)
            return
        start = max(self._clock.us, self._writer_free_us)
        if wire.byte_gap_s is None:
            self._inbox.append((start, data))
            return
        gap_us = round(wire.byte_gap_s * _US)
        self._inbox.extend((start + i * gap_us, bytes((byte,))) for i, byte in enumerate(data))
        self._writer_free_us = start + len(data) * gap_us

    def _to_device(self, data: bytes) -> None:
        """What the host writes: to the device, unless the link is down or it is silent."""
        if not data or not self._attached() or self.wire().silent:
            return
        self._emit(self.device.receive(data, self._sim_time()))

    # -- host side (edge.session.LinkSession) ---------------------------------------------

    def _open(self) -> None:
        if self.wire().disconnected:
            self.failed_opens += 1
            self.last_error = "cannot open link: the port does not exist"
            self._retry_at = self._clock.t + self._reconnect.delay_after(Outcome.MISSING)
            return
        if self._opened_before:
            self.reconnects += 1
        self._opened_before = True
        self.opens += 1
        self._retry_at = None
        self._inbox.clear()  # pyserial flushes the input on open
        self._writer_free_us = 0
        self._link_readings = 0
        conversation = self.driver.conversation(self._targets, self._options)
        self.conversation = conversation
        self._opened_at = self._clock.monotonic()
        self._silent_at = float("-inf")
        self._to_device(conversation.open(self._clock.instant()))
        self._plan_tick()

    def _end_link(self, reason: str, *, goodbye: bool, outcome: Outcome = Outcome.LOST) -> None:
        """Close the link (with the conversation's goodbye if the link still works) and plan
        the next attempt, as ``LinkSession._connect_loop`` does."""
        conversation = self.conversation
        assert conversation is not None
        self.last_error = reason
        farewell = conversation.close(self._clock.instant())
        if goodbye:
            self._to_device(farewell)
        self.conversation = None
        self._inbox.clear()
        self._writer_free_us = 0
        delay = self._reconnect.delay_after(outcome, self._link_readings > 0)
        self._retry_at = self._clock.t + delay

    def _read(self) -> None:
        """Hand the host what has arrived, one read at a time, until nothing more is due."""
        while self.conversation is not None and self._inbox:
            now_us = self._clock.us
            chunks = []
            while self._inbox and self._inbox[0][0] <= now_us:
                chunks.append(self._inbox.popleft()[1])
            if not chunks:
                return
            at = self._clock.instant()
            exchange = self.conversation.receive(b"".join(chunks), at)
            due = self.conversation.next_tick_at()
            if due is not None and self._us_of(tick_grid_at(due)) < self._next_tick_us:
                self._plan_tick()  # the session's reader wakes its ticker early
            self._to_device(exchange.send)
            self.frames_ok += exchange.frames_ok
            self.frames_bad += len(exchange.errors)
            for reading in exchange.readings:
                watched = self._watched.get(reading.device_id)
                if watched is None:
                    continue
                watched.last_seen = at.monotonic
                watched.last_reading = reading
                self._link_readings += 1
                self._sink(reading)
            if exchange.readings:  # wakes the watchdog if that brought its next look forward
                self._next_watch_us = min(self._next_watch_us, self._publish_changes())

    def _tick(self) -> None:
        conversation = self.conversation
        assert conversation is not None
        self._to_device(conversation.tick(self._clock.instant()))
        self._read()
        if self.conversation is not None and self._all_silent():
            self._end_link(
                "no data from any device; reopening the link", goodbye=True, outcome=Outcome.SILENT
            )
        self._plan_tick()

    def _plan_tick(self) -> None:
        """When the host ticks next: at the conversation's ``next_tick_at`` or when every
        device will have been silent past its timeout, whichever is first, on the tick grid
        (as ``LinkSession._tick`` sleeps), never sooner than ``MIN_TICK_GAP_S`` from now."""
        conversation = self.conversation
        if conversation is None:
            return
        silent_at = self._silent_moment()
        due = conversation.next_tick_at()
        wake = tick_grid_at(silent_at if due is None else min(due, silent_at))
        self._next_tick_us = max(self._us_of(wake), self._clock.us + round(MIN_TICK_GAP_S * _US))

    @staticmethod
    def _us_of(monotonic: float) -> int:
        return math.ceil(round((monotonic - MONOTONIC0) * _US, 3))

    def _silent_moment(self) -> float:
        """When every device will have been silent past its reopen time since the link
        opened, if none speaks (``LinkSession._silent_at``)."""
        return max(
            (self._opened_at if d.last_seen is None else max(d.last_seen, self._opened_at))
            + reopen_after(d.stale_after, d.timeout)
            for d in self._watched.values()
        )

    def _all_silent(self) -> bool:
        """Whether that moment has come. Readings only push it later, so it is computed again
        only once it has come."""
        now = self._clock.monotonic()
        if now < self._silent_at:
            return False
        self._silent_at = self._silent_moment()
        return now >= self._silent_at

    def _publish_changes(self) -> int:
        """Publish what changed; the next look is due when a state can change next or a
        refresh is due (``LinkSession._update_states``), at least ``MIN_TICK_GAP_S`` on."""
        now = self._clock.monotonic()
        due = math.inf
        for watched in self._watched.values():
            silence = None if watched.last_seen is None else now - watched.last_seen
            connection = connection_after(silence, watched.stale_after, watched.timeout)
            if connection != watched.connection or now - watched.published_at >= STATE_REFRESH_S:
                watched.connection = connection
                watched.published_at = now
                self._sink(self._state_of(watched, connection))
            due = min(
                due,
                connection_changes_at(watched.last_seen, watched.stale_after, watched.timeout, now),
                watched.published_at + STATE_REFRESH_S,
            )
        return max(self._us_of(due), self._clock.us + round(MIN_TICK_GAP_S * _US))

    def _state_of(self, watched: _Watched, connection: Connection) -> DeviceState:
        reading = watched.last_reading
        return DeviceState(
            device_id=watched.config.id,
            bed=watched.config.bed,
            driver=self.driver.name,
            connection=connection,
            since=self._clock.now(),
            last_reading_at=reading.ts if reading is not None else None,
            frames_ok=self.frames_ok,
            frames_bad=self.frames_bad,
            reconnects=self.reconnects,
            last_error=self.last_error,
        )


@dataclass
class BedSimulation:
    """A scenario's bed end to end: its simulated devices, their ports and link sessions, and
    an alarm engine built from ``config`` (default: :func:`bed_config` of the scenario with
    :data:`KETAMINE_ORDER`), all on one :class:`VirtualClock`.

    Time jumps from one thing due to the next (a host conversation's tick, a device's tick,
    a watchdog pass, a reconnect attempt, bytes arriving, an engine tick), so every protocol
    timer is met when it falls due and nothing is done in between. ``device_tick_s`` is how
    often the simulated devices are ticked (``drivers.sim`` ticks them every 20 ms, but here
    that only costs time: a B. Braun rack in request mode never speaks first, and the
    IntelliVue monitor's own timers are 3 s and more; its numerics answer the host's polls in
    ``receive``), ``read_s`` how often trickling bytes are read, ``engine_tick_s`` how often
    the engine is ticked. ``events`` collects every engine event
    with the virtual time it was emitted at; ``readings`` and ``states`` what the sessions put
    on the bus; ``acks`` every acknowledgement command sent (virtual time, alarm id, verdict).
    """

    scenario: Scenario
    config: Config | None = None
    device_tick_s: float = 0.5
    read_s: float = 0.05
    engine_tick_s: float = 1.0
    seed: int | None = None
    clock: VirtualClock = field(default_factory=VirtualClock)
    events: list[Seen] = field(default_factory=list)
    readings: list[PumpReading | VitalsReading] = field(default_factory=list)
    states: list[DeviceState] = field(default_factory=list)
    alarm_log: AlarmLog | None = None
    acks: list[tuple[float, str, Verdict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = bed_config(self.scenario)
        self.timeline = Timeline(self.scenario, seed=self.seed)
        self.engine = AlarmEngine.from_config(self.config, self.clock)
        self.ports: dict[str, PortSimulation] = {}
        by_port: dict[str, list[DeviceConfig]] = {}
        for device in self.config.devices:
            by_port.setdefault(port_key(device.port), []).append(device)
        for port, devices in by_port.items():
            driver = self.config.driver_for(devices[0])
            slots = [d.address for d in devices if d.address is not None]
            simulated = build_device(driver.name, self.timeline, slots)
            self.ports[port] = PortSimulation(
                port,
                devices,
                driver,
                simulated,
                self.timeline,
                self.clock,
                self._on_input,
                seed=self.timeline.seed,
                device_tick_s=self.device_tick_s,
                read_s=self.read_s,
            )
        self._engine_tick_us = round(self.engine_tick_s * _US)
        if self._engine_tick_us <= 0:
            raise ValueError("engine_tick_s must be above 0")
        self._next_engine_tick_us = self._engine_tick_us
        self._port_list = list(self.ports.values())
        self.wakeups = 0
        self._pending_acks = sorted(self.scenario.acks, key=lambda ack: ack.at_min)
        self._verifier = AckVerifier(
            self.config.site, {SCENARIO_DASHBOARD: _DASHBOARD_SECRET}, clock=self.clock
        )

    @classmethod
    def of(
        cls,
        name: str,
        order: InfusionOrder | None = KETAMINE_ORDER,
        edit: Callable[[dict[str, Any]], None] | None = None,
        *,
        monitor_driver: str = "intellivue",
        pump_driver: str = "bbraun_bcc",
    ) -> BedSimulation:
        """The shipped scenario ``name`` (``edit``: a variant, see :func:`shipped_scenario`)
        with the bed's ``order``, its monitor read by ``monitor_driver``, its pumps by
        ``pump_driver``."""
        scenario = shipped_scenario(name, edit)
        config = bed_config(scenario, order, monitor_driver=monitor_driver, pump_driver=pump_driver)
        return cls(scenario, config)

    def device(self, device_id: str) -> DeviceConfig:
        """The configured device ``device_id``; raises :class:`KeyError`."""
        assert self.config is not None
        for device in self.config.devices:
            if device.id == device_id:
                return device
        raise KeyError(device_id)

    # -- running --------------------------------------------------------------------------

    def run_until(self, minute: float) -> None:
        """Advance the virtual clock to scenario ``minute``, doing everything due on the way."""
        end_us = round(minute * 60 * _US)
        ports = self._port_list
        dues = [port.next_due_us() for port in ports]  # changes only when the port steps
        while True:
            due = min(self._next_engine_tick_us, self._next_ack_us(), *dues)
            if due > end_us:
                break
            now = self.clock.us = max(due, self.clock.us)
            self.wakeups += 1
            for index, port in enumerate(ports):
                if dues[index] <= now:
                    port.step()
                    dues[index] = port.next_due_us()
            if now >= self._next_engine_tick_us:
                self._next_engine_tick_us += self._engine_tick_us
                self._record(self.engine.tick())
            while self._pending_acks and self._next_ack_us() <= now:
                self._acknowledge(self._pending_acks.pop(0))
        self.clock.us = max(end_us, self.clock.us)

    def run(self) -> None:
        """Run the whole scenario (``duration_min``)."""
        self.run_until(self.scenario.duration_min)

    def _next_ack_us(self) -> int:
        if not self._pending_acks:
            return 2**62
        return round(self._pending_acks[0].at_min * 60 * _US)

    def _acknowledge(self, ack: Ack) -> None:
        """Acknowledge the bed's open, unacknowledged alarms (of ``ack.rule``) as a dashboard
        does: a signed command, verified, then handed to the engine."""
        assert self.config is not None
        for alarm in self.engine.active():
            if alarm.state == "acknowledged" or ack.rule not in (None, alarm.rule):
                continue
            command = sign(
                _DASHBOARD_SECRET,
                site=self.config.site,
                bed=alarm.bed,
                alarm_id=alarm.alarm_id,
                by=ack.by,
                dashboard=SCENARIO_DASHBOARD,
                at=self.clock.now(),
            )
            payload = command.model_dump_json().encode()
            checked = self._verifier.check(AckTopic(alarm.bed, alarm.alarm_id), payload)
            self.acks.append((self.clock.t, alarm.alarm_id, checked.verdict))
            if checked.command is not None:
                accepted = checked.command
                self._record(
                    self.engine.acknowledge(
                        alarm.alarm_id, accepted.by, accepted.at, via=accepted.dashboard
                    )
                )

    def _on_input(self, item: PumpReading | VitalsReading | DeviceState) -> None:
        if isinstance(item, DeviceState):
            self.states.append(item)
            self._record(self.engine.on_device_state(item))
        else:
            self.readings.append(item)
            self._record(self.engine.on_reading(item))
            cuffs = self.engine.take_cuffs()
            if cuffs and self.alarm_log is not None:
                self.alarm_log.save_cuffs(cuffs)

    def _record(self, events: Sequence[EngineEvent]) -> None:
        t = self.clock.t
        self.events += (Seen(t, event, self.clock.wall0) for event in events)
        if events and self.alarm_log is not None:
            self.alarm_log.append(events)

    # -- what a nurse sees ----------------------------------------------------------------

    def scenario_minute(self, at: datetime) -> float:
        """The scenario minute of wall time ``at``."""
        return (at - self.clock.wall0).total_seconds() / 60.0

    def alarm_events(self, rule: str | None = None) -> list[tuple[Seen, AlarmEvent]]:
        """Every alarm transition (of ``rule``), in order."""
        return [
            (seen, seen.event)
            for seen in self.events
            if isinstance(seen.event, AlarmEvent)
            and (rule is None or seen.event.alarm.rule == rule)
        ]

    def session_changes(self) -> list[tuple[float, str]]:
        """Every treatment-session change as (scenario minute, change)."""
        return [
            (round(seen.minute, 2), seen.event.change)
            for seen in self.events
            if isinstance(seen.event, SessionEvent)
        ]

    def summary(self) -> list[tuple[float, str, str, str, str]]:
        """Every alarm transition as (scenario minute, rule, device, transition, priority):
        what a nurse's display went through, for assertions and failure messages."""
        return [
            (
                round(seen.minute, 3),
                event.alarm.rule,
                event.alarm.device_id or "-",
                event.transition,
                event.alarm.priority,
            )
            for seen, event in self.alarm_events()
        ]

    def pump_readings(self, slot: str = "11") -> list[PumpReading]:
        """The readings of the pump in ``slot``, in arrival order."""
        device = pump_id(slot)
        return [r for r in self.readings if isinstance(r, PumpReading) and r.device_id == device]

    def vitals_readings(self) -> list[VitalsReading]:
        """The monitor's readings, in arrival order."""
        return [r for r in self.readings if isinstance(r, VitalsReading)]
