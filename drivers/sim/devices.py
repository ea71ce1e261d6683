"""Simulated devices: the device side of each protocol, fed from a scenario timeline.

Every simulator has the same small, sans-I/O interface, :class:`SimulatedDevice`: bytes from
the host in, bytes to send back out (``receive``), plus ``tick`` for what the device sends on
its own. Each wraps the device side the driver's own tests use, so the simulator encodes with
the same frame code the host decodes with:

=============  =========================================  ====================================
driver         device side                                fed with
=============  =========================================  ====================================
bbraun_bcc     :class:`~drivers.bbraun_bcc.device.ComDevice`  one ``Pump`` per slot (a rack)
intellivue     :class:`~drivers.intellivue.monitor.IntelliVueMonitor`  HR, PR, SpO2, RR, NIBP
ge_dri         :class:`~drivers.ge_dri.monitor.GeMonitor`    HR, PR, SpO2, RR, NIBP, ``temp``
masimo_ascii   :class:`~drivers.masimo_ascii.device.Oximeter`  SpO2, PR, ``pi``, ``spco``, ...
textline       :class:`~drivers.textline.frames.LineFrame`     a VIT line, or a PMP line (slot)
line           the textline monitor (``line``'s default options)  a VIT line
draeger_medibus :class:`~drivers.draeger_medibus.ventilator.Ventilator`  ``ventilator`` tracks
alaris_asena   :class:`~drivers.alaris_asena.device.AsenaPump`  one pump (a slot of the scenario)
=============  =========================================  ====================================

Artefacts (:mod:`.bedside`) reach the wire in each protocol's own way: the IntelliVue
monitor sets the MeasurementState bits QUESTIONABLE (0x4000) or INVALID (0x8000) of the
value; a Masimo oximeter sends an invalid SpO2 as "sensor off" (dashes, EXC 0x20) and a
questionable one with "low signal IQ" (EXC 0x400); a textline line has no quality flag, so
an invalid value is sent as ``-`` (no value) and a questionable one as it is; pump values
carry no artefact flag in any protocol.

Times come as a :class:`SimTime`: protocol timers (ACK delays, poll periods, supervision)
run on the device clock, real seconds, so ``--speed`` compresses the patient, not the
protocol; values come from the timeline at scenario time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from drivers.bbraun_bcc.device import ComDevice
from drivers.bbraun_bcc.rack import Pump
from drivers.intellivue import codes
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.frames import BOF, EOF, Frame, escape
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorConfig
from drivers.intellivue.monitor_values import MonitorValues, Numeric
from drivers.masimo_ascii.device import Oximeter
from drivers.readings import PumpState
from drivers.sim.asena import AsenaSyringePump
from drivers.sim.faults import DeviceRole
from drivers.sim.ge_monitor import GeBedMonitor
from drivers.sim.timeline import PumpSnapshot, Timeline, ValueState
from drivers.textline.codec import encode_pump, encode_vitals
from drivers.textline.frames import LineFrame

__all__ = [
    "PI_PCT",
    "SIMULATORS",
    "BccRack",
    "IntelliVueBedMonitor",
    "MasimoOximeter",
    "SimTime",
    "SimulatedDevice",
    "TextLineDevice",
    "bcc_pump",
    "build_device",
]


@dataclass(frozen=True, slots=True)
class SimTime:
    """A moment for a simulated device: ``device_s``, its own clock (real seconds since the
    simulator started), and ``scenario_s``, the scenario clock running ``speed`` times
    faster (and possibly started later than minute 0)."""

    device_s: float
    scenario_s: float
    speed: float = 1.0

    def device_time_of(self, scenario_s: float) -> float:
        """The device-clock time (s) of the earlier scenario time ``scenario_s``."""
        return self.device_s - (self.scenario_s - scenario_s) / self.speed


class SimulatedDevice(Protocol):
    """The device side of one port, sans I/O. ``role`` says which faults of the scenario hit
    it; ``spoil_next_frame`` makes the next frame it sends carry a wrong checksum."""

    role: DeviceRole
    description: str

    def receive(self, data: bytes, at: SimTime) -> bytes: ...

    def tick(self, at: SimTime) -> bytes: ...

    def spoil_next_frame(self) -> None: ...


def bcc_pump(snapshot: PumpSnapshot) -> Pump:
    """A timeline pump as the B. Braun ComDevice reports it (rates mL/h, volumes mL)."""
    return Pump(
        rate_ml_h=snapshot.rate_ml_h,
        vtbi_ml=snapshot.vtbi_ml,
        infused_ml=snapshot.infused_ml,
        drug=snapshot.drug,
        concentration=snapshot.concentration_mg_ml,
        pressure_pct=snapshot.pressure_pct,
        running=snapshot.running,
        kvo=snapshot.kvo,
        bolus=snapshot.bolus,
        occlusion=snapshot.occlusion,
        air_in_line=snapshot.air_in_line,
        end_of_volume=snapshot.end_of_volume,
        near_end=snapshot.near_end,
    )


class BccRack:
    """A B. Braun ComDevice whose rack holds the scenario's pumps in ``slots`` (default:
    all). ``uptime_s`` is how long it has been on when the simulator starts (the records'
    time field)."""

    role: DeviceRole = "pumps"

    def __init__(
        self,
        timeline: Timeline,
        slots: Sequence[str] = (),
        *,
        uptime_s: float = 3600.0,
        stuffing: bool = True,
    ) -> None:
        self.slots = tuple(slots) or timeline.slots
        unknown = sorted(set(self.slots) - set(timeline.slots))
        if not self.slots:
            raise ValueError("the scenario has no pumps")
        if unknown:
            raise ValueError(f"no pump in slot {', '.join(unknown)} of the scenario")
        self._timeline = timeline
        self._uptime_s = uptime_s
        self.device = ComDevice(self._pumps(0.0), stuffing=stuffing)
        self.description = f"B. Braun ComDevice, pumps in slots {', '.join(self.slots)}"

    def _pumps(self, scenario_s: float) -> dict[str, Pump]:
        return {slot: bcc_pump(self._timeline.pump(slot, scenario_s)) for slot in self.slots}

    def receive(self, data: bytes, at: SimTime) -> bytes:
        """Answer the host from the pumps' state at ``at.scenario_s``."""
        self.device.set_pumps(self._pumps(at.scenario_s))
        return self.device.receive(data, self._uptime_s + at.device_s)

    def tick(self, at: SimTime) -> bytes:
        """A ComDevice in request mode never speaks first."""
        return b""

    def spoil_next_frame(self) -> None:
        self.device.corrupt_next_block()


