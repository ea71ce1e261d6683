"""The dashboard's JSON API: beds, alarms, acknowledgement, health and readiness.

``GET /api/beds`` and ``GET /api/alarms`` answer what every page shows (alarms highest
priority first, then the newest first). ``POST /api/alarms/{alarm_id}/ack`` (a nurse's
login, a JSON body, optionally ``{"site": ...}`` when two sites have an alarm of that id)
signs the acknowledgement with the dashboard's key (:mod:`edge.publish.ack_signing`), sends it
over MQTT to the edge that owns the alarm and answers 202: the alarm shows as acknowledged once
that edge has verified and applied it and published its new state. A dashboard without a key
answers 503 with the reason.
``/healthz`` says the process is up; ``/readyz`` that the broker feed is connected and every
extra check passes; a check that is not ready may say why (a string instead of ``False``): the
answer then holds ``reasons`` by check name besides the ``checks`` booleans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.publish.ack_signing import sign
from edge.publish.payloads import AckCommand
from edge.web.auth import NO_ACK_KEY, RequestRefusedError, audit, client_address, read_json
from edge.web.dashboard import Dashboard
from edge.web.mqtt_view import BrokerUnavailableError
from edge.web.views import JsonDict

__all__ = ["Api", "ReadyCheck"]

ReadyCheck = Callable[[], bool | str]  # True when ready; False, or why not


class Api:
    """The JSON endpoints of one dashboard."""

    def __init__(self, dashboard: Dashboard, checks: Mapping[str, ReadyCheck]) -> None:
        self._dashboard = dashboard
        self._checks = {"dashboard_broker": lambda: dashboard.feed.connected, **checks}

    def routes(self) -> list[Route]:
        """The routes of the API."""
        return [
            Route("/api/beds", self._beds, methods=["GET"]),
            Route("/api/alarms", self._alarms, methods=["GET"]),
            Route("/api/beds/{bed}/limits", self._limits, methods=["GET"]),
            Route("/api/alarms/{alarm_id}/ack", self._acknowledge, methods=["POST"]),
            Route("/healthz", self._health, methods=["GET"]),
            Route("/readyz", self._ready, methods=["GET"]),
        ]

    async def _beds(self, request: Request) -> Response:
        self._dashboard.access.require_viewer(request)
        state = self._dashboard.state
        return JSONResponse(
            {
                "beds": state.bed_list(),
                "edges": state.edge_list(),
                "feed": state.feed,
                "server_time": self._dashboard.server_time(),
            }
        )

    async def _limits(self, request: Request) -> Response:
        """The alarm limits in force for a bed (``?site=``, default this edge's), and since
        when, as its edge last published them; 404 before any."""
        self._dashboard.access.require_viewer(request)
        site = request.query_params.get("site") or self._dashboard.config.site
        limits = self._dashboard.state.limits.get(f"{site}/{request.path_params['bed']}")
        if limits is None:
            return JSONResponse({"error": "no alarm limits published for this bed"}, 404)
        return JSONResponse(limits)

    async def _alarms(self, request: Request) -> Response:
        self._dashboard.access.require_viewer(request)
        return JSONResponse(
            {
                "alarms": self._dashboard.state.sorted_alarms(),
                "server_time": self._dashboard.server_time(),
            }
        )

    async def _acknowledge(self, request: Request) -> Response:
        alarm_id = request.path_params["alarm_id"]
        user = self._dashboard.access.user(request)
        who = {"user": user.name if user else None, "alarm": alarm_id}
        client = client_address(request)
        try:
            alarm, command = await self._send_ack(request, alarm_id, who)
        except RequestRefusedError as refused:
            audit.warning(
                "acknowledgement refused",
                extra={**who, "reason": refused.message, "client": client},
            )
            raise
        if command is None:
            return JSONResponse({"status": "already acknowledged", "alarm": alarm})
        audit.info(
            "alarm acknowledged", extra={**who, "priority": alarm["priority"], "client": client}
        )
        return JSONResponse(
            {
                "status": "sent",
                "alarm": alarm,
                "by": command.by,
                "at": command.at.isoformat(),
                "dashboard": command.dashboard,
            },
            status_code=202,
        )

    async def _send_ack(
        self, request: Request, alarm_id: str, who: dict[str, str | None]
    ) -> tuple[JsonDict, AckCommand | None]:
        """Check the request and send the acknowledgement; the alarm and the command sent
        (``None`` when the alarm was acknowledged already)."""
        body = await read_json(request)
        user = self._dashboard.access.user(request)
        if user is None:
            raise RequestRefusedError(401, "log in to acknowledge")
        if user.role != "nurse":
            raise RequestRefusedError(403, f"a {user.role} may not acknowledge alarms")
        secret = self._dashboard.ack_secret
        if secret is None:
            raise RequestRefusedError(503, NO_ACK_KEY)
        alarm = self._find(alarm_id, body.get("site"))
        who |= {"site": alarm["site"], "bed": alarm["bed"]}
        if alarm["state"] == "acknowledged":
            return alarm, None
        command = sign(
            secret,
            site=alarm["site"],
            bed=alarm["bed"],
            alarm_id=alarm_id,
            by=user.name,
            dashboard=self._dashboard.dashboard_id,
        )
        try:
            await self._dashboard.feed.acknowledge(alarm["site"], alarm["bed"], alarm_id, command)
        except BrokerUnavailableError as exc:
            raise RequestRefusedError(503, f"not sent, acknowledge at the bedside: {exc}") from exc
        return alarm, command

    def _find(self, alarm_id: str, site: object) -> JsonDict:
        if site is not None and not isinstance(site, str):
            raise RequestRefusedError(400, "site must be a string")
        matches = self._dashboard.state.find_alarms(alarm_id, site)
        if not matches:
            raise RequestRefusedError(404, "no such alarm is shown (it may have ended)")
        if len(matches) > 1:
            raise RequestRefusedError(409, "alarm id shown in several sites: give the site")
        return matches[0]

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _ready(self, request: Request) -> Response:
        results = {name: check() for name, check in self._checks.items()}
        checks = {name: bool(r) and not isinstance(r, str) for name, r in results.items()}
        reasons = {name: r for name, r in results.items() if isinstance(r, str)}
        ready = all(checks.values())
        answer = {"ready": ready, "checks": checks} | ({"reasons": reasons} if reasons else {})
        return JSONResponse(answer, status_code=200 if ready else 503)
