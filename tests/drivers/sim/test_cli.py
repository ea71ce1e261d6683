"""``simulate`` refuses bad options and scenarios before serving anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.sim.cli import main

NORMAL = str(Path(__file__).resolve().parents[3] / "config" / "scenarios" / "normal-ketamine.yaml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tcp", "0", "--link", "/tmp/x"], "--link goes with --pty"),
        (["--tcp", "70000"], "--tcp PORT must be 0-65535"),
        (["--speed", "0"], "--speed must be above 0"),
        (["--start-min", "-1"], "--start-min must not be negative"),
        (["--slot", "12"], "no pump in slot 12"),
    ],
)
def test_bad_options(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--driver", "bbraun_bcc", "--scenario", NORMAL, *args]) == 2
    assert message in capsys.readouterr().err


def test_link_never_replaces_a_real_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "ttyUSB0"
    precious.write_text("keep me")
    assert main(["--driver", "intellivue", "--scenario", NORMAL, "--link", str(precious)]) == 2
    assert "is not a symlink" in capsys.readouterr().err
    assert precious.read_text() == "keep me"


def test_missing_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--driver", "textline", "--scenario", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: 1 error" in capsys.readouterr().err


def test_unknown_driver_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--driver", "nope", "--scenario", NORMAL])
    assert caught.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
