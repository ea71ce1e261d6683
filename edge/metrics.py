"""Prometheus metrics: technical health only, never a clinical value.

Every metric is defined in :data:`METRICS` below and computed when Prometheus scrapes, from
state the daemon keeps anyway (device states, publisher counters, the outbox, the alarm
engine), so the reading path pays nothing for them. Label values come from the config
(devices, beds, links) or fixed sets (results, classes, priorities, rules): bounded. Every
series exists from the start, at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.engine import AlarmEngine
from edge.alarms.models import AlarmEvent
from edge.alarms.rules import RULES
from edge.bus import Subscription
from edge.config import Config, DeviceConfig
from edge.device_state import DeviceState
from edge.forward.stack import ForwardStatus
from edge.items import OutputItem
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import MessageClass, Outbox
from edge.session import session_name

__all__ = ["METRICS", "EdgeMetrics", "MetricFamily", "MetricSpec"]

PRIORITIES = ("high", "medium", "low")
STORES = ("outbox", "alarm_log")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: name (without the ``infusion_edge_`` prefix), type, help, labels."""

    name: str
    kind: str  # "gauge" or "counter"
    help: str
    labels: tuple[str, ...] = ()


def _output_specs(name: str, label: str, what: str) -> tuple[MetricSpec, ...]:
    """The metrics of a clinical output (``hl7``, ``fhir``)."""
    return (
        MetricSpec(f"{name}_connected", "gauge", f"1 while {what} answers."),
        MetricSpec(
            f"{name}_messages",
            "counter",
            f"{label} messages answered, by result (delivered, or refused: kept, not resent).",
            ("result",),
        ),
        MetricSpec(f"{name}_connect_failures", "counter", f"Failed connections to {what}."),
        MetricSpec(f"{name}_ack_timeouts", "counter", f"{label} messages not answered in time."),
        MetricSpec(f"{name}_queue_messages", "gauge", f"{label} messages waiting to be sent."),
        MetricSpec(
            f"{name}_queue_oldest_age_seconds",
            "gauge",
            f"Age of the oldest waiting {label} message.",
        ),
        MetricSpec(
            f"{name}_queue_dropped",
            "counter",
            f"{label} messages dropped by the queue's bounds, by kind (observation, alarm).",
            ("kind",),
        ),
        MetricSpec(
            f"{name}_queue_fault",
            "gauge",
            f"1 while the {label} queue's disk refuses or its file was found corrupt.",
        ),
    )


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("build_info", "gauge", "Build of this edge (always 1).", ("version",)),
    MetricSpec(
        "device_connected",
        "gauge",
        "1 while the device sends readings, 0 when stale or offline.",
        ("device", "bed"),
    ),
    MetricSpec(
        "device_last_reading_timestamp_seconds",
        "gauge",
        "Unix time of the device's last reading (0 before the first).",
        ("device", "bed"),
    ),
    MetricSpec(
        "observations_implausible",
        "counter",
        "Observation values outside their code's plausible range, made invalid.",
        ("device", "bed"),
    ),
    MetricSpec(
        "device_errors",
        "counter",
        "Errors the device side reported for the device instead of its data (a pump's GNERR), "
        "or answers refused for it (another rack's bedId).",
        ("device", "bed"),
    ),
    MetricSpec("link_frames", "counter", "Frames on a serial link by result.", ("link", "result")),
    MetricSpec("link_reconnects", "counter", "Times a link was opened again.", ("link",)),
    MetricSpec(
        "mqtt_connected",
        "gauge",
        "1 while connected to the broker and it acknowledges (the online status was).",
    ),
    MetricSpec("mqtt_connect_failures", "counter", "Failed or refused broker connections."),
    MetricSpec(
        "mqtt_stalls",
        "counter",
        "Broker connections dropped because a publish was not acknowledged in mqtt.ack_timeout_s.",
    ),
    MetricSpec(
        "mqtt_publishes",
        "counter",
        "Publishes acknowledged by the broker, by result (refused: reason code >= 0x80).",
        ("result",),
    ),
    MetricSpec(
        "mqtt_acks",
        "counter",
        "Alarm acknowledgement commands from dashboards, by verdict (accepted, or why refused).",
        ("result",),
    ),
    MetricSpec("outbox_messages", "gauge", "Messages waiting in the outbox."),
    MetricSpec("outbox_oldest_age_seconds", "gauge", "Age of the oldest waiting message."),
    MetricSpec(
        "outbox_dropped", "counter", "Messages dropped by the outbox bounds, by class.", ("class",)
    ),
    MetricSpec(
        "outbox_memory_messages",
        "gauge",
        "Messages kept in memory while the outbox's disk refuses writes.",
    ),
    MetricSpec(
        "storage_fault",
        "gauge",
        "1 while a store (outbox, alarm_log) is faulted: disk full, unwritable, corrupt file.",
        ("store",),
    ),
    *(
        spec
        for name, label, what in (
            ("hl7", "HL7", "the HL7 receiver (MLLP)"),
            ("fhir", "FHIR", "the FHIR server"),
        )
        for spec in _output_specs(name, label, what)
    ),
    MetricSpec(
        "config_info",
        "gauge",
        "The config in force (always 1), by the SHA-256 of its file.",
        ("hash",),
    ),
    MetricSpec(
        "config_loaded_timestamp_seconds",
        "gauge",
        "Unix time the config in force was loaded (start or last applied reload).",
    ),
    MetricSpec(
        "config_reloads",
        "counter",
        "Config reloads, by result (applied, rejected, failed).",
        ("result",),
    ),
    MetricSpec("alarms_active", "gauge", "Alarms not ended, by priority.", ("priority",)),
    MetricSpec(
        "alarms_raised",
        "counter",
        "Alarm episodes raised, by rule and priority.",
        ("rule", "priority"),
    ),
)


