"""``infusion-edge hl7 sample`` and ``hl7 refused``: what an integrator and a biomedical
engineer read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hl7
import pytest
import yaml

from edge.cli import main
from edge.forward.queue import ForwardQueue, NewMessage
from tests.edge.hl7.messages import strict
from tests.edge.test_config import minimal


def _printed(out: str) -> list[tuple[str, str]]:
    """(title, message with CR segment ends) of each printed sample."""
    samples: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        if line.startswith("# "):
            samples.append((line[2:], []))
        elif line:
            samples[-1][1].append(line)
    return [(title, "\r".join(lines) + "\r") for title, lines in samples]


def test_sample_prints_valid_messages_of_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hl7", "sample"]) == 0
    samples = _printed(capsys.readouterr().out)
    assert [title.split(",")[0] for title, _ in samples] == ["PCD-01 ORU^R01"] * 3 + [
        "PCD-04 ORU^R40"
    ] * 3
    for title, message in samples:
        parsed = hl7.parse(message)
        kind = str(parsed.segment("MSH")[9])
        assert kind == ("ORU^R01^ORU_R01" if "R01" in title else "ORU^R40^ORU_R40")
        if "R01" in title:  # no visit number by default: all but PID-3 validates
            with pytest.raises(Exception, match="PID_3"):
                strict(message)
    phases = [
        {str(s[3][0][1]): str(s[5]) for s in hl7.parse(m)["OBX"]}["MDC_ATTR_EVENT_PHASE"]
        for t, m in samples
        if "R40" in t
    ]
    assert phases == ["start", "update", "end"]


def test_sample_takes_the_identities_of_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = minimal(
        beds={"bed-1": {"visit_number": "V77"}},
        hl7={"url": "mllp://127.0.0.1:2575", "eui64": "AAAABBBBCCCCDDDD"},
    )
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["hl7", "sample", "--config", str(path)]) == 0
    samples = _printed(capsys.readouterr().out)
    first = samples[0][1]
    strict(first)  # with a visit number, v2.6 strict validation passes
    parsed = hl7.parse(first)
    assert str(parsed.segment("MSH")[3]) == "INFUSION-EDGE^AAAABBBBCCCCDDDD^EUI-64"
    assert str(parsed.segment("PV1")[19]) == "V77"


def test_refused_prints_what_the_receiver_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_path = tmp_path / "hl7.sqlite"
    path = tmp_path / "edge.yaml"
    hl7_section = {"url": "mllp://127.0.0.1:2575", "queue_path": str(queue_path)}
    path.write_text(yaml.safe_dump(minimal(hl7=hl7_section)))
    assert main(["hl7", "refused", "--config", str(path)]) == 0
    assert "nothing was refused" in capsys.readouterr().out

    async def refuse_one() -> None:
        queue = ForwardQueue("hl7_queue", queue_path, 100, 10)
        await queue.open()
        writer = asyncio.create_task(queue.run_writer())
        queue.put([NewMessage("C42", "alarm", "bed-1", b"MSH|^~\\&|X\rPID|||\r")])
        message = await asyncio.wait_for(queue.next(), 5)
        await queue.refuse(message, "AR", "unknown location")
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await queue.close()

    asyncio.run(refuse_one())
    assert main(["hl7", "refused", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "AR alarm bed bed-1 control id C42: unknown location" in out
    assert "MSH|^~\\&|X\nPID|||" in out


@pytest.mark.parametrize(
    "args",
    [["hl7", "sample"], ["hl7", "refused"], ["fhir", "sample"], ["fhir", "refused"]],
)
def test_a_bad_config_prints_the_same_located_problems_as_config_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text("site: clinic\nedge_id: edge-1\nhl7: {url: 'http://nope'}\n")
    assert main(["config", "check", str(config)]) == 1
    expected = capsys.readouterr().err
    assert "hl7.url" in expected
    assert main([*args, "--config", str(config)]) == 1
    assert capsys.readouterr().err == expected
