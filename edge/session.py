"""A link session supervises one port and the device(s) on it.

Loop: open the link -> drive the driver's conversation (read, tick, write) -> make each
reading's impossible values ``invalid`` (:func:`~drivers.plausibility.check_plausible`, counted
per device) -> put readings on the bus -> on a link error or silence, close, back off (capped,
jittered) and reopen. Beside it, a watchdog turns silence into ``stale`` then ``offline`` per
device and publishes every change as a :class:`DeviceState`; it sleeps until the next moment a
state can change (:func:`connection_changes_at`, a refresh or a count due), woken early only
when something brings that moment forward (a device heard again, a count, an error). Bad bytes
are counted, never fatal; only this module decides to reconnect. What the device side reports
for a device instead of its data (:class:`~drivers.base.DeviceError`, e.g. an empty pump slot)
becomes that device's ``last_error`` until its next reading or a link error, and is counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drivers.base import Conversation, DeviceError, DeviceTarget, Driver, Instant
from drivers.errors import LinkError, PortMissingError
from drivers.link import Link, open_link
from drivers.plausibility import PLAUSIBLE_RANGES, PlausibleRange, check_plausible
from drivers.readings import PumpReading, VitalsReading
from edge.backoff import Backoff
from edge.bus import Bus
from edge.clock import Clock
from edge.config import DeviceConfig
from edge.device_state import Connection, DeviceState, connection_after
from edge.items import InputItem
from edge.plausibility import ImplausibleCount
from edge.reconnect import Outcome, ReconnectPolicy, reopen_after
from edge.tasks import run_until_first_exits

__all__ = ["TICK_GRID_S", "LinkSession", "connection_changes_at", "session_name", "tick_grid_at"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 1.0  # time allowed for the goodbye bytes (a release request)
STATE_REFRESH_S = 10.0  # a device's state (with its frame counters) is sent at least this often
BAD_FRAME_LOG_INTERVAL_S = 60.0
START_SPREAD_MAX_S = 1.0  # s, the first open waits a random part of the driver's period, up to this
MIN_TICK_GAP_S = 0.001  # s; the ticker never spins, whatever a conversation asks
IMPLAUSIBLE_STATE_GAP_S = 1.0  # s; a new implausible count is sent this soon, not at refresh
TICK_GRID_S = 0.04  # s; every link's ticker wakes on a multiple of this (see tick_grid_at)


def tick_grid_at(t: float, grid_s: float = TICK_GRID_S) -> float:
    """The first multiple of ``grid_s`` at or after ``t`` (monotonic s; not finite: as is).

    Every link's ticker sleeps until there, so the links whose polls, ACKs and timeouts fall
    due within one step are served in one pass of the event loop and their answers come back
    together: a ward of devices polled once a second wakes the daemon 1 / ``grid_s`` times a
    second, not several times per device, each wake-up's cost shared by the readings it
    brings (``bench/RESULTS.md``). A tick is at most ``grid_s`` late; conversations keep
    their periods on their own phase (:func:`~drivers.base.next_period`), so the late ticks
    stretch no period."""
    if not math.isfinite(t):
        return t
    return math.ceil(t / grid_s - 1e-9) * grid_s  # a hair of slack: a time on the grid stays


def connection_changes_at(
    last_seen: float | None, stale_after_s: float, timeout_s: float, now: float
) -> float:
    """The monotonic second, after ``now``, at which the connection derived from silence
    (:func:`~edge.device_state.connection_after`) changes if no reading comes: the stale
    time, then the timeout, after ``last_seen``; ``inf`` when none is left (offline, or never
    heard from: only a reading changes that). Decided on the silence as ``connection_after``
    computes it, so a look that rounding makes a hair early is followed by another, never by
    a skipped state."""
    if last_seen is None:
        return math.inf
    silence = now - last_seen
    if silence < stale_after_s < timeout_s:
        return last_seen + stale_after_s
    return last_seen + timeout_s if silence < timeout_s else math.inf


def session_name(port: str, devices: Sequence[DeviceConfig]) -> str:
    """``device[pump-1]`` for a port with one device, ``link[/dev/ttyUSB0]`` for a shared one:
    the name of tasks, log context and the ``link`` metric label."""
    return f"device[{devices[0].id}]" if len(devices) == 1 else f"link[{port}]"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _SilentLinkError(Exception):
    """Every device on the link has been silent past its timeout."""


@dataclass(slots=True)
class _Device:
    config: DeviceConfig
    stale_after: float
    timeout: float
    implausible: ImplausibleCount
    reopen_after: float = 0.0  # s of silence after which the device wants its link reopened
    implausible_sent: int = 0  # the count in the last DeviceState sent
    last_seen: float | None = None  # monotonic s of the last reading
    last_reading: PumpReading | VitalsReading | None = None
    connection: Connection | None = None
    published_at: float = float("-inf")  # monotonic s of the last DeviceState sent
    error: str | None = None  # what the device side reported instead of data, until a reading
    error_sent: str | None = None  # the error in the last DeviceState sent
    errors: int = 0  # counted device errors since the daemon started
    errors_sent: int = 0  # the count in the last DeviceState sent


def _device(config: DeviceConfig, driver: Driver) -> _Device:
    stale_after = config.stale_after(driver)
    return _Device(
        config,
        stale_after,
        config.timeout_s,
        ImplausibleCount(config.id, config.bed),
        reopen_after(stale_after, config.timeout_s),
    )


class LinkSession:
    """The devices on one port, read through one driver, until cancelled."""

    def __init__(
        self,
        port: str,
        devices: Sequence[DeviceConfig],
        driver: Driver,
        bus: Bus[InputItem],
        clock: Clock,
        backoff: Backoff | None = None,
        ranges: Mapping[str, PlausibleRange] = PLAUSIBLE_RANGES,
    ) -> None:
        self.port = port
        self.driver = driver
        self._bus = bus
        self._clock = clock
        self._reconnect = ReconnectPolicy(backoff)
        self._ranges = ranges
        self._devices = {d.id: _device(d, driver) for d in devices}
        self._targets = [DeviceTarget(d.id, d.bed, d.address) for d in devices]
        first = devices[0]
        self._options = driver.options.model_validate(first.options)
        self._settings = first.serial.resolve(driver.serial_defaults)
        self.name = session_name(port, devices)
        self.frames_ok = 0
        self.frames_bad = 0
        self.reconnects = 0
        self._last_error: str | None = None
        self._bad_logged_at = float("-inf")
        self._bad_unlogged = 0
        self._wake: asyncio.Future[None] | None = None  # resolved to wake the ticker
        self._wake_at = 0.0  # monotonic s the ticker sleeps until
        self._wake_timer: asyncio.TimerHandle | None = None  # resolves _wake at _wake_at
        self._watch_wake: asyncio.Future[None] | None = None  # resolved to wake the watchdog
        self._watch_at = math.inf  # monotonic s the watchdog sleeps until
        self._watch_due = -math.inf  # monotonic s a state may next change or be due
        self._link_readings = 0  # readings on the current link

    @property
    def last_error(self) -> str | None:
        """The latest link error (cannot open, lost, silent), if any."""
        return self._last_error

    async def run(self) -> None:
        """Read the devices until cancelled; never returns otherwise."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._watch(), name=f"{self.name}.watchdog")
            tasks.create_task(self._connect_loop(), name=f"{self.name}.link")

    def _instant(self) -> Instant:
        return Instant(self._clock.monotonic(), self._clock.now())

    def _context(self) -> dict[str, object]:
        return {"session": self.name, "port": self.port, "driver": self.driver.name}

    async def _connect_loop(self) -> None:
        # Sessions started together would poll their devices in step, every reading of the
        # ward arriving in one burst each period: start each at a random point of its period.
        spread_s = min(self.driver.period_s, START_SPREAD_MAX_S)
        await asyncio.sleep(random.random() * spread_s)  # noqa: S311 (timing, not secrets)
        opened_before = False
        while True:
            link = await self._open()
            had_reading = False
            if isinstance(link, Outcome):
                outcome = link
            else:
                if opened_before:
                    self.reconnects += 1
                opened_before = True
                self._link_readings = 0
                outcome = await self._serve_and_close(link)
                had_reading = self._link_readings > 0
            delay = self._reconnect.delay_after(outcome, had_reading)
            log.debug(
                "retrying link",
                extra={**self._context(), "after": outcome.value, "delay_s": round(delay, 2)},
            )
            await asyncio.sleep(delay)

    async def _open(self) -> Link | Outcome:
        try:
            link = await open_link(self.port, self._settings)
        except LinkError as exc:
            message = str(exc)
            level = logging.DEBUG if message == self._last_error else logging.WARNING
            log.log(level, "cannot open link", extra={**self._context(), "error": message})
            self._set_link_error(message)
            return Outcome.MISSING if isinstance(exc, PortMissingError) else Outcome.FAILED
        log.info("link open", extra=self._context())
        return link

    async def _serve_and_close(self, link: Link) -> Outcome:
        """Drive the conversation on ``link`` until it breaks or falls silent; close it."""
        conversation = self.driver.conversation(self._targets, self._options)
        try:
            await link.write(conversation.open(self._instant()))
            await run_until_first_exits(
                (f"{self.name}.reader", self._read(link, conversation)),
                (f"{self.name}.ticker", self._tick(link, conversation)),
            )
        except LinkError as exc:
            self._set_link_error(str(exc))
            log.warning("link lost", extra={**self._context(), "error": self._last_error})
            return Outcome.LOST
        except _SilentLinkError:
            self._last_error = "no data from any device; reopening the link"
            log.warning("link silent", extra={**self._context(), "error": self._last_error})
            return Outcome.SILENT
        finally:
            await self._close(link, conversation)
        return Outcome.LOST  # not reached: the reader and the ticker return only by raising

    async def _close(self, link: Link, conversation: Conversation) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                goodbye = conversation.close(self._instant())
                if goodbye:
                    await link.write(goodbye)
                await link.close()
        except (LinkError, TimeoutError):
            log.debug("link closed uncleanly", extra=self._context())
        log.info("link closed", extra=self._context())

    async def _read(self, link: Link, conversation: Conversation) -> None:
        while True:
            data = await link.read()
            at = self._instant()
            exchange = conversation.receive(data, at)
            self._wake_ticker(conversation)
            if exchange.send:
                await link.write(exchange.send)
            self.frames_ok += exchange.frames_ok
            if exchange.errors:
                self._count_bad(exchange.errors, at.monotonic)
            self._note_device_errors(exchange.device_errors)
            for reading in exchange.readings:
                device = self._devices.get(reading.device_id)
                if device is None:
                    continue
                reading, implausible = check_plausible(reading, self._ranges)
                if implausible:
                    device.implausible.add(implausible, at.monotonic, self._context())
                device.last_seen = at.monotonic
                device.last_reading = reading
                device.error = None
                self._link_readings += 1
                await self._bus.publish(reading)
            if exchange.readings or exchange.device_errors:
                await self._publish_changes()

    async def _tick(self, link: Link, conversation: Conversation) -> None:
        """Tick the conversation when it asks to be ticked (see ``next_tick_at``), and check
        for a silent link when the last device's reopen time is reached; sleep in between."""
        loop = asyncio.get_running_loop()
        opened_at = self._clock.monotonic()
        while True:
            now = self._clock.monotonic()
            due, silent_at = conversation.next_tick_at(), self._silent_at(opened_at)
            wake_at = tick_grid_at(silent_at if due is None else min(due, silent_at))
            self._wake = loop.create_future()
            self._wake_at = wake_at
            delay = max(wake_at - now, MIN_TICK_GAP_S)
            self._wake_timer = loop.call_later(delay, _resolve, self._wake)
            try:
                await self._wake
            finally:
                if self._wake_timer is not None:
                    self._wake_timer.cancel()
                self._wake, self._wake_timer = None, None
            at = self._instant()
            data = conversation.tick(at)
            if data:
                await link.write(data)
            if at.monotonic >= self._silent_at(opened_at):
                raise _SilentLinkError

    def _wake_ticker(self, conversation: Conversation) -> None:
        """When ``receive`` brought a tick forward (an ACK to send): wake the ticker at once
        if it is due, else move its timer to the new time, so the ticker itself only wakes
        to tick."""
        wake = self._wake
        if wake is None or wake.done():
            return
        due = conversation.next_tick_at()
        if due is None or (due := tick_grid_at(due)) >= self._wake_at:
            return
        delay = due - self._clock.monotonic()
        if delay <= 0 or self._wake_timer is None:
            wake.set_result(None)
            return
        self._wake_timer.cancel()
        self._wake_at = due
        self._wake_timer = asyncio.get_running_loop().call_later(
            max(delay, MIN_TICK_GAP_S), _resolve, wake
        )

    def _silent_at(self, opened_at: float) -> float:
        """When every device will have been silent past its reopen time (see
        :func:`~edge.reconnect.reopen_after`) on this link, if none speaks."""
        return max(
            (opened_at if d.last_seen is None else max(d.last_seen, opened_at)) + d.reopen_after
            for d in self._devices.values()
        )

    def _set_link_error(self, message: str) -> None:
        """A link error supersedes what the devices reported over the link before it."""
        self._last_error = message
        for device in self._devices.values():
            if device.error is not None:
                device.error = None
                self._wake_watchdog(-math.inf)  # the cleared error is sent at once

    def _note_device_errors(self, errors: list[DeviceError]) -> None:
        for error in errors:
            device = self._devices.get(error.device_id)
            if device is None:
                continue
            if error.reason != device.error:
                log.warning(
                    "device error",
                    extra={"device": device.config.id, "reason": error.reason, **self._context()},
                )
            device.error = error.reason
            device.errors += int(error.counted)

    def _count_bad(self, errors: list[str], now: float) -> None:
        self.frames_bad += len(errors)
        self._bad_unlogged += len(errors)
        for reason in errors:
            log.debug("bad frame", extra={**self._context(), "reason": reason})
        if now - self._bad_logged_at >= BAD_FRAME_LOG_INTERVAL_S:
            log.warning(
                "bad frames",
                extra={**self._context(), "count": self._bad_unlogged, "last_reason": errors[-1]},
            )
            self._bad_logged_at = now
            self._bad_unlogged = 0

    async def _watch(self) -> None:
        """Publish what changed, then sleep until the next moment a state can change (see
        :meth:`_update_states`), or until woken because that moment came forward."""
        loop = asyncio.get_running_loop()
        while True:
            await self._publish_changes()
            due = self._watch_due  # the latest look's, whoever looked (a reading may have)
            delay = max(due - self._clock.monotonic(), MIN_TICK_GAP_S)
            self._watch_wake = loop.create_future()
            self._watch_at = due
            timer = loop.call_later(delay, _resolve, self._watch_wake)
            try:
                await self._watch_wake
            finally:
                timer.cancel()
                self._watch_wake = None
                self._watch_at = math.inf

    def _wake_watchdog(self, due: float) -> None:
        """Wake the watchdog if it sleeps past ``due``. Readings push the stale and offline
        times of the devices heard later, so this is rare: a device heard again after
        silence, a count or an error to send."""
        wake = self._watch_wake
        if wake is not None and due < self._watch_at and not wake.done():
            wake.set_result(None)

    async def _publish_changes(self) -> None:
        for state in self._update_states():
            await self._bus.publish(state)

    def _update_states(self) -> list[DeviceState]:
        """Recompute each device's connection; the states to publish: those that changed, and
        every ``STATE_REFRESH_S`` the others, so their link counters stay current. Notes when
        the next of these is due (a connection change, a refresh, a new count held back by
        ``IMPLAUSIBLE_STATE_GAP_S``) and wakes the watchdog if it sleeps past it."""
        now = self._clock.monotonic()
        states = []
        due = math.inf
        for device in self._devices.values():
            silence = None if device.last_seen is None else now - device.last_seen
            connection = connection_after(silence, device.stale_after, device.timeout)
            changed = connection != device.connection
            since_sent = now - device.published_at
            recount = (
                device.implausible.total != device.implausible_sent
                or device.errors != device.errors_sent
            )
            if (
                changed
                or device.error != device.error_sent
                or since_sent >= STATE_REFRESH_S
                or (recount and since_sent >= IMPLAUSIBLE_STATE_GAP_S)
            ):
                device.connection = connection
                device.published_at = now
                states.append(self._state_of(device))
            if changed:
                log.info(
                    "device connection",
                    extra={
                        "device": device.config.id,
                        "bed": device.config.bed,
                        "connection": connection,
                        **self._context(),
                    },
                )
            due = min(
                due,
                connection_changes_at(device.last_seen, device.stale_after, device.timeout, now),
                device.published_at + STATE_REFRESH_S,
            )
            if recount and device.published_at != now:  # held back: sent when the gap is over
                due = min(due, device.published_at + IMPLAUSIBLE_STATE_GAP_S)
        self._watch_due = due
        self._wake_watchdog(due)
        return states

    def _state_of(self, device: _Device) -> DeviceState:
        assert device.connection is not None
        device.implausible_sent = device.implausible.total
        device.error_sent, device.errors_sent = device.error, device.errors
        reading = device.last_reading
        return DeviceState(
            device_id=device.config.id,
            bed=device.config.bed,
            driver=self.driver.name,
            connection=device.connection,
            since=self._clock.now(),
            last_reading_at=reading.ts if reading is not None else None,
            frames_ok=self.frames_ok,
            frames_bad=self.frames_bad,
            reconnects=self.reconnects,
            last_error=device.error or self._last_error,
            implausible=device.implausible_sent,
            device_errors=device.errors,
        )
