"""Signed acknowledgements: the canonical bytes pinned by a golden vector, and the edge's
verifier giving each verdict (accepted, unsigned, unknown dashboard, bad signature, stale,
replayed, malformed), each audited, with a bounded nonce memory."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from edge.cli import main
from edge.config import Config
from edge.publish.ack_signing import Verdict, canonical, new_secret, sign, signature
from edge.publish.ack_verifier import AckVerifier
from edge.publish.payloads import AckCommand
from edge.publish.topics import AckTopic
from tests.edge.alarms.timeline import FakeClock, at

SECRET = "a-test-secret-of-at-least-32-characters"
SITE = "north"
ALARM = "chair-1.monitor-1.hypertension.20250314T091502123Z"
TARGET = AckTopic("chair-1", ALARM)
DASHBOARD = "ward-3-station"
NONCE = "00112233445566778899aabbccddeeff"
AT = datetime(2025, 3, 14, 9, 15, 30, 250_000, tzinfo=UTC)
GOLDEN = (
    b"infusion-edge.ack/1\nnorth\nchair-1\nchair-1.monitor-1.hypertension.20250314T091502123Z"
    b"\nnurse.kim\n2025-03-14T09:15:30.250000Z\nward-3-station\n00112233445566778899aabbccddeeff"
)
# printf '<GOLDEN>' | openssl dgst -sha256 -hmac '<SECRET>'
GOLDEN_SIG = "a4b778801134f6cde478b8cce3ba9cee0155f973d2b57ab0ca37fb2c6bf742b2"


def test_the_canonical_bytes_and_signature_match_the_golden_vector() -> None:
    fields: dict[str, Any] = {
        "site": SITE,
        "bed": "chair-1",
        "alarm_id": ALARM,
        "by": "nurse.kim",
        "dashboard": DASHBOARD,
        "nonce": NONCE,
    }
    assert canonical(at=AT, **fields) == GOLDEN
    assert signature(SECRET, GOLDEN) == GOLDEN_SIG
    in_paris = AT.astimezone(timezone(timedelta(hours=1)))  # the same instant, another zone
    command = sign(SECRET, at=in_paris, **fields)
    assert command.sig == GOLDEN_SIG
    with pytest.raises(ValueError, match="control character"):
        canonical(at=AT, **{**fields, "by": "nurse\nkim"})
    with pytest.raises(ValueError, match="time zone"):
        canonical(at=AT.replace(tzinfo=None), **fields)


def test_new_keys_and_nonces_are_random_and_long_enough() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(secret) >= 43 for secret in secrets)
    assert len(sign(SECRET, site=SITE, bed="b", alarm_id="a", by="x", dashboard="d").nonce) == 32


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(clock: FakeClock) -> AckVerifier:
    return AckVerifier(SITE, {DASHBOARD: SECRET, "other": "o" * 40}, window_s=30, clock=clock)


def signed(
    clock: FakeClock, *, secret: str = SECRET, target: AckTopic = TARGET, **fields: Any
) -> AckCommand:
    values: dict[str, Any] = {"by": "nurse.kim", "dashboard": DASHBOARD, "at": clock.now()}
    values |= fields
    return sign(secret, site=SITE, bed=target.bed, alarm_id=target.alarm_id, **values)


def wire(command: AckCommand, **changes: Any) -> bytes:
    data = json.loads(command.model_dump_json())
    data |= changes
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def test_a_signed_command_is_accepted_once_and_audited(
    verifier: AckVerifier, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.audit")
    payload = wire(signed(clock))
    checked = verifier.check(TARGET, payload)
    assert checked.verdict is Verdict.ACCEPTED
    assert checked.command is not None
    assert (checked.command.by, checked.command.dashboard) == ("nurse.kim", DASHBOARD)
    clock.t += 5
    replayed = verifier.check(TARGET, payload)
    assert replayed.verdict is Verdict.REPLAYED
    assert replayed.command is None
    accepted, refused = [r for r in caplog.records if r.name == "edge.audit"]
    assert (accepted.levelno, accepted.getMessage()) == (logging.INFO, "acknowledgement accepted")
    assert (refused.levelno, refused.getMessage()) == (logging.WARNING, "acknowledgement refused")
    audited = refused.__dict__
    assert (audited["user"], audited["dashboard"], audited["bed"], audited["alarm"]) == (
        "nurse.kim",
        DASHBOARD,
        "chair-1",
        ALARM,
    )
    assert audited["reason"] == "replayed"


@pytest.mark.parametrize(
    ("payload", "verdict"),
    [
        (b'{"by": "nurse.ghost"}', Verdict.UNSIGNED),
        (b'{"by": "nurse.ghost", "source": "station-1"}', Verdict.UNSIGNED),
        (b'{"by": "x", "dashboard": "ward-3-station", "nonce": "00ff00ff00ff00ff"}', "unsigned"),
        (b"not json", Verdict.MALFORMED),
        (b"\xff\xfe", Verdict.MALFORMED),
        (b'["by", "nurse.kim"]', Verdict.MALFORMED),
        (b"[" * 100_000, Verdict.MALFORMED),
        (b'{"by": "' + b"x" * 5000 + b'"}', Verdict.MALFORMED),
    ],
)
def test_unsigned_and_malformed_commands_are_refused(
    verifier: AckVerifier, payload: bytes, verdict: Verdict
) -> None:
    checked = verifier.check(TARGET, payload)
    assert checked.verdict == verdict
    assert checked.command is None


def test_a_signed_command_with_a_bad_field_is_malformed(
    verifier: AckVerifier, clock: FakeClock
) -> None:
    command = signed(clock)
    for change in ({"at": "2025-03-14T09:15:30"}, {"nonce": "XYZ" * 8}, {"extra": 1}):
        assert verifier.check(TARGET, wire(command, **change)).verdict is Verdict.MALFORMED


def test_an_unknown_dashboard_is_refused_even_with_a_good_signature(
    verifier: AckVerifier, clock: FakeClock
) -> None:
    forged = signed(clock, secret="f" * 40, dashboard="ward-9-intruder")
    assert verifier.check(TARGET, wire(forged)).verdict is Verdict.UNKNOWN_DASHBOARD


def test_a_tampered_or_moved_command_fails_its_signature(
    verifier: AckVerifier, clock: FakeClock
) -> None:
    command = signed(clock)
    later = (clock.now() + timedelta(seconds=1)).isoformat()
    for change in (
        {"by": "nurse.ghost"},
        {"at": later},
        {"nonce": "ff" * 16},
        {"dashboard": "other"},  # another trusted dashboard's name on this one's signature
        {"sig": "0" * 64},
    ):
        assert verifier.check(TARGET, wire(command, **change)).verdict is Verdict.BAD_SIGNATURE
    for target in (AckTopic("chair-2", ALARM), AckTopic("chair-1", ALARM + "-2")):
        assert verifier.check(target, wire(command)).verdict is Verdict.BAD_SIGNATURE
    elsewhere = AckVerifier("south", {DASHBOARD: SECRET}, clock=clock)
    assert elsewhere.check(TARGET, wire(command)).verdict is Verdict.BAD_SIGNATURE
    forged = signed(clock, secret="f" * 40)  # the dashboard's name, another key
    assert verifier.check(TARGET, wire(forged)).verdict is Verdict.BAD_SIGNATURE
    assert verifier.check(TARGET, wire(command)).verdict is Verdict.ACCEPTED


def test_a_command_outside_the_window_is_stale(verifier: AckVerifier, clock: FakeClock) -> None:
    clock.t = 100
    for offset_s, verdict in ((-30.5, "stale"), (30.5, "stale"), (-29.5, "accepted")):
        command = signed(clock, at=at(100 + offset_s))
        assert verifier.check(TARGET, wire(command)).verdict == verdict


def test_the_nonce_memory_is_bounded_in_time_and_count(clock: FakeClock) -> None:
    verifier = AckVerifier(SITE, {DASHBOARD: SECRET}, window_s=30, clock=clock, max_nonces=3)
    first = wire(signed(clock))
    assert verifier.check(TARGET, first).verdict is Verdict.ACCEPTED
    for _ in range(3):
        assert verifier.check(TARGET, wire(signed(clock))).verdict is Verdict.ACCEPTED
    assert len(verifier._nonces) == 3
    assert verifier.check(TARGET, first).verdict is Verdict.ACCEPTED  # evicted: the cap's cost
    clock.t = 61
    assert verifier.check(TARGET, wire(signed(clock))).verdict is Verdict.ACCEPTED
    assert len(verifier._nonces) == 1  # the others were forgotten after twice the window
    clock.t = 90
    assert verifier.check(TARGET, first).verdict is Verdict.STALE


def test_the_edge_trusts_its_configured_dashboards_and_its_own(clock: FakeClock) -> None:
    config = Config(
        site=SITE,
        edge_id="edge-1",
        acknowledgements={"window_s": 10, "dashboards": {DASHBOARD: {"secret": SECRET}}},
    )
    verifier = AckVerifier.from_config(config, "own-" + "k" * 40, clock)
    assert verifier.dashboards == ["dashboard@edge-1", DASHBOARD]
    own = signed(clock, secret="own-" + "k" * 40, dashboard="dashboard@edge-1")
    assert verifier.check(TARGET, wire(own)).verdict is Verdict.ACCEPTED
    old = signed(clock, at=at(-11))
    assert verifier.check(TARGET, wire(old)).verdict is Verdict.STALE
    assert AckVerifier.from_config(config, None, clock).dashboards == [DASHBOARD]


def test_ack_key_prints_a_new_key_and_both_config_snippets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ack-key", "--dashboard", DASHBOARD]) == 0
    text = capsys.readouterr().out
    edge_part, dashboard_part = text.split("# 2.")
    edge_yaml = yaml.safe_load(edge_part)
    dashboard_yaml = yaml.safe_load("#" + dashboard_part)
    secret = edge_yaml["acknowledgements"]["dashboards"][DASHBOARD]["secret"]
    assert dashboard_yaml["http"] == {"dashboard_id": DASHBOARD, "ack_secret": secret}
    edge = Config(site=SITE, edge_id="edge-1", **edge_yaml)
    dashboard = Config(site=SITE, edge_id="station", **dashboard_yaml)
    assert dashboard.dashboard_id == DASHBOARD
    assert dashboard.http.ack_secret is not None
    trusted = edge.acknowledgements.dashboards[DASHBOARD].secret
    assert trusted.get_secret_value() == dashboard.http.ack_secret.get_secret_value()
    assert main(["ack-key", "--dashboard", DASHBOARD]) == 0
    assert secret not in capsys.readouterr().out