@dataclass(slots=True)
class _Device:
    config: DeviceConfig
    link: str
    connected: bool = False
    last_reading: float = 0.0
    implausible: int = 0
    errors: int = 0


@dataclass(slots=True)
class _Link:
    frames_ok: int = 0
    frames_bad: int = 0
    reconnects: int = 0


class EdgeMetrics:
    """The metrics of one edge. Feed :meth:`consume` from the output bus; serve
    :meth:`render` on ``/metrics``."""

    def __init__(
        self,
        config: Config,
        version: str,
        publisher: Callable[[], PublisherCounters],
        outbox: Outbox,
        engine: AlarmEngine,
        storage: Callable[[], Mapping[str, bool]] = lambda: dict.fromkeys(STORES, False),
        hl7: Callable[[], ForwardStatus] = ForwardStatus,
        fhir: Callable[[], ForwardStatus] = ForwardStatus,
    ) -> None:
        self._version = version
        self._outputs = {"hl7": hl7, "fhir": fhir}
        self._storage = storage
        self._publisher = publisher
        self._outbox = outbox
        self._engine = engine
        self._devices, self._links = _tables(config)
        self._raised = {(r.name, p): 0 for r in RULES for p in PRIORITIES}
        self._config_hash = ""
        self._config_loaded = 0.0
        self._reloads = {"applied": 0, "rejected": 0, "failed": 0}
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Collector(self))

    async def consume(self, items: Subscription[OutputItem]) -> None:
        """Follow the output bus until it closes."""
        async for item in items:
            if isinstance(item, DeviceState):
                self._on_state(item)
            elif isinstance(item, AlarmEvent):
                if item.transition in ("raised", "priority_raised"):
                    key = (item.alarm.rule, item.alarm.priority)
                    self._raised[key] = self._raised.get(key, 0) + 1
            elif isinstance(item, PumpReading | VitalsReading) and item.device_id in self._devices:
                self._devices[item.device_id].last_reading = item.ts.timestamp()

    def set_config(self, config_hash: str, loaded_at: datetime) -> None:
        """The config in force: its file's hash and when it was loaded."""
        self._config_hash, self._config_loaded = config_hash, loaded_at.timestamp()

    def count_reload(self, result: str) -> None:
        """Count a reload: ``applied``, ``rejected`` or ``failed``."""
        self._reloads[result] = self._reloads.get(result, 0) + 1

    def reconfigure(self, config: Config) -> None:
        """Follow the devices and links of a reloaded config; kept ones keep their values."""
        devices, links = _tables(config)
        for device_id, device in devices.items():
            old = self._devices.get(device_id)
            if old is not None and old.link == device.link:
                device.connected, device.last_reading = old.connected, old.last_reading
                device.implausible, device.errors = old.implausible, old.errors
        for name in links:
            links[name] = self._links.get(name, links[name])
        self._devices, self._links = devices, links

    def _on_state(self, state: DeviceState) -> None:
        device = self._devices.get(state.device_id)
        if device is None:
            return
        device.connected = state.connection == "online"
        device.implausible = state.implausible
        device.errors = state.device_errors
        link = self._links[device.link]
        link.frames_ok, link.frames_bad = state.frames_ok, state.frames_bad
        link.reconnects = state.reconnects

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)

    def samples(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """Every metric's samples, by name (for tests and the README)."""
        families = {spec.name: MetricFamily(spec) for spec in METRICS}
        self._fill(families)
        return {
            name: [(dict(zip(f.spec.labels, key, strict=True)), value) for key, value in f.values]
            for name, f in families.items()
        }

    def _fill(self, families: dict[str, MetricFamily]) -> None:
        counters = self._publisher()
        families["build_info"].add((self._version,), 1)
        for device_id, device in self._devices.items():
            labels = (device_id, device.config.bed)
            families["device_connected"].add(labels, 1 if device.connected else 0)
            families["device_last_reading_timestamp_seconds"].add(labels, device.last_reading)
            families["observations_implausible"].add(labels, device.implausible)
            families["device_errors"].add(labels, device.errors)
        for name, link in self._links.items():
            families["link_frames"].add((name, "ok"), link.frames_ok)
            families["link_frames"].add((name, "bad"), link.frames_bad)
            families["link_reconnects"].add((name,), link.reconnects)
        families["mqtt_connected"].add((), 1 if counters.connected else 0)
        families["mqtt_connect_failures"].add((), counters.connect_failures)
        families["mqtt_stalls"].add((), counters.stalls)
        families["mqtt_publishes"].add(("delivered",), counters.delivered)
        families["mqtt_publishes"].add(("refused",), counters.refused)
        for verdict, count in counters.acks.items():
            families["mqtt_acks"].add((verdict.value,), count)
        families["outbox_messages"].add((), self._outbox.depth)
        families["outbox_oldest_age_seconds"].add((), self._outbox.oldest_age_estimate())
        for cls in MessageClass:
            families["outbox_dropped"].add((cls.name.lower(),), self._outbox.dropped[cls])
        families["outbox_memory_messages"].add((), self._outbox.memory_depth)
        for store, faulted in self._storage().items():
            families["storage_fault"].add((store,), 1 if faulted else 0)
        self._fill_outputs(families)
        active = dict.fromkeys(PRIORITIES, 0)
        for alarm in self._engine.active():
            active[alarm.priority] += 1
        for priority, count in active.items():
            families["alarms_active"].add((priority,), count)
        for (rule, priority), count in self._raised.items():
            families["alarms_raised"].add((rule, priority), count)
        if self._config_hash:
            families["config_info"].add((self._config_hash,), 1)
        families["config_loaded_timestamp_seconds"].add((), self._config_loaded)
        for result, count in self._reloads.items():
            families["config_reloads"].add((result,), count)

    def _fill_outputs(self, families: dict[str, MetricFamily]) -> None:
        for name, status_of in self._outputs.items():
            status = status_of()
            families[f"{name}_connected"].add((), 1 if status.connected else 0)
            families[f"{name}_messages"].add(("delivered",), status.delivered)
            families[f"{name}_messages"].add(("refused",), status.refused)
            families[f"{name}_connect_failures"].add((), status.connect_failures)
            families[f"{name}_ack_timeouts"].add((), status.ack_timeouts)
            families[f"{name}_queue_messages"].add((), status.queue_depth)
            families[f"{name}_queue_oldest_age_seconds"].add((), status.oldest_age_s)
            for kind, count in status.dropped:
                families[f"{name}_queue_dropped"].add((kind,), count)
            families[f"{name}_queue_fault"].add((), 1 if status.faulted else 0)


class MetricFamily:
    """Collects one metric's samples before it becomes a prometheus_client family."""

    def __init__(self, spec: MetricSpec) -> None:
        self.spec = spec
        self.values: list[tuple[tuple[str, ...], float]] = []

    def add(self, labels: tuple[str, ...], value: float) -> None:
        self.values.append((labels, value))

    def metric(self) -> Metric:
        name = f"infusion_edge_{self.spec.name}"
        family: GaugeMetricFamily | CounterMetricFamily
        if self.spec.kind == "counter":
            family = CounterMetricFamily(name, self.spec.help, labels=self.spec.labels)
        else:
            family = GaugeMetricFamily(name, self.spec.help, labels=self.spec.labels)
        for labels, value in self.values:
            family.add_metric(list(labels), value)
        return family


class _Collector(Collector):
    def __init__(self, metrics: EdgeMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        families = {spec.name: MetricFamily(spec) for spec in METRICS}
        self._metrics._fill(families)
        for family in families.values():
            yield family.metric()


def _tables(config: Config) -> tuple[dict[str, _Device], dict[str, _Link]]:
    devices: dict[str, _Device] = {}
    links: dict[str, _Link] = {}
    for group in config.links():
        name = session_name(group[0].port, group)
        links[name] = _Link()
        for device in group:
            devices[device.id] = _Device(device, name)
    return devices, links
