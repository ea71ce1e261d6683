"""The alarm stage: the alarm engine between the input bus and the output bus.

It takes device readings and states (and acknowledgements) in bus order, passes every item on
and follows it with the alarm and session events it caused; a ticker advances the engine's
time for delays, escalation and silent devices. Every event is written to the alarm log
before it goes on, and the engine is restored from that log at start, so a restart neither
forgets an alarm nor raises it twice (each monitor's last NIBP cuff is kept there too, so the
two-cuff confirmation goes on). At start (after the restore, before any input) and then
every ``refresh_s`` the stage sends an :class:`AlarmRefresh` of the engine's open alarms, so
their retained state is published again, restored alarms included (the first one also
carries each bed's latest session change restored from the log). Every ``RATE_SAVE_S`` (and
when the inputs end) the pumps' rate estimators that changed are saved to the alarm log in
one transaction, and restored with the alarms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from edge.alarms.engine import AlarmEngine, EngineEvent
from edge.alarms.errors import AlarmEndedError, UnknownAlarmError
from edge.alarms.log import AlarmLog
from edge.alarms.log_guard import GuardedAlarmLog
from edge.alarms.models import SessionEvent
from edge.bus import Bus, Subscription
from edge.clock import Clock, SystemClock
from edge.device_state import DeviceState
from edge.items import (
    AckRequest,
    AlarmRefresh,
    BedRemoved,
    DeviceRemoved,
    InputItem,
    OutputItem,
    StorageStatus,
)
from edge.tasks import run_until_first_exits

__all__ = ["AlarmStage"]

log = logging.getLogger(__name__)

TICK_S = 1.0  # s between engine ticks: device_offline and escalations are timed to this
BATCH_MAX = 500
REFRESH_S = 30.0  # s between refreshes of the open alarms
RATE_SAVE_S = 15.0  # s between saves of the rate estimators' histories


class AlarmStage:
    """Runs ``engine`` from a subscription of the input bus into ``outputs``; ``clock``
    (monotonic s) times the refreshes, every ``refresh_s``."""

    def __init__(
        self,
        engine: AlarmEngine,
        alarm_log: AlarmLog | GuardedAlarmLog,
        outputs: Bus[OutputItem],
        clock: Clock | None = None,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.engine = engine
        self._log = alarm_log
        self._outputs = outputs
        self._clock = clock or SystemClock()
        self._refresh_s = refresh_s
        self._next_refresh = 0.0
        self._next_rate_save = self._clock.monotonic() + RATE_SAVE_S
        self._restored_sessions: tuple[SessionEvent, ...] = ()  # for the first refresh

    def restore(self) -> int:
        """Take up the alarms and sessions open before a restart; how many alarms."""
        alarms = self._log.open_alarms()
        self.engine.restore(
            alarms,
            self._log.sessions(),
            self._log.rate_histories(),
            cuffs=self._log.cuffs(),
        )
        self._restored_sessions = tuple(  # not of a bed removed from the config since
            event for event in self._log.session_changes() if self.engine.has_bed(event.session.bed)
        )
        if alarms:
            log.info("alarms restored from the alarm log", extra={"count": len(alarms)})
        return len(alarms)

    async def remove_devices(self, device_ids: Sequence[str]) -> None:
        """Forget devices removed by a reload; their alarms end or latch as the engine says
        (:meth:`AlarmEngine.remove_device`), logged and published like any transition."""
        events: list[EngineEvent] = []
        for device_id in device_ids:
            events += self.engine.remove_device(device_id)
        await self._emit(events)

    async def run(self, inputs: Subscription[InputItem]) -> None:
        """Refresh the open alarms, then process inputs until the input bus closes."""
        await self._refresh()
        await run_until_first_exits(
            ("alarms.inputs", self._consume(inputs)), ("alarms.ticker", self._tick())
        )
        self._save_rates()

    async def _consume(self, inputs: Subscription[InputItem]) -> None:
        while batch := await inputs.get_batch(BATCH_MAX):
            for item in batch:
                if isinstance(item, AckRequest):
                    await self._emit(self._acknowledge(item))
                    continue
                if isinstance(item, StorageStatus):
                    await self._emit(self.engine.on_storage(bool(item.faulted)))
                    continue
                if isinstance(item, DeviceRemoved):  # after its link's last item
                    await self._outputs.publish(item)
                    continue
                if isinstance(item, BedRemoved):  # after its devices' DeviceRemoved
                    await self._emit(self.engine.remove_bed(item.bed))
                    await self._outputs.publish(item)
                    continue
                if isinstance(item, DeviceState):
                    events = self.engine.on_device_state(item)
                else:
                    events = self.engine.on_reading(item)
                    if cuffs := self.engine.take_cuffs():
                        self._log.save_cuffs(cuffs)  # a new cuff every few minutes per monitor
                await self._outputs.publish(item)
                await self._emit(events)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self._emit(self.engine.tick())
            if self._clock.monotonic() >= self._next_refresh:
                await self._refresh()
            if self._clock.monotonic() >= self._next_rate_save:
                self._save_rates()

    def _save_rates(self) -> None:
        self._next_rate_save = self._clock.monotonic() + RATE_SAVE_S
        self._log.save_rate_histories(self.engine.rate_histories(), self._clock.now())

    async def _refresh(self) -> None:
        self._next_refresh = self._clock.monotonic() + self._refresh_s
        alarms, sessions = tuple(self.engine.active()), self._restored_sessions
        self._restored_sessions = ()
        await self._outputs.publish(AlarmRefresh(alarms, self._clock.now(), sessions))

    def _acknowledge(self, request: AckRequest) -> Sequence[EngineEvent]:
        try:
            return self.engine.acknowledge(
                request.alarm_id, request.by, request.at, via=request.dashboard
            )
        except UnknownAlarmError:
            # Every edge of a site hears every acknowledgement; another edge owns this alarm.
            log.debug(
                "acknowledgement for an alarm of another edge", extra={"alarm": request.alarm_id}
            )
        except AlarmEndedError:
            log.info(
                "acknowledgement for an alarm that has ended", extra={"alarm": request.alarm_id}
            )
        except ValueError as exc:
            log.warning(
                "acknowledgement rejected", extra={"alarm": request.alarm_id, "error": str(exc)}
            )
        return []

    async def _emit(self, events: Sequence[EngineEvent]) -> None:
        if not events:
            return
        self._log.append(events)  # a few ms of fsync, on alarm transitions only
        for event in events:
            await self._outputs.publish(event)
