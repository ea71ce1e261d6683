"""A FHIR server for the tests on 127.0.0.1 (Starlette under uvicorn): takes transaction
Bundles at its base URL and answers as a script says: ``ok`` (200 transaction-response),
``bad`` (400 with an OperationOutcome), ``unauthorized`` (401), ``error`` (500),
``busy`` (429), ``slow`` (answers after the client gave up)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.mosquitto import free_port

__all__ = ["FhirAnswer", "FhirServer", "fhir_server"]

FhirAnswer = Literal["ok", "bad", "unauthorized", "error", "busy", "slow"]


class FhirServer:
    """What arrived (``received``: bundle ids in arrival order; ``bundles``: by id; the
    ``authorization`` headers) and the script ``answer(bundle_id, count)``."""

    def __init__(self, answer: Callable[[str, int], FhirAnswer] = lambda _b, _n: "ok") -> None:
        self.answer = answer
        self.received: list[str] = []
        self.bundles: dict[str, dict[str, Any]] = {}
        self.authorization: list[str | None] = []
        self.accepted: list[str] = []
        self.slow_s = 2.0
        self.port = free_port()

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}/fhir"

    async def _transaction(self, request: Request) -> JSONResponse:
        bundle = json.loads(await request.body())
        bundle_id = bundle["identifier"]["value"]
        self.received.append(bundle_id)
        self.bundles[bundle_id] = bundle
        self.authorization.append(request.headers.get("authorization"))
        answer = self.answer(bundle_id, self.received.count(bundle_id))
        if answer == "slow":
            await asyncio.sleep(self.slow_s)
        if answer == "ok":
            self.accepted.append(bundle_id)
            entries = [{"response": {"status": "201 Created"}} for _ in bundle["entry"]]
            body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
            return JSONResponse(body, media_type="application/fhir+json")
        status = {"bad": 400, "unauthorized": 401, "error": 500, "busy": 429, "slow": 500}[answer]
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": f"said {answer}"}],
        }
        return JSONResponse(outcome, status_code=status, media_type="application/fhir+json")

    def app(self) -> Starlette:
        """The ASGI app: POST at ``/fhir``."""
        return Starlette(routes=[Route("/fhir", self._transaction, methods=["POST"])])


@asynccontextmanager
async def fhir_server(server: FhirServer) -> AsyncIterator[FhirServer]:
    """``server`` listening for the block."""
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=server.port, log_level="warning", lifespan="off"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    try:
        for _ in range(250):
            if running.started:
                break
            await asyncio.sleep(0.02)
        yield server
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)