MEASUREMENT_STATE: Mapping[ValueState, int] = {
    "valid": 0,
    "questionable": codes.MS_QUESTIONABLE,
    "invalid": codes.MS_INVALID,
}
"""A value's flag as IntelliVue MeasurementState bits."""


def spoil_intellivue(data: bytes) -> bytes:
    """``data`` (whole IntelliVue frames) with the first frame's FCS inverted."""
    frames = [item for item in IntelliVueFramer().feed(data) if isinstance(item, Frame)]
    if not frames:
        return data
    content = frames[0].content()
    spoiled = bytes((BOF,)) + escape(content[:-2] + bytes((content[-2] ^ 0xFF, content[-1])))
    return spoiled + bytes((EOF,)) + b"".join(frame.to_bytes() for frame in frames[1:])


_MONITOR_ON_FOR_S = 3600.0
"""How long the simulated monitor has been on when the simulator starts (its RelativeTime), so
a cuff measured before ``--start-min`` still has a measurement time."""


class IntelliVueBedMonitor:
    """A Philips IntelliVue data-export port showing the scenario's vitals. NIBP is handed to
    the monitor as a new cuff measurement at its (device-clock) measurement time."""

    role: DeviceRole = "monitor"

    def __init__(self, timeline: Timeline, config: MonitorConfig | None = None) -> None:
        if timeline.scenario.vitals is None:
            raise ValueError("the scenario has no vitals for a monitor")
        self._timeline = timeline
        start = datetime.now().replace(microsecond=0)  # the monitor's local clock
        on_for = round(_MONITOR_ON_FOR_S * codes.TICKS_PER_SECOND)  # earlier cuffs have a time
        default = MonitorConfig(bed_label="SIM", wall_at_start=start, rel_at_start=on_for)
        self.monitor = IntelliVueMonitor(MonitorValues(), config or default, 0.0)
        self._nibp_at: float | None = None
        self._spoil = False
        self.description = "Philips IntelliVue monitor, MIB/RS232 data export"

    def _update(self, at: SimTime) -> None:
        vitals = self._timeline.vitals(at.scenario_s)
        assert vitals is not None
        values = self.monitor.values
        bits = {name: MEASUREMENT_STATE[vitals.state(name)] for name in ("hr", "pr", "spo2", "rr")}
        values.hr, values.pr = Numeric(vitals.hr, bits["hr"]), Numeric(vitals.pr, bits["pr"])
        values.spo2 = Numeric(vitals.spo2, bits["spo2"])
        values.rr = Numeric(vitals.rr, bits["rr"])
        nibp = vitals.nibp
        if nibp is not None and nibp.measured_at_s != self._nibp_at:
            when = at.device_time_of(nibp.measured_at_s)
            values.measure_nibp(nibp.systolic, nibp.diastolic, nibp.mean, when)
            state = MEASUREMENT_STATE[nibp.state]
            if state:
                values.nibp_sys = Numeric(nibp.systolic, state)
                values.nibp_dia = Numeric(nibp.diastolic, state)
                values.nibp_mean = Numeric(nibp.mean, state)
            self._nibp_at = nibp.measured_at_s

    def _out(self, data: bytes) -> bytes:
        if self._spoil and data:
            self._spoil = False
            return spoil_intellivue(data)
        return data

    def receive(self, data: bytes, at: SimTime) -> bytes:
        self._update(at)
        return self._out(self.monitor.receive(data, at.device_s))

    def tick(self, at: SimTime) -> bytes:
        self._update(at)
        return self._out(self.monitor.tick(at.device_s))

    def spoil_next_frame(self) -> None:
        self._spoil = True


