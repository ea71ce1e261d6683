"""A simulated GE monitor (S/5 Computer Interface, driver ``ge_dri``) showing a scenario's
vitals: HR (from ECG), PR and SpO2, impedance RR, the last NIBP and the axillary temperature
of the scenario's ``temp`` track (a constant :data:`TEMPERATURE_C` when it has none).

Artefacts reach the wire as DRI can carry them: an ``invalid`` value is sent as the
DATA_INVALID marker; DRI has no "questionable" flag, so a questionable value is sent as it
is. The record before a new cuff (one period ahead on the device clock) carries the NIBP
"measuring" label bit, as a real monitor shows it while the cuff inflates, so the host sees
a new cuff even when its values equal the last one's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.ge_dri.monitor import GeMonitor, MonitorValues
from drivers.sim.faults import DeviceRole
from drivers.sim.timeline import Timeline

if TYPE_CHECKING:
    from drivers.sim.devices import SimTime

__all__ = ["TEMPERATURE_C", "GeBedMonitor"]

TEMPERATURE_C = 36.8


class GeBedMonitor:
    """A GE CARESCAPE/S5 Computer Interface port streaming the scenario's vitals."""

    role: DeviceRole = "monitor"

    def __init__(self, timeline: Timeline) -> None:
        if timeline.scenario.vitals is None:
            raise ValueError("the scenario has no vitals for a monitor")
        self._timeline = timeline
        self.monitor = GeMonitor(MonitorValues(temp_c=TEMPERATURE_C))
        self.description = "GE monitor, S/5 Computer Interface (DRI)"

    def _update(self, at: SimTime) -> None:
        vitals = self._timeline.vitals(at.scenario_s)
        assert vitals is not None
        values = self.monitor.values
        shown = {
            name: None if vitals.state(name) == "invalid" else getattr(vitals, name)
            for name in ("hr", "pr", "spo2", "rr")
        }
        values.hr, values.pr, values.spo2, values.rr = (
            shown["hr"],
            shown["pr"],
            shown["spo2"],
            shown["rr"],
        )
        values.temp_c = TEMPERATURE_C if vitals.temp is None else vitals.temp
        nibp = vitals.nibp
        if nibp is None or nibp.state == "invalid":
            values.nibp = None
        else:
            values.nibp = (nibp.systolic, nibp.diastolic, nibp.mean)
        ahead_s = (self.monitor.period_s or 0) * at.speed
        upcoming = self._timeline.nibp(at.scenario_s + ahead_s)
        values.nibp_measuring = upcoming is not None and (
            nibp is None or upcoming.measured_at_s != nibp.measured_at_s
        )

    def receive(self, data: bytes, at: SimTime) -> bytes:
        self._update(at)
        return self.monitor.receive(data, at.device_s)

    def tick(self, at: SimTime) -> bytes:
        self._update(at)
        return self.monitor.tick(at.device_s)

    def spoil_next_frame(self) -> None:
        self.monitor.spoil_next_frame()
