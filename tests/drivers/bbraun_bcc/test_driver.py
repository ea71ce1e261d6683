"""The bbraun_bcc driver entry: options, defaults, target validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.bbraun_bcc.driver import DRIVER, BccOptions
from tests.drivers.bbraun_bcc.harness import WALL0
from tests.drivers.bbraun_bcc.vectors import S1_PLAIN, S1_WIRE

PUMPS = [DeviceTarget("pump-a", "bed-1", "11"), DeviceTarget("pump-b", "bed-1", "12")]


def test_driver_entry() -> None:
    assert DRIVER.name == "bbraun_bcc"
    assert DRIVER.options is BccOptions
    assert DRIVER.serial_defaults.baudrate == 9600
    assert (DRIVER.max_devices_per_port, DRIVER.period_s) == (24, 5.0)


def test_options_defaults_and_limits() -> None:
    options = BccOptions()
    assert (options.poll_period_s, options.response_timeout_s, options.stuffing) == (5.0, 5.0, True)
    assert BccOptions(poll_period_s=0.5).poll_period_s == 0.5
    with pytest.raises(ValidationError):
        BccOptions(poll_period_s=0.49)
    with pytest.raises(ValidationError):
        BccOptions(response_timeout_s=0)
    with pytest.raises(ValidationError):
        BccOptions.model_validate({"poll_period": 5})
    with pytest.raises(ValidationError):
        options.stuffing = False  # type: ignore[misc]


def test_conversation_from_options() -> None:
    conversation = DRIVER.conversation(PUMPS, BccOptions(stuffing=False))
    assert isinstance(conversation, BccConversation)
    assert conversation.open(Instant(0.0, WALL0)) == S1_PLAIN
    assert DRIVER.conversation(PUMPS, None).open(Instant(0.0, WALL0)) == S1_WIRE
    assert DRIVER.conversation(PUMPS, {"poll_period_s": 1.0}).open(Instant(0, WALL0)) == S1_WIRE
    with pytest.raises(TypeError, match="BccOptions"):
        DRIVER.conversation(PUMPS, 5)


@pytest.mark.parametrize("address", [None, "", "01", "40", "1Z", "1o", "A1", " 11"])
def test_conversation_rejects_bad_addresses(address: str | None) -> None:
    with pytest.raises(ValueError, match=r"is not a B\. Braun pump slot"):
        DRIVER.conversation([DeviceTarget("pump-x", "bed-1", address)], BccOptions())