def _pump_state(pump: PumpSnapshot) -> PumpState:
    if pump.occlusion or pump.air_in_line:
        return "alarm"
    if pump.kvo:
        return "kvo"
    return "infusing" if pump.running else "stopped"


def _pump_line(pump: PumpSnapshot) -> LineFrame:
    flags = ("occlusion", "air_in_line", "end_of_volume", "near_end")
    remaining = None if pump.vtbi_ml is None else max(pump.vtbi_ml - pump.infused_ml, 0.0)
    values = {"RATE": pump.rate_ml_h, "VI": pump.infused_ml, "VTBI": remaining}
    return encode_pump(
        _pump_state(pump),
        {key: value if value is None else round(value, 2) for key, value in values.items()},
        drug=pump.drug,
        flags=tuple(flag for flag in flags if getattr(pump, flag)),
    )


class TextLineDevice:
    """A textline device streaming one line every ``period_s`` real seconds: the pump in
    ``slot``, or the monitor when ``slot`` is ``None``."""

    def __init__(self, timeline: Timeline, slot: str | None = None, period_s: float = 1.0) -> None:
        if slot is not None:
            timeline.pump(slot, 0.0)  # KeyError for a slot the scenario lacks
        elif timeline.scenario.vitals is None:
            raise ValueError("the scenario has no vitals; give a pump slot")
        self.role: DeviceRole = "monitor" if slot is None else "pumps"
        self._timeline, self._slot, self._period_s = timeline, slot, period_s
        self._next_s = 0.0
        self._spoil = False
        self.description = f"textline {'monitor' if slot is None else f'pump {slot}'}"

    def line(self, scenario_s: float) -> LineFrame:
        """The line the device sends at ``scenario_s``."""
        if self._slot is not None:
            return _pump_line(self._timeline.pump(self._slot, scenario_s))
        vitals = self._timeline.vitals(scenario_s)
        assert vitals is not None
        nibp = vitals.nibp
        pressures: tuple[int | None, ...] = (None, None, None)
        if nibp is not None and nibp.state != "invalid":
            pressures = (nibp.systolic, nibp.diastolic, nibp.mean)
        values = dict(zip(("SBP", "DBP", "MAP"), pressures, strict=True))
        numerics = {"HR": vitals.hr, "PR": vitals.pr, "SPO2": vitals.spo2, "RR": vitals.rr}
        values |= {
            key: None if vitals.state(key.lower()) == "invalid" else value
            for key, value in numerics.items()
        }
        return encode_vitals(values)

    def receive(self, data: bytes, at: SimTime) -> bytes:
        """The device streams; it ignores what it is sent."""
        return b""

    def tick(self, at: SimTime) -> bytes:
        if at.device_s < self._next_s:
            return b""
        self._next_s = max(self._next_s + self._period_s, at.device_s)
        data = self.line(at.scenario_s).to_bytes()
        if self._spoil:
            self._spoil = False
            body, _, check = data.rpartition(b"*")
            data = body + b"*" + b"%02X" % (int(check[:2], 16) ^ 0xFF) + b"\r\n"
        return data

    def spoil_next_frame(self) -> None:
        self._spoil = True


