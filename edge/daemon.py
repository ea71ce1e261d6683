"""The daemon: one TaskGroup running a session per port, the alarm stage, the bus consumers
and the publisher.

Data flows one way: sessions -> input bus -> alarm stage -> output bus -> consumers (the
outbox writer, the log tap, the metrics, and the HL7 and FHIR outputs when configured) ->
outbox -> publisher -> broker (and each clinical output's queue -> its sender -> receiver).
The HTTP listener serves the dashboard (a view of the broker, like any other dashboard) and
``/metrics``. SIGHUP, or ``infusion-edge reload`` on the control socket, reloads the config
file live (:mod:`edge.reload.reloader`): each link session is a task of its own
(:class:`~edge.reload.links.Links`), so one can be stopped or started without the others.
Acknowledgements from the broker enter the input bus once the publisher's verifier accepted
their signature (the built-in dashboard signs with its own key like any other dashboard), so
the alarm engine sees everything in one order. Shutdown on SIGTERM or
SIGINT, in order and in bounded time: stop reading (sessions send their goodbye bytes and close
their ports), close the input bus so the alarm stage drains it, close the output bus so the
consumers drain into the outbox, let the publisher flush the outbox and publish ``offline``,
then close the outbox and the alarm log. A session that fails unexpectedly is logged with its
traceback and restarted after a backoff; the other devices keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge import __version__
from edge.alarm_stage import AlarmStage
from edge.alarms.engine import AlarmEngine
from edge.alarms.log_guard import GuardedAlarmLog
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import Clock, SystemClock
from edge.config import Config, DeviceConfig
from edge.fhir.stack import fhir_stack
from edge.forward.stack import ForwardStack
from edge.hl7.stack import hl7_stack
from edge.items import AckRequest, InputItem, OutputItem
from edge.metrics import EdgeMetrics
from edge.plausibility import plausible_ranges
from edge.publish.ack_verifier import AckVerifier, own_dashboard_secret
from edge.publish.mqtt import Publisher
from edge.publish.outbox import Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import AckCommand, EnvelopeFactory
from edge.publish.topics import AckTopic, Topics
from edge.reload.changes import ChangedBy
from edge.reload.control import ControlServer
from edge.reload.links import Links
from edge.reload.reloader import Reloader
from edge.session import LinkSession
from edge.storage.monitor import StorageMonitor
from edge.tap import log_bus_items
from edge.web import create_app, listen_configured, serve
from edge.web.dashboard import Dashboard
from edge.web.metrics import DashboardMetrics

__all__ = ["Daemon", "raise_open_file_limit"]

log = logging.getLogger(__name__)

STOP_READING_TIMEOUT_S = 3.0
DRAIN_TIMEOUT_S = 5.0
FLUSH_TIMEOUT_S = 5.0
LAZY_CONSUMER_S = 0.1  # s the log and metrics consumers wait after draining the output bus

Consumer = Callable[[Subscription[OutputItem]], Coroutine[Any, Any, None]]


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Daemon:
    """The running edge. ``run()`` returns after ``stop()`` (or a signal) and a clean shutdown."""

    def __init__(
        self,
        config: Config,
        clock: Clock | None = None,
        http_socket: socket.socket | None = None,
        config_path: Path | None = None,
    ) -> None:
        """``http_socket``: a listening socket for the dashboard, bound by the caller (the
        demo binds it first to report a taken port); by default ``http.bind``:``http.port``.
        ``config_path``: the file ``config`` came from, reloaded on SIGHUP and through the
        control socket (without it the daemon cannot reload)."""
        self.config = config
        self._http_socket = http_socket
        self.clock = clock or SystemClock()
        self.inputs: Bus[InputItem] = Bus()
        self.outputs: Bus[OutputItem] = Bus()
        self._stop = asyncio.Event()
        storage = config.storage
        self.alarm_log = GuardedAlarmLog(
            storage.alarm_log_path, corrupt_notice_s=storage.corrupt_notice_s
        )
        self.alarms = AlarmStage(
            AlarmEngine.from_config(config, self.clock),
            self.alarm_log,
            self.outputs,
            self.clock,
            config.mqtt.alarm_refresh_s,
        )
        self._alarm_inputs = self.inputs.subscribe("alarms")
        self.envelopes = EnvelopeFactory(config.edge_id)
        self.topics = Topics(config.mqtt.topic_prefix, config.site)
        self.outbox = Outbox(
            storage.outbox_path,
            storage.max_messages,
            storage.max_age_s,
            memory_max_messages=storage.memory_max_messages,
            corrupt_notice_s=storage.corrupt_notice_s,
        )
        self.storage = StorageMonitor([self.outbox, self.alarm_log], self.inputs, storage.retry_s)
        ack_secret = own_dashboard_secret(config)
        writer = OutboxWriter(
            self.outbox,
            self.topics,
            self.envelopes,
            config.mqtt.telemetry_expiry_s,
            labels={bed: b.label for bed, b in config.beds.items() if b.label},
        )
        self.publisher = Publisher(
            config.mqtt,
            config.edge_id,
            self.topics,
            self.outbox,
            self.envelopes,
            __version__,
            self.clock.now(),
            on_ack=self._on_ack,
            verifier=AckVerifier.from_config(config, ack_secret, self.clock),
        )
        self.hl7 = hl7_stack(config, config.hl7) if config.hl7 is not None else None
        self.fhir = fhir_stack(config, config.fhir) if config.fhir is not None else None
        self.clinical: list[ForwardStack] = [s for s in (self.hl7, self.fhir) if s is not None]
        self.metrics = EdgeMetrics(
            config,
            __version__,
            lambda: self.publisher.counters,
            self.outbox,
            self.alarms.engine,
            self.storage.faults,
            **({"hl7": self.hl7.status} if self.hl7 is not None else {}),
            **({"fhir": self.fhir.status} if self.fhir is not None else {}),
        )
        dashboard = Dashboard(config, ack_secret=ack_secret) if config.http.enabled else None
        self._dashboard_metrics = DashboardMetrics(dashboard) if dashboard else None
        self.web = (
            create_app(
                config,
                extra_routes=[Route("/metrics", self._metrics_endpoint)],
                ready_checks={
                    "broker": self.publisher.readiness,
                    "devices": lambda: bool(config.devices),
                    "storage": self.storage.ok,
                },
                dashboard=dashboard,
            )
            if dashboard
            else None
        )
        self.links = Links(
            self.inputs, self.clock, plausible_ranges(config.plausibility), _supervise
        )
        self.reloader = (
            Reloader(
                config_path,
                config,
                clock=self.clock,
                links=self.links,
                alarms=self.alarms,
                alarm_log=self.alarm_log,
                store=writer.store,
                topics=self.topics,
                envelopes=self.envelopes,
                metrics=self.metrics,
                inputs=self.inputs,
                outputs=[stack.output for stack in self.clinical],
            )
            if config_path is not None
            else None
        )
        self._hup = asyncio.Event()
        self._consumers: list[tuple[Consumer, Subscription[OutputItem]]] = [
            (writer.run, self.outputs.subscribe("outbox")),
            (log_bus_items, self.outputs.subscribe("log", lazy_s=LAZY_CONSUMER_S)),
            (self.metrics.consume, self.outputs.subscribe("metrics", lazy_s=LAZY_CONSUMER_S)),
        ]
        for stack in self.clinical:
            self._consumers.append(
                (stack.output.consume, self.outputs.subscribe(stack.output.name))
            )

    def stop(self) -> None:
        """Ask the daemon to shut down."""
        self._stop.set()

    async def run(self) -> None:
        """Run until stopped; install SIGTERM/SIGINT handlers while running."""
        limit = raise_open_file_limit()
        links = self.config.links()
        log.info(
            "edge starting",
            extra={
                "site": self.config.site,
                "edge": self.config.edge_id,
                "devices": len(self.config.devices),
                "ports": len(links),
                "open_file_limit": limit,
            },
        )
        http = self._listen() if self.web else None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, self._hup.set)
        await self.outbox.open()  # storage faults never stop the daemon (docs/integrator.md)
        self.alarm_log.open()
        for stack in self.clinical:
            await stack.open()
        try:
            self.alarms.restore()
            if self.reloader is not None:
                await self.reloader.publish_state()
            await self._run(links, http)
        finally:
            await self.outbox.close()
            self.alarm_log.close()
            for stack in self.clinical:
                await stack.close()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        log.info("edge stopped", extra={"edge": self.config.edge_id})

    def _listen(self) -> socket.socket:
        if self._http_socket is not None:
            return self._http_socket
        return listen_configured(self.config.http)

    async def _metrics_endpoint(self, _request: Request) -> Response:
        text = self.metrics.render()
        if self._dashboard_metrics is not None:  # the dashboard's own, beside the edge's
            text += self._dashboard_metrics.render()
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    async def _on_ack(self, topic: AckTopic, command: AckCommand) -> None:
        await self.inputs.publish(
            AckRequest(topic.alarm_id, command.by, command.at, command.dashboard)
        )

    def _on_signal(self, signum: int) -> None:
        log.info("signal received; stopping", extra={"signal": signal.Signals(signum).name})
        self._stop.set()

    async def _reload_on_signal(self) -> None:
        while True:
            await self._hup.wait()
            self._hup.clear()
            if self.reloader is None:
                log.warning("SIGHUP ignored: this daemon was not started from a config file")
                continue
            log.info("signal received; reloading the config", extra={"signal": "SIGHUP"})
            await self.reloader.reload(ChangedBy(means="signal"))

    async def _refresh_config_state(self, reloader: Reloader) -> None:
        """The retained config message again every ``mqtt.alarm_refresh_s``, as the alarm
        stage republishes the open alarms and sessions."""
        while True:
            await asyncio.sleep(self.config.mqtt.alarm_refresh_s)
            await reloader.refresh_state()

    def _control_tasks(self, tasks: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        started = [tasks.create_task(self._reload_on_signal(), name="control.signal")]
        if self.reloader is not None:
            refresh = self._refresh_config_state(self.reloader)
            started.append(tasks.create_task(refresh, name="control.config_refresh"))
        control = self.config.control
        if self.reloader is not None and control.enabled:
            server = ControlServer(control.socket_path(os.environ), self.reloader.reload)
            started.append(tasks.create_task(server.run(), name="control.socket"))
        return started

    async def _run(self, links: list[list[DeviceConfig]], http: socket.socket | None) -> None:
        async with asyncio.TaskGroup() as tasks:
            web = []
            if self.web is not None and http is not None:
                web.append(tasks.create_task(serve(self.config, self.web, sock=http), name="http"))
                log.info(
                    "dashboard and /metrics listening",
                    extra={"url": f"http://{self.config.http.bind}:{self.config.http.port}/"},
                )
            consumers = [
                tasks.create_task(consume(items), name=items.name)
                for consume, items in self._consumers
            ]
            publisher = tasks.create_task(self.publisher.run(), name="mqtt.publisher")
            outputs = [publisher]
            outputs += [tasks.create_task(s.run(), name=s.output.name) for s in self.clinical]
            alarms = tasks.create_task(self.alarms.run(self._alarm_inputs), name="alarms")
            self.links.start_all(tasks, links)
            control = self._control_tasks(tasks)
            storage = tasks.create_task(self.storage.run(), name="storage.monitor")
            await self._stop.wait()
            await _cancel_and_wait(control, 1.0, "control")
            readers = [*self.links.tasks(), storage]
            await _cancel_and_wait(readers, STOP_READING_TIMEOUT_S, "sessions")
            await self.inputs.close()
            _, pending = await asyncio.wait([alarms], timeout=DRAIN_TIMEOUT_S)
            await _cancel_and_wait(list(pending), 1.0, "alarms")
            await self.outputs.close()
            _, pending = await asyncio.wait(consumers, timeout=DRAIN_TIMEOUT_S)
            await _cancel_and_wait(list(pending), 1.0, "consumers")
            self.publisher.finish()
            for stack in self.clinical:
                stack.finish()
            _, pending = await asyncio.wait(outputs, timeout=FLUSH_TIMEOUT_S)
            await _cancel_and_wait(list(pending), 1.0, "outputs")
            await _cancel_and_wait(web, 7.0, "http")


async def _cancel_and_wait(tasks: list[asyncio.Task[None]], grace_s: float, what: str) -> None:
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    if pending:
        log.warning("tasks did not stop in time", extra={"what": what, "count": len(pending)})


async def _supervise(session: LinkSession) -> None:
    """Run ``session``; restart it after an unexpected error (a bug), with backoff."""
    backoff = Backoff(initial=1.0, cap=60.0)
    while True:
        try:
            await session.run()
        except Exception:  # the supervisor boundary: a bug in one session spares the others
            log.exception("session failed; restarting", extra={"session": session.name})
            await asyncio.sleep(backoff.next_delay())
