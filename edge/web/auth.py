"""Login, roles and the audit trail of the dashboard.

Users and roles come from the config (``http.users``): a ``nurse`` may acknowledge alarms, a
``viewer`` may only look; when ``http.view_requires_login`` is off, anybody who reaches the
page may look too. A login puts the user name in a signed session cookie (Starlette's
``SessionMiddleware``, ``SameSite=Strict``); the role is looked up in the config on every
request. A state-changing request must be JSON (a cross-site form cannot send it without a
CORS preflight, which is never granted) and, when the browser names an origin, come from the
page's own origin. A nurse can acknowledge only on a dashboard that has an acknowledgement key
(``http.ack_secret``): ``/api/me`` says so and why not.

Logins are throttled (:mod:`edge.web.throttle`): a locked-out attempt is answered 429 with
``Retry-After`` before any password is hashed; when too many passwords are being checked at
once, 503 with ``Retry-After`` (:mod:`edge.web.passwords`).

The audit trail (logger ``edge.web.audit``) records every login, every failed login (the
name tried and the client address), every lockout a failure starts (``login locked``: scope,
seconds), every refused login (``login refused``: the reason, ``locked: <scope>`` or
``busy``), every acknowledgement and every refused one. It names users, beds and alarm ids,
never a patient or a password.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.config import HttpConfig
from edge.web.passwords import LoginBusyError, PasswordBook
from edge.web.throttle import LoginThrottle

__all__ = [
    "LOGIN_RESULTS",
    "NO_ACK_KEY",
    "Access",
    "RequestRefusedError",
    "audit",
    "client_address",
    "read_json",
]

audit = logging.getLogger("edge.web.audit")

SESSION_USER = "user"
LOGIN_RESULTS = ("accepted", "failed", "locked", "busy")  # how a login attempt ended
BUSY_RETRY_AFTER_S = 1
NO_ACK_KEY = (
    "this dashboard has no acknowledgement key (http.ack_secret); acknowledge at the bedside"
)


class RequestRefusedError(Exception):
    """A request the API refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def client_address(request: Request) -> str:
    """The peer's address, for the audit trail."""
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _retry_later(status: int, message: str, retry_after_s: int) -> Response:
    body = {"error": f"{message}; try again in {retry_after_s} s", "retry_after_s": retry_after_s}
    return JSONResponse(body, status_code=status, headers={"Retry-After": str(retry_after_s)})


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object of a state-changing request from the page's own origin; an empty body
    is an empty object. Raises :class:`RequestRefusedError` otherwise."""
    if not _same_origin(request):
        raise RequestRefusedError(403, "cross-origin request refused")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise RequestRefusedError(415, "send application/json")
    body = await request.body()
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise RequestRefusedError(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise RequestRefusedError(400, "the body must be a JSON object")
    return data


class Access:
    """Who is logged in, what they may do, and the login, logout and ``me`` endpoints."""

    def __init__(self, users: PasswordBook, config: HttpConfig, *, can_sign: bool = True) -> None:
        self.users = users
        self.throttle = LoginThrottle(config)
        self.logins: Counter[str] = Counter()  # by result, one of LOGIN_RESULTS
        self.view_requires_login = config.view_requires_login
        self.can_sign = can_sign

    def user(self, request: Request) -> HttpConfig.User | None:
        """The logged-in user of ``request``, if still configured."""
        name = request.session.get(SESSION_USER)
        return self.users.user(name) if isinstance(name, str) else None

    def require_viewer(self, request: Request) -> None:
        """Refuse (401) a request to look when looking needs a login and there is none."""
        if self.view_requires_login and self.user(request) is None:
            raise RequestRefusedError(401, "log in to see the dashboard")

    def routes(self) -> list[Route]:
        """``POST /api/login``, ``POST /api/logout``, ``GET /api/me``."""
        return [
            Route("/api/login", self._login, methods=["POST"]),
            Route("/api/logout", self._logout, methods=["POST"]),
            Route("/api/me", self._me, methods=["GET"]),
        ]

    async def _login(self, request: Request) -> Response:
        data = await read_json(request)
        try:
            login = _Login.model_validate(data)
        except ValidationError:
            raise RequestRefusedError(400, "give a name and a password") from None
        client = client_address(request)
        who = {"user": login.name, "client": client}
        refusal = self.throttle.refusal(login.name, client)
        if refusal is not None:
            audit.warning("login refused", extra={**who, "reason": f"locked: {refusal.scope}"})
            self.logins["locked"] += 1
            return _retry_later(429, "too many failed logins", refusal.retry_after)
        self.throttle.begin(login.name, client)
        checked = False
        try:
            user = await self.users.check(login.name, login.password)
            checked = True
        except LoginBusyError:
            audit.warning("login refused", extra={**who, "reason": "busy"})
            self.logins["busy"] += 1
            return _retry_later(503, "too many logins at once", BUSY_RETRY_AFTER_S)
        finally:
            if not checked:  # busy or cancelled: the attempt counts for nothing
                self.throttle.abandoned(login.name, client)
        if user is None:
            self.logins["failed"] += 1
            self._failed(login.name, client)
            raise RequestRefusedError(401, "wrong name or password")
        self.throttle.succeeded(login.name, client)
        self.logins["accepted"] += 1
        request.session.clear()
        request.session[SESSION_USER] = user.name
        request.session["since"] = datetime.now(UTC).isoformat()
        audit.info("login", extra={"user": user.name, "role": user.role, "client": client})
        return JSONResponse(self._who(user))

    def _failed(self, name: str, client: str) -> None:
        audit.warning("login failed", extra={"user": name, "client": client})
        for lockout in self.throttle.failed(name, client):
            audit.warning(
                "login locked",
                extra={
                    "user": name,
                    "client": client,
                    "reason": lockout.scope,
                    "lockout_s": lockout.seconds,
                },
            )

    async def _logout(self, request: Request) -> Response:
        await read_json(request)
        user = self.user(request)
        if user is not None:
            audit.info("logout", extra={"user": user.name, "client": client_address(request)})
        request.session.clear()
        return JSONResponse(self._who(None))

    async def _me(self, request: Request) -> Response:
        return JSONResponse(self._who(self.user(request)))

    def _who(self, user: HttpConfig.User | None) -> dict[str, Any]:
        nurse = user is not None and user.role == "nurse"
        return {
            "user": user.name if user else None,
            "role": user.role if user else None,
            "view_requires_login": self.view_requires_login,
            "can_acknowledge": nurse and self.can_sign,
            "cannot_acknowledge_because": NO_ACK_KEY if nurse and not self.can_sign else None,
        }
