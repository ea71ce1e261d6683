"""Login throttling and bounded password checks, through the ASGI app and a real server."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette

from edge.web import passwords
from edge.web.app import create_app
from edge.web.passwords import CONCURRENT_CHECKS, LoginBusyError, PasswordBook
from tests.mosquitto import Mosquitto
from tests.web.helpers import PASSWORDS, web_config
from tests.web.serving import served

AUDIT = "edge.web.audit"
NO_BROKER = "mqtt://127.0.0.1:1"  # logins need no broker
T = TypeVar("T")


class Hashes:
    """Counts Argon2 hashes (verify and the dummy hash) in flight, around the real ones."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.calls = 0
        self.running = 0
        self.peak = 0

    def around(self, function: Callable[..., T]) -> Callable[..., T]:
        def counted(*args: Any) -> T:
            with self.lock:
                self.calls += 1
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                time.sleep(self.delay_s)  # a slower CPU
                return function(*args)
            finally:
                with self.lock:
                    self.running -= 1

        return counted


def count_hashes(monkeypatch: pytest.MonkeyPatch, delay_s: float = 0.0) -> Hashes:
    hashes = Hashes(delay_s)
    monkeypatch.setattr(passwords, "_matches", hashes.around(passwords._matches))
    monkeypatch.setattr(passwords, "hash_password", hashes.around(passwords.hash_password))
    return hashes


@asynccontextmanager
async def client_at(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await client.post("/api/login", json={"name": name, "password": password})


def audited(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == AUDIT and r.getMessage() == message]


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=AUDIT)
    return caplog


async def test_wrong_passwords_lock_the_name_at_that_address_then_it_is_accepted(
    monkeypatch: pytest.MonkeyPatch, audit_log: pytest.LogCaptureFixture
) -> None:
    hashes = count_hashes(monkeypatch)
    app = create_app(web_config(NO_BROKER, login_lockout_s=1.0))
    right = PASSWORDS["nurse.kim"]
    async with client_at(app, "10.0.0.66") as attacker, client_at(app, "10.0.0.7") as station:
        for _ in range(5):
            assert (await login(attacker, "nurse.kim", "guess")).status_code == 401
        assert hashes.calls == 5
        for password in ("guess", right):
            refused = await login(attacker, "nurse.kim", password)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"].startswith("too many failed logins")
        assert hashes.calls == 5  # refused without hashing
        assert (await login(station, "nurse.kim", right)).status_code == 200
        await asyncio.sleep(1.1)
        assert (await login(attacker, "nurse.kim", right)).status_code == 200
    [locked] = audited(audit_log, "login locked")
    assert (locked.user, locked.client, locked.reason) == (  # type: ignore[attr-defined]
        "nurse.kim",
        "10.0.0.66",
        "name@address",
    )
    refusals = audited(audit_log, "login refused")
    assert len(refusals) == 2
    assert {(r.user, r.client, r.reason) for r in refusals} == {  # type: ignore[attr-defined]
        ("nurse.kim", "10.0.0.66", "locked: name@address")
    }
    assert right not in audit_log.text


async def test_an_address_guessing_many_names_is_locked(
    monkeypatch: pytest.MonkeyPatch, audit_log: pytest.LogCaptureFixture
) -> None:
    hashes = count_hashes(monkeypatch)
    app = create_app(web_config(NO_BROKER, login_address_failures=8))
    async with client_at(app, "10.0.0.66") as attacker, client_at(app, "10.0.0.7") as station:
        for index in range(8):
            assert (await login(attacker, f"guess-{index}", "pw")).status_code == 401
        refused = await login(attacker, "nurse.kim", PASSWORDS["nurse.kim"])
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 30
        assert hashes.calls == 9  # 8 checks and the dummy hash made once
        assert (await login(station, "nurse.kim", PASSWORDS["nurse.kim"])).status_code == 200
    [refusal] = audited(audit_log, "login refused")
    assert refusal.reason == "locked: address"  # type: ignore[attr-defined]
    assert refusal.client == "10.0.0.66"  # type: ignore[attr-defined]


async def test_a_burst_of_parallel_guesses_cannot_overrun_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashes = count_hashes(monkeypatch, delay_s=0.05)
    app = create_app(web_config(NO_BROKER))
    async with client_at(app, "10.0.0.66") as attacker:
        answers = await asyncio.gather(
            *(login(attacker, "nurse.kim", f"guess {i}") for i in range(12))
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 5 + [429] * 7
    assert hashes.calls == 5


async def test_logins_hash_off_the_loop_a_bounded_number_at_once(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, audit_log: pytest.LogCaptureFixture
) -> None:
    hashes = count_hashes(monkeypatch, delay_s=0.2)
    config = web_config(mosquitto.url, login_address_failures=1000)
    async with (
        served(config) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as client,
        httpx.AsyncClient(base_url=server.url, timeout=20) as prober,
    ):

        async def probe_health() -> float:
            worst = 0.0
            while hashes.calls == 0 or hashes.running:
                started = time.monotonic()
                assert (await prober.get("/healthz")).status_code == 200
                worst = max(worst, time.monotonic() - started)
                await asyncio.sleep(0.05)
            return worst

        health = asyncio.create_task(probe_health())
        async with asyncio.timeout(30):
            answers = await asyncio.gather(*(login(client, f"guess-{i}", "pw") for i in range(20)))
            worst_health_s = await health
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {401, 503}
    assert statuses.count(401) >= CONCURRENT_CHECKS
    assert 1 <= hashes.peak <= CONCURRENT_CHECKS
    assert worst_health_s < 1.0  # 20 hashes of >= 0.2 s each on the loop would take 4 s
    busy = [answer for answer in answers if answer.status_code == 503]
    assert all(answer.headers["retry-after"] == "1" for answer in busy)
    refused = audited(audit_log, "login refused")
    assert len(refused) == len(busy)
    assert all(record.reason == "busy" for record in refused)  # type: ignore[attr-defined]


async def test_password_checks_wait_a_bounded_time_and_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashes = count_hashes(monkeypatch, delay_s=0.5)
    users = web_config(NO_BROKER).http.users
    book = PasswordBook(users, max_waiting=1, wait_s=0.1)
    password = PASSWORDS["nurse.kim"]
    hashing = [asyncio.create_task(book.check("nurse.kim", password)) for _ in range(2)]
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(book.check("nurse.kim", password))
    await asyncio.sleep(0)
    with pytest.raises(LoginBusyError):
        await book.check("nurse.kim", password)  # nobody else may wait
    with pytest.raises(LoginBusyError):
        await waiting  # waited 0.1 s for a place
    hashing[0].cancel()  # cancelled mid-hash: its place stays taken until its thread is done
    again = asyncio.create_task(book.check("nurse.kim", password))
    with pytest.raises(asyncio.CancelledError):
        await hashing[0]
    with pytest.raises(LoginBusyError):
        await again  # no place within 0.1 s: the cancelled hash still held it
    user = await hashing[1]
    assert user is not None
    assert user.name == "nurse.kim"
    assert hashes.peak == 2
