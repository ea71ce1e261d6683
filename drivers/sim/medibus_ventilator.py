"""A simulated Dräger ventilator (MEDIBUS, driver ``draeger_medibus``) showing a scenario's
``ventilator`` tracks (:mod:`.ventilation`); an omitted optional track is not sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.draeger_medibus.ventilator import Ventilator, VentilatorValues
from drivers.sim.faults import DeviceRole
from drivers.sim.timeline import Timeline
from drivers.sim.ventilation import ventilation_at

if TYPE_CHECKING:
    from drivers.sim.devices import SimTime

__all__ = ["MedibusVentilator"]


class MedibusVentilator:
    """A Dräger Evita's MEDIBUS port answering with the scenario's ventilator values."""

    role: DeviceRole = "monitor"

    def __init__(self, timeline: Timeline) -> None:
        if timeline.scenario.ventilator is None:
            raise ValueError("the scenario has no ventilator tracks")
        self._timeline = timeline
        self.ventilator = Ventilator()
        self.description = "Dräger ventilator, MEDIBUS (Evita 4 codes)"

    def _update(self, at: SimTime) -> None:
        tracks = self._timeline.scenario.ventilator
        assert tracks is not None
        now = ventilation_at(tracks, self._timeline.seed, at.scenario_s)
        self.ventilator.values = VentilatorValues(
            rr=now.rr,
            vt_ml=now.vt,
            mv_l_min=now.mv,
            ppeak=now.ppeak,
            pplat=now.pplat,
            pmean=now.pmean,
            peep=now.peep,
            fio2=now.fio2,
            etco2_pct=now.etco2,
            alarms=self.ventilator.values.alarms,
        )

    def receive(self, data: bytes, at: SimTime) -> bytes:
        self._update(at)
        return self.ventilator.receive(data, at.device_s)

    def tick(self, at: SimTime) -> bytes:
        return self.ventilator.tick(at.device_s)

    def spoil_next_frame(self) -> None:
        self.ventilator.spoil_next_frame()