PI_PCT = 2.35
"""The perfusion index (%) the Masimo simulator shows when the scenario has no ``pi`` track."""


class MasimoOximeter:
    """A Masimo oximeter ("ASCII 1") streaming the scenario's SpO2, pulse rate and, from
    their optional tracks, PI (else a constant :data:`PI_PCT`), SpCO, SpMet and PVI (else
    dashes) once a second."""

    role: DeviceRole = "monitor"

    def __init__(self, timeline: Timeline, period_s: float = 1.0) -> None:
        if timeline.scenario.vitals is None:
            raise ValueError("the scenario has no vitals for an oximeter")
        self._timeline = timeline
        self.oximeter = Oximeter(period_s, datetime.now().replace(microsecond=0))
        self.description = "Masimo pulse oximeter, ASCII 1 serial output"

    def receive(self, data: bytes, at: SimTime) -> bytes:
        """The oximeter streams; it ignores what it is sent."""
        return b""

    def tick(self, at: SimTime) -> bytes:
        vitals = self._timeline.vitals(at.scenario_s)
        assert vitals is not None
        values = self.oximeter.values
        values.spo2, values.pulse_rate = vitals.spo2, vitals.pr
        values.pi = PI_PCT if vitals.pi is None else vitals.pi
        values.spco, values.spmet, values.pvi = vitals.spco, vitals.spmet, vitals.pvi
        values.sensor_off = vitals.state("spo2") == "invalid"
        values.low_quality = vitals.state("spo2") == "questionable"
        return self.oximeter.tick(at.device_s)

    def spoil_next_frame(self) -> None:
        self.oximeter.spoil_next_line()


def _bcc(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    return BccRack(timeline, slots)


def _intellivue(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if slots:
        raise ValueError("an IntelliVue monitor has no pump slots")
    return IntelliVueBedMonitor(timeline)


def _ge_dri(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if slots:
        raise ValueError("a GE monitor has no pump slots")
    return GeBedMonitor(timeline)


def _masimo(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if slots:
        raise ValueError("a Masimo oximeter has no pump slots")
    return MasimoOximeter(timeline)


def _draeger_medibus(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if slots:
        raise ValueError("a ventilator has no pump slots")
    from drivers.sim.medibus_ventilator import MedibusVentilator

    return MedibusVentilator(timeline)


def _textline(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if len(slots) > 1:
        raise ValueError("a textline port carries one device: give at most one slot")
    return TextLineDevice(timeline, slots[0] if slots else None)


def _line(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    """The ``line`` driver's default options are the textline profile: a textline monitor."""
    if slots:
        raise ValueError("the line simulator is a textline monitor (VIT lines): no pump slots")
    return TextLineDevice(timeline)


def _asena(timeline: Timeline, slots: Sequence[str]) -> SimulatedDevice:
    if len(slots) > 1:
        raise ValueError("an Alaris Asena port carries one pump: give at most one slot")
    return AsenaSyringePump(timeline, slots[0] if slots else None)


SIMULATORS: Mapping[str, Callable[[Timeline, Sequence[str]], SimulatedDevice]] = {
    "bbraun_bcc": _bcc,
    "ge_dri": _ge_dri,
    "intellivue": _intellivue,
    "masimo_ascii": _masimo,
    "textline": _textline,
    "line": _line,
    "draeger_medibus": _draeger_medibus,
    "alaris_asena": _asena,
}
"""Driver name -> how to build its simulator from a timeline and the pump slots asked for."""


def build_device(driver: str, timeline: Timeline, slots: Sequence[str] = ()) -> SimulatedDevice:
    """The simulator of ``driver`` for ``timeline``; raises :class:`ValueError` for an unknown
    driver or a device the scenario cannot feed (no vitals, unknown slot)."""
    try:
        build = SIMULATORS[driver]
    except KeyError:
        known = ", ".join(sorted(SIMULATORS))
        raise ValueError(f"no simulator for driver {driver!r} (known: {known})") from None
    try:
        return build(timeline, slots)
    except KeyError as exc:
        raise ValueError(f"no pump in slot {exc.args[0]} of the scenario") from None
