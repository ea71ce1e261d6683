"""Login, roles, request checks and the audit trail, through the ASGI app."""

from __future__ import annotations

import io
import logging
import sys

import httpx
import pytest
from argon2 import PasswordHasher

from edge.web.app import create_app
from edge.web.passwords import PasswordBook, hash_password, main
from tests.mosquitto import Mosquitto
from tests.web.helpers import PASSWORDS, Running, web_config

pytestmark = pytest.mark.integration

AUDIT = "edge.web.audit"


def audited(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == AUDIT and r.getMessage() == message]


async def test_a_nurse_logs_in_and_out(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    assert (await running.client.get("/api/me")).json()["user"] is None
    response = await running.login("nurse.kim")
    assert response.status_code == 200
    assert response.json() == {
        "user": "nurse.kim",
        "role": "nurse",
        "view_requires_login": True,
        "can_acknowledge": True,
        "cannot_acknowledge_because": None,
    }
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert (await running.client.get("/api/alarms")).status_code == 200
    [login] = audited(caplog, "login")
    assert (login.user, login.role) == ("nurse.kim", "nurse")  # type: ignore[attr-defined]
    await running.client.post("/api/logout", json={})
    assert (await running.client.get("/api/alarms")).status_code == 401
    assert audited(caplog, "logout")


@pytest.mark.parametrize(
    ("name", "password"), [("nurse.kim", "wrong"), ("nobody", PASSWORDS["nurse.kim"])]
)
async def test_a_failed_login_is_refused_and_audited(
    running: Running, caplog: pytest.LogCaptureFixture, name: str, password: str
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    response = await running.client.post("/api/login", json={"name": name, "password": password})
    assert response.status_code == 401
    assert response.json() == {"error": "wrong name or password"}
    [failed] = audited(caplog, "login failed")
    assert failed.user == name  # type: ignore[attr-defined]
    assert failed.client == "127.0.0.1"  # type: ignore[attr-defined]
    assert password not in caplog.text
    assert (await running.client.get("/api/beds")).status_code == 401


async def test_state_changing_requests_must_be_same_origin_json(running: Running) -> None:
    form = await running.client.post("/api/login", data=PASSWORDS)
    assert form.status_code == 415
    cross = await running.client.post(
        "/api/login",
        json={"name": "nurse.kim", "password": PASSWORDS["nurse.kim"]},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    fetch_site = await running.client.post(
        "/api/logout", json={}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch_site.status_code == 403
    garbage = await running.client.post(
        "/api/login", content=b"[1, 2", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 400


async def test_a_session_cookie_signed_with_another_secret_is_ignored(
    running: Running, mosquitto: Mosquitto
) -> None:
    await running.login("nurse.kim")
    other = create_app(web_config(mosquitto.url, session_secret="o" * 40))
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies=running.client.cookies
    ) as client:
        assert (await client.get("/api/me")).json()["user"] is None


async def test_looking_without_login_when_the_config_allows_it(mosquitto: Mosquitto) -> None:
    app = create_app(web_config(mosquitto.url, view_requires_login=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/api/beds")).status_code == 200
        refused = await client.post("/api/alarms/x/ack", json={})
        assert refused.status_code == 401


async def test_passwords_are_argon2id_hashes() -> None:
    hashed = hash_password("s3cret pass")
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, "s3cret pass")
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    book = PasswordBook(web_config("mqtt://127.0.0.1:1").http.users)
    assert len(book) == 2
    user = await book.check("viewer.lee", PASSWORDS["viewer.lee"])
    assert user is not None
    assert user.role == "viewer"
    assert await book.check("viewer.lee", PASSWORDS["nurse.kim"]) is None
    assert await book.check("ghost", "anything") is None


def test_the_hash_password_command_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    assert main(["--stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert PasswordHasher().verify(printed, "a long password")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["--stdin"]) == 1
