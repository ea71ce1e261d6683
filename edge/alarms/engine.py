"""The alarm engine: readings, device states and time in; alarm and session events out.

Pure logic, no I/O: the daemon feeds it from the bus and writes what it returns to the alarm
log and the outbox. Rules (:mod:`edge.alarms.rules`) are judged on *measurement* times (the
readings' ``ts``), so a timeline test runs as fast as it can feed readings; the injected clock
gives the time of ticks and acknowledgements, and times ``device_offline`` (monotonic s since
a device's last reading). Each call returns the events it caused, in order: session events
(a phase change) first, then alarm transitions.

A monitor's new NIBP cuff is kept for the alarm log (:meth:`AlarmEngine.take_cuffs`) and
restored with the sessions, so the two-cuff confirmation goes on across a restart.

Alarms are per (bed, device, rule): at most one current episode each
(:class:`~edge.alarms.lifecycle.AlarmTrack`), whose levels are timed by
:mod:`edge.alarms.levels`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.devices import DeviceInfo, DeviceTrack
from edge.alarms.errors import AlarmEndedError, UnknownAlarmError
from edge.alarms.judges import Facts, Offline
from edge.alarms.levels import LevelState, evaluate
from edge.alarms.lifecycle import AlarmTrack
from edge.alarms.limits import AlarmLimits
from edge.alarms.models import PRIORITY_RANK, Alarm, AlarmEvent, SessionEvent, TreatmentSession
from edge.alarms.rate import RateHistory
from edge.alarms.rules import RULES, Rule, Source, rule_named
from edge.alarms.sessions import TreatmentSessions
from edge.alarms.vitals import RESP_RATE, SPO2, LastCuff, heart_rate
from edge.clock import Clock
from edge.config import AlarmsConfig, Config, InfusionOrder
from edge.device_state import DeviceState

__all__ = ["AlarmEngine", "EngineEvent"]

EngineEvent = AlarmEvent | SessionEvent
_Key = tuple[str, str | None, str]  # bed, device id, rule
DEVICE_REMOVED = "device removed"  # ended_reason of a removed device's alarms
BED_REMOVED = "bed removed"  # ended_reason of a removed bed's own alarms (the storage fault)
ENDED_IDS_KEPT = 10_000  # ended ids remembered, to tell "ended" from "unknown" on an ack
MAX_USER_LENGTH = 64


@dataclass(slots=True)
class _RuleTrack:
    track: AlarmTrack
    levels: list[LevelState] = field(default_factory=list)


class AlarmEngine:
    """Every alarm of one edge. ``limits``: one :class:`AlarmLimits` for every bed, the
    config's :class:`AlarmsConfig` (per-bed overrides), or a function bed -> limits."""

    def __init__(
        self,
        clock: Clock,
        *,
        limits: AlarmLimits | Callable[[str], AlarmLimits] | None = None,
        orders: Mapping[str, InfusionOrder] | None = None,
        devices: Iterable[DeviceInfo] = (),
        rules: Sequence[Rule] = RULES,
        sessions: TreatmentSessions | None = None,
        beds: Iterable[str] = (),
    ) -> None:
        self._clock = clock
        self._limits = _limits_function(limits)
        self._orders = dict(orders or {})
        self._rules = tuple(rules)
        self._by_source: dict[Source, tuple[Rule, ...]] = {}
        for rule in self._rules:
            self._by_source[rule.source] = (*self._by_source.get(rule.source, ()), rule)
        device_rules = self._by_source.get("device", ())
        # a reading's "not offline" changes nothing on an idle track of these (see _idle)
        self._online_skippable = all(
            isinstance(level.judge, Offline) for rule in device_rules for level in rule.levels
        )
        self.sessions = sessions or TreatmentSessions(self._orders)
        self._devices: dict[str, DeviceTrack] = {}
        self._tracks: dict[_Key, _RuleTrack] = {}
        self._by_id: dict[str, _Key] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._new_cuffs: dict[str, LastCuff] = {}
        self._restored_cuffs: dict[str, LastCuff] = {}  # of devices not known yet
        self._removed: set[str] = set()  # device ids removed by a reload: their items are late
        self._reopened: set[str] = set()  # devices whose link a reload reopened, until a reading
        infos = list(devices)
        for info in infos:
            self._devices[info.device_id] = DeviceTrack(info, clock.monotonic())
        self._beds = list(dict.fromkeys([*beds, *(info.bed for info in infos)]))

    @classmethod
    def from_config(cls, config: Config, clock: Clock) -> AlarmEngine:
        """An engine for ``config``'s devices, bed orders and alarm limits."""
        orders = {bed: b.order for bed, b in config.beds.items() if b.order is not None}
        devices = [DeviceInfo(d.id, d.bed, d.timeout_s) for d in config.devices]
        beds = list(config.beds)
        return cls(clock, limits=config.alarms, orders=orders, devices=devices, beds=beds)

    # -- inputs ---------------------------------------------------------------------------

    def on_reading(self, reading: PumpReading | VitalsReading) -> list[EngineEvent]:
        """Judge ``reading`` at its measurement time. A reading older than the device's last
        one is ignored (it cannot be judged in order)."""
        if reading.device_id in self._removed:
            return []
        device = self._device(reading.device_id, reading.bed)
        if device.last_ts is not None and reading.ts < device.last_ts:
            return []
        device.last_ts, device.last_seen = reading.ts, self._clock.monotonic()
        self._reopened.discard(reading.device_id)
        device.forced_offline = False
        changes = self.sessions.on_reading(reading)
        events: list[EngineEvent] = list(changes)
        if changes:  # the phase sets device_offline's priority on the bed's other devices
            for other in list(self._devices.values()):
                if other.info.bed == reading.bed and other is not device:
                    facts = self._offline_facts(other)
                    events += self._run(reading.bed, other, "device", facts, reading.ts)
        if not self._online_changes_nothing(reading.bed, device):
            events += self._run(reading.bed, device, "device", Facts(offline=False), reading.ts)
        if isinstance(reading, PumpReading):
            facts = self._pump_facts(device, reading)
        else:
            facts = self._vitals_facts(device, reading)
        return events + self._run(reading.bed, device, reading.kind, facts, reading.ts)

    def on_device_state(self, state: DeviceState) -> list[EngineEvent]:
        """A device's connection and link counters. ``offline`` from its session raises
        ``device_offline`` at once for a device that has sent data (a device never heard of
        is timed by :meth:`tick` from the engine's start); the counters feed ``link_errors``."""
        if state.device_id in self._removed:
            return []
        device = self._device(state.device_id, state.bed)
        now = self._clock.now()
        events: list[EngineEvent] = []
        heard = device.last_seen is not None or state.last_reading_at is not None
        if state.device_id in self._reopened and state.last_reading_at is None:
            heard = False  # a link reopened by a reload starts offline: timed by tick instead
        if state.connection == "offline" and heard:
            device.forced_offline = True
            events += self._run(state.bed, device, "device", self._offline_facts(device), now)
        window = self._limits(state.bed).link_errors.window_s
        bad_pct = device.frames.add(now, state.frames_ok, state.frames_bad, window)
        return events + self._run(state.bed, device, "link", Facts(bad_frames_pct=bad_pct), now)

    def tick(self) -> list[EngineEvent]:
        """Advance to the clock's time: close observations, time ``device_offline``,
        escalate unacknowledged alarms. Call it about once a second."""
        now = self._clock.now()
        events: list[EngineEvent] = list(self.sessions.tick(now))
        for device in list(self._devices.values()):
            facts = self._offline_facts(device)
            events += self._run(device.info.bed, device, "device", facts, now)
        for (bed, _, _), rule_track in list(self._tracks.items()):
            escalated = rule_track.track.escalate(now, self._limits(bed).escalation)
            events += self._index(escalated)
        return events

    def on_storage(self, faulted: bool) -> list[EngineEvent]:
        """Whether one of the edge's stores is faulted: ``storage_fault`` on every bed (no
        device), at the clock's time."""
        now, facts = self._clock.now(), Facts(storage_fault=faulted)
        events: list[EngineEvent] = []
        for bed in self._beds:
            events += self._run_rules(bed, None, "storage", facts, now, float("inf"))
        return events

    def acknowledge(
        self, alarm_id: str, by: str, at: datetime | None = None, via: str | None = None
    ) -> list[AlarmEvent]:
        """Acknowledge ``alarm_id`` as user ``by`` at ``at`` (default: the clock's time),
        through dashboard ``via`` (its id, recorded as ``acknowledged_via``).

        Raises :class:`UnknownAlarmError` or :class:`AlarmEndedError`, and ``ValueError`` for
        an empty or over-long user name or a time without a time zone. Acknowledging an
        acknowledged alarm again returns no event (a command delivered twice is harmless).
        """
        user = by.strip()
        if not user or len(user) > MAX_USER_LENGTH:
            raise ValueError(
                f"an acknowledgement names the user who gives it (1-{MAX_USER_LENGTH} characters)"
            )
        if at is not None and at.utcoffset() is None:
            raise ValueError("the acknowledgement time needs a time zone")
        key = self._by_id.get(alarm_id)
        if key is None:
            if alarm_id in self._ended:
                raise AlarmEndedError(alarm_id)
            raise UnknownAlarmError(alarm_id)
        track = self._tracks[key].track
        return self._index(track.acknowledge(user, at or self._clock.now(), via))

    def restore(
        self,
        alarms: Iterable[Alarm],
        sessions: Iterable[TreatmentSession] = (),
        rate_histories: Mapping[str, RateHistory] | None = None,
        *,
        cuffs: Iterable[LastCuff] = (),
    ) -> None:
        """Take up the alarms that had not ended (and the sessions, the configured pumps' rate
        estimators and each monitor's last NIBP cuff) from before a restart, emitting nothing:
        their conditions count as present until readings clear them, so they are not raised a
        second time. Alarms of unknown rules are skipped; a cuff waits for its device's first
        reading if it is not known yet."""
        self.sessions.restore(sessions)
        for device_id, history in (rate_histories or {}).items():
            device = self._devices.get(device_id)
            if device is not None:
                device.rate.resume(history)
        for cuff in cuffs:
            device = self._devices.get(cuff.device_id)
            if device is None:
                self._restored_cuffs[cuff.device_id] = cuff
            else:
                device.nibp.restore(cuff)
        for alarm in alarms:
            rule = rule_named(alarm.rule)
            if alarm.state == "ended" or rule is None or rule not in self._rules:
                continue
            key = (alarm.bed, alarm.device_id, rule.name)
            rule_track = self._rule_track(key, rule)
            rule_track.track.restore(alarm)
            self._by_id[alarm.alarm_id] = key
            if alarm.state != "latched":
                section = rule.limits(self._limits(alarm.bed))
                for level, state in zip(rule.levels, rule_track.levels, strict=True):
                    state.on = state.on or level.priority_in(section) == alarm.priority
            if rule.source == "device" and alarm.device_id is not None:
                self._device(alarm.device_id, alarm.bed).forced_offline = True

    # -- live reconfiguration -------------------------------------------------------------

    def reconfigure(
        self,
        limits: AlarmsConfig,
        orders: Mapping[str, InfusionOrder],
        beds: Iterable[str],
    ) -> None:
        """New limits and bed orders for every evaluation from now on. Open alarms keep their
        state: the next reading (or tick) judges them against the new limits, and a condition
        that ends or starts does so through the alarm model (delays, holds, latching)."""
        self._limits = _limits_function(limits)
        self._orders = dict(orders)
        self.sessions.set_orders(self._orders)
        self._beds = list(dict.fromkeys([*beds, *self._beds]))  # a removed one: remove_bed

    def add_device(self, info: DeviceInfo) -> None:
        """Follow a device added (or whose timeout changed) by a reload; its silence is timed
        from now."""
        self._removed.discard(info.device_id)
        device = self._devices.get(info.device_id)
        if device is None:
            self._devices[info.device_id] = DeviceTrack(info, self._clock.monotonic())
            return
        device.info = info
        device.rate.max_gap_s = max(15.0, info.timeout_s)

    def reopen(self, device_id: str) -> None:
        """The device's link is being reopened by a reload: its new session's first
        ``offline`` (before its first reading) is not a lost device; silence past its timeout
        still raises ``device_offline`` through :meth:`tick`."""
        self._reopened.add(device_id)

    def remove_device(self, device_id: str) -> list[EngineEvent]:
        """Forget a device removed by a reload. Its technical alarms end with ``ended_reason``
        ``device removed``; its physiological ones lose their condition as the alarm model
        says: a high one that is unacknowledged latches and stays until acknowledged, the
        others end (with the same reason). Items of the device still on the bus are ignored."""
        self._removed.add(device_id)
        self._reopened.discard(device_id)
        self._devices.pop(device_id, None)
        return list(self._withdraw(lambda key: key[1] == device_id, DEVICE_REMOVED))

    def remove_bed(self, bed: str) -> list[EngineEvent]:
        """A reload removed ``bed`` (its devices are removed first, their alarms ended or
        latched): its treatment session, if open, closes now; its own alarms (the storage
        fault) lose their condition as :meth:`remove_device` says, ``ended_reason`` ``bed
        removed``; and it is judged no more (a storage fault raises nothing on it)."""
        events: list[EngineEvent] = list(self.sessions.end(bed, self._clock.now()))
        self._beds = [b for b in self._beds if b != bed]
        return events + self._withdraw(lambda key: key[0] == bed and key[1] is None, BED_REMOVED)

    def _withdraw(self, matches: Callable[[_Key], bool], reason: str) -> list[AlarmEvent]:
        """The tracks whose key ``matches`` lose their condition now, as the alarm model says
        (an unacknowledged high physiological alarm latches, the others end with ``reason``
        as ``ended_reason``); a track left without an alarm is forgotten."""
        now = self._clock.now()
        events: list[AlarmEvent] = []
        for key, rule_track in list(self._tracks.items()):
            if not matches(key):
                continue
            for event in rule_track.track.update(None, now):
                if event.alarm.state == "ended":
                    ended = event.alarm.model_copy(update={"ended_reason": reason})
                    event = event.model_copy(update={"alarm": ended})
                events.append(event)
            if rule_track.track.alarm is None:
                del self._tracks[key]
        return self._index(events)

    def has_bed(self, bed: str) -> bool:
        """Whether ``bed`` is one the engine follows (configured, or with a device)."""
        return bed in self._beds

    def limits_for(self, bed: str) -> AlarmLimits:
        """The alarm limits in force for ``bed``."""
        return self._limits(bed)

    # -- outputs --------------------------------------------------------------------------

    def rate_histories(self) -> dict[str, RateHistory | None]:
        """The state of each rate estimator that changed since the last call, by device id
        (``None``: nothing to keep), for the alarm log."""
        return {
            device_id: device.rate.snapshot()
            for device_id, device in self._devices.items()
            if device.rate.dirty
        }

    def active(self) -> list[Alarm]:
        """Every alarm that has not ended (active, acknowledged or latched), highest priority
        first, then oldest first."""
        alarms = [t.track.alarm for t in self._tracks.values() if t.track.alarm is not None]
        return sorted(alarms, key=lambda a: (-PRIORITY_RANK[a.priority], a.raised_at))

    def take_cuffs(self) -> list[LastCuff]:
        """The monitors' new NIBP cuffs since the last call (the latest per monitor), for
        the alarm log."""
        cuffs = list(self._new_cuffs.values())
        self._new_cuffs.clear()
        return cuffs

    def get(self, alarm_id: str) -> Alarm | None:
        """The current state of ``alarm_id``, or ``None`` when it has ended or is unknown."""
        key = self._by_id.get(alarm_id)
        return None if key is None else self._tracks[key].track.alarm

    # -- internals ------------------------------------------------------------------------

    def _device(self, device_id: str, bed: str) -> DeviceTrack:
        device = self._devices.get(device_id)
        if device is None:
            device = DeviceTrack(DeviceInfo(device_id, bed), self._clock.monotonic())
            self._devices[device_id] = device
            if (cuff := self._restored_cuffs.pop(device_id, None)) is not None:
                device.nibp.restore(cuff)
        return device

    def _rule_track(self, key: _Key, rule: Rule) -> _RuleTrack:
        rule_track = self._tracks.get(key)
        if rule_track is None:
            levels = [LevelState() for _ in rule.levels]
            rule_track = _RuleTrack(AlarmTrack(rule, key[0], key[1]), levels)
            self._tracks[key] = rule_track
        return rule_track

    def _run(
        self, bed: str, device: DeviceTrack, source: Source, facts: Facts, at: datetime
    ) -> list[EngineEvent]:
        max_gap = device.info.timeout_s if source in ("pump", "vitals") else float("inf")
        return self._run_rules(bed, device.info.device_id, source, facts, at, max_gap)

    def _run_rules(
        self,
        bed: str,
        device_id: str | None,
        source: Source,
        facts: Facts,
        at: datetime,
        max_gap: float,
    ) -> list[EngineEvent]:
        limits = self._limits(bed)
        events: list[EngineEvent] = []
        for rule in self._by_source.get(source, ()):
            rule_track = self._rule_track((bed, device_id, rule.name), rule)
            condition = evaluate(rule, limits, facts, rule_track.levels, at, max_gap)
            events += self._index(rule_track.track.update(condition, at))
        return events

    def _online_changes_nothing(self, bed: str, device: DeviceTrack) -> bool:
        """Whether judging ``device``'s ``device`` rules with ``offline=False`` (a reading
        came) would change nothing: each rule's track exists, holds no alarm, and its levels
        are idle (off, nothing pending or clearing, no hit). An ``Offline`` judge then says
        clear, which leaves an idle level idle (only its ``last_at`` moves, which nothing
        reads while no timer runs and, for these rules, no gap is timed), and the track emits
        nothing. So the evaluation that most readings would make is skipped, with the same
        outcome (a property test runs both)."""
        if not self._online_skippable:
            return False
        device_id = device.info.device_id
        for rule in self._by_source.get("device", ()):
            rule_track = self._tracks.get((bed, device_id, rule.name))
            if rule_track is None or rule_track.track.alarm is not None:
                return False
            if not all(_idle(level) for level in rule_track.levels):
                return False
        return True

    def _index(self, events: list[AlarmEvent]) -> list[AlarmEvent]:
        for event in events:
            alarm = event.alarm
            if alarm.state != "ended":
                self._by_id[alarm.alarm_id] = (alarm.bed, alarm.device_id, alarm.rule)
                continue
            self._by_id.pop(alarm.alarm_id, None)
            self._ended[alarm.alarm_id] = None
            if len(self._ended) > ENDED_IDS_KEPT:
                self._ended.popitem(last=False)
        return events

    def _offline_facts(self, device: DeviceTrack) -> Facts:
        now = self._clock.monotonic()
        session = self.sessions.get(device.info.bed)
        silence = device.silence_s(now)
        if device.forced_offline:
            silence = max(silence, device.info.timeout_s)
        return Facts(
            offline=device.offline(now),
            silence_s=silence,
            timeout_s=device.info.timeout_s,
            infusing=session is not None and session.phase == "infusion",
        )

    def _pump_facts(self, device: DeviceTrack, reading: PumpReading) -> Facts:
        order = self._orders.get(reading.bed)
        return Facts(
            bolus=reading.pump.bolus,
            flags=reading.pump.flags,
            rate=device.rate.update(reading),
            order_rate_ml_h=order.rate_ml_per_h() if order is not None else None,
        )

    def _vitals_facts(self, device: DeviceTrack, reading: VitalsReading) -> Facts:
        nibp, previous = device.nibp.update(reading)
        if nibp is not None:
            self._new_cuffs[device.info.device_id] = LastCuff(
                device_id=device.info.device_id,
                systolic=nibp.systolic,
                diastolic=nibp.diastolic,
                at=nibp.at,
                stamped=device.nibp.stamped,
            )
        session = self.sessions.get(reading.bed)
        baseline = None
        if session is not None and session.phase in ("infusion", "observation"):
            sys, dia = session.baseline_systolic, session.baseline_diastolic
            baseline = (sys, dia) if sys is not None and dia is not None else None
        return Facts(
            nibp=nibp,
            previous_nibp=previous,
            baseline=baseline,
            hr=heart_rate(reading),
            spo2=reading.value(SPO2),
            rr=reading.value(RESP_RATE),
        )


def _idle(level: LevelState) -> bool:
    return (
        not level.on
        and level.pending_since is None
        and level.clear_since is None
        and level.hit is None
    )


def _limits_function(
    limits: AlarmLimits | Callable[[str], AlarmLimits] | None,
) -> Callable[[str], AlarmLimits]:
    if limits is None:
        defaults = AlarmLimits()
        return lambda bed: defaults
    if isinstance(limits, AlarmsConfig):
        return limits.for_bed
    if isinstance(limits, AlarmLimits):
        fixed = limits
        return lambda bed: fixed
    return limits
