"""Prometheus metrics of the dashboard: technical health only, never a clinical value.

What an operator watches on a dashboard the nurses rely on: whether it hears the broker (else
its pages show a banner and no live data), what it shows (edges by status, beds, alarms by
priority: a sudden drop says the feed lost something), how many pages follow it live and how
many it turned away at its caps, the MQTT messages it refused as invalid, and the logins by
result (a run of failures or lockouts is someone guessing passwords). Computed when Prometheus
scrapes, from state the dashboard keeps anyway. Labels are fixed sets: bounded, and no user
name or address ever becomes a label (those are in the audit log). ``infusion-edge dashboard``
serves them on ``/metrics``; the daemon adds them to its own when it runs the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.metrics import PRIORITIES, MetricFamily, MetricSpec
from edge.web.auth import LOGIN_RESULTS
from edge.web.dashboard import Dashboard

__all__ = ["DASHBOARD_METRICS", "DashboardMetrics", "metrics_route"]

EDGE_STATES = ("online", "offline", "lost")
REFUSAL_STATUSES = ("429", "503")

DASHBOARD_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "dashboard_broker_connected",
        "gauge",
        "1 while the dashboard is connected to the broker (else its pages show no live data).",
    ),
    MetricSpec(
        "dashboard_messages",
        "counter",
        "MQTT messages the dashboard read, by result (taken, or rejected: an invalid payload).",
        ("result",),
    ),
    MetricSpec(
        "dashboard_edges",
        "gauge",
        "Edges the dashboard shows, by their last status (online, offline, lost).",
        ("state",),
    ),
    MetricSpec("dashboard_beds", "gauge", "Beds the dashboard shows."),
    MetricSpec(
        "dashboard_alarms", "gauge", "Alarms the dashboard shows, by priority.", ("priority",)
    ),
    MetricSpec("dashboard_streams", "gauge", "Event streams open (pages following live)."),
    MetricSpec(
        "dashboard_streams_refused",
        "counter",
        "Event streams refused at the caps, by HTTP status (429: one client's, 503: all).",
        ("status",),
    ),
    MetricSpec(
        "dashboard_logins",
        "counter",
        "Login attempts, by result (accepted, failed, locked: refused by the throttle, busy).",
        ("result",),
    ),
)


class DashboardMetrics:
    """The dashboard's metrics, read from ``dashboard`` at each scrape."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Collector(self))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)

    def families(self) -> dict[str, MetricFamily]:
        """Every metric with its samples now, by name."""
        families = {spec.name: MetricFamily(spec) for spec in DASHBOARD_METRICS}
        dashboard, state = self._dashboard, self._dashboard.state
        families["dashboard_broker_connected"].add((), 1 if dashboard.feed.connected else 0)
        families["dashboard_messages"].add(("taken",), state.received - state.rejected)
        families["dashboard_messages"].add(("rejected",), state.rejected)
        edges = dict.fromkeys(EDGE_STATES, 0)
        for edge in state.edges.values():
            edges[edge["state"]] = edges.get(edge["state"], 0) + 1
        for edge_state, count in edges.items():
            families["dashboard_edges"].add((edge_state,), count)
        families["dashboard_beds"].add((), len(state.beds))
        alarms = dict.fromkeys(PRIORITIES, 0)
        for alarm in state.alarms.values():
            alarms[alarm["priority"]] = alarms.get(alarm["priority"], 0) + 1
        for priority, count in alarms.items():
            families["dashboard_alarms"].add((priority,), count)
        families["dashboard_streams"].add((), dashboard.streams.open)
        for status in REFUSAL_STATUSES:
            refused = dashboard.streams.refused[int(status)]
            families["dashboard_streams_refused"].add((status,), refused)
        for result in LOGIN_RESULTS:
            families["dashboard_logins"].add((result,), dashboard.access.logins[result])
        return families


class _Collector(Collector):
    def __init__(self, metrics: DashboardMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for family in self._metrics.families().values():
            yield family.metric()


def metrics_route(metrics: DashboardMetrics) -> Route:
    """``GET /metrics`` of a dashboard running alone."""

    async def endpoint(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", endpoint, methods=["GET"])
