"""The Alaris Asena simulator: one syringe pump of the scenario behind its RS-232 port.

It answers with :class:`~drivers.alaris_asena.device.AsenaPump` (the frame code the host
decodes with) from the scenario's pump program at scenario time: the rate the pump shows
(0 while stopped or halted; the KVO rate after the VTBI), the volume infused, which follows
the *delivered* rate (so ``rate_drift`` shows as it does through a B. Braun), the VTBI. The
pump's own alarms have no public codes: an occlusion or air in line is sent as the made-up
codes ``AL_SIM_OCCLUSION`` / ``AL_SIM_AIR``, which the host publishes raw. The line
pressure is the scenario's (% of the occlusion limit) read against a 200 mmHg limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.alaris_asena.device import AsenaPump, PumpValues
from drivers.sim.faults import DeviceRole
from drivers.sim.timeline import PumpSnapshot, Timeline

if TYPE_CHECKING:
    from drivers.sim.devices import SimTime

__all__ = ["AsenaSyringePump", "asena_values"]

PRESSURE_LIMIT_MMHG = 200.0
SIM_ALARMS = (("occlusion", "AL_SIM_OCCLUSION"), ("air_in_line", "AL_SIM_AIR"))


def asena_values(pump: PumpSnapshot) -> PumpValues:
    """A timeline pump as the Asena shows it."""
    codes = [code for flag, code in SIM_ALARMS if getattr(pump, flag)]
    running = pump.running or pump.kvo
    return PumpValues(
        rate_ml_h=round(pump.rate_ml_h, 2) if running else 0.0,
        infused_ml=round(pump.infused_ml, 3),
        vtbi_ml=pump.vtbi_ml,
        pressure_mmhg=round(PRESSURE_LIMIT_MMHG * pump.pressure_pct / 100.0, 2),
        alarm_code=codes[0] if codes else None,
    )


class AsenaSyringePump:
    """The scenario's pump in ``slot`` (default: its first) as an Alaris Asena."""

    role: DeviceRole = "pumps"

    def __init__(self, timeline: Timeline, slot: str | None = None) -> None:
        if not timeline.slots:
            raise ValueError("the scenario has no pumps")
        self.slot = slot or timeline.slots[0]
        timeline.pump(self.slot, 0.0)  # KeyError for a slot the scenario lacks
        self._timeline = timeline
        self.pump = AsenaPump(asena_values(timeline.pump(self.slot, 0.0)))
        self.description = f"Alaris Asena syringe pump (scenario pump {self.slot})"

    def receive(self, data: bytes, at: SimTime) -> bytes:
        """Answer the host from the pump's state at ``at.scenario_s``."""
        self.pump.values = asena_values(self._timeline.pump(self.slot, at.scenario_s))
        return self.pump.receive(data)

    def tick(self, at: SimTime) -> bytes:
        """The pump never speaks first."""
        return b""

    def spoil_next_frame(self) -> None:
        self.pump.spoil_next_frame()
