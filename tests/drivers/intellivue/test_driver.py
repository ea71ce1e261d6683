"""The driver entry and its options."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from drivers.base import Conversation, NoOptions
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.intellivue.driver import DRIVER
from drivers.intellivue.options import IntelliVueOptions
from tests.drivers.intellivue.harness import TARGET


def test_driver_entry() -> None:
    assert DRIVER.name == "intellivue"
    assert DRIVER.serial_defaults.baudrate == 115200
    assert (DRIVER.serial_defaults.bytesize, DRIVER.serial_defaults.parity) == (8, "N")
    assert DRIVER.options is IntelliVueOptions
    assert (DRIVER.max_devices_per_port, DRIVER.period_s) == (1, 1.0)


def test_conversation_factory() -> None:
    conversation: Conversation = DRIVER.conversation([TARGET], IntelliVueOptions(poll_period_s=2))
    assert isinstance(conversation, IntelliVueConversation)
    assert conversation.next_tick_at() is None  # nothing due before open
    assert isinstance(DRIVER.conversation([TARGET], NoOptions()), IntelliVueConversation)
    with pytest.raises(ValueError, match="unpack"):
        DRIVER.conversation([TARGET, TARGET], IntelliVueOptions())


def test_options_defaults() -> None:
    options = IntelliVueOptions()
    assert (options.poll_period_s, options.active_period_s) == (1.0, 1.0)
    assert (options.association_timeout_s, options.poll_timeout_s) == (5.0, 5.0)
    assert IntelliVueOptions(poll_active_period_s=60).active_period_s == 60


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"poll_period_s": 0}, "greater than 0"),
        ({"poll_period_s": -1}, "greater than 0"),
        ({"association_timeout_s": 0}, "greater than 0"),
        ({"poll_period_s": 5}, "poll_timeout_s must be longer than poll_period_s"),
        ({"retry_backoff_s": 10, "retry_backoff_max_s": 5}, "must not be shorter"),
        ({"poll_rate": 1}, "Extra inputs are not permitted"),
    ],
)
def test_options_are_validated(values: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        IntelliVueOptions.model_validate(values)


def test_options_are_frozen() -> None:
    options = IntelliVueOptions()
    with pytest.raises(ValidationError, match="frozen"):
        options.poll_period_s = 2  # type: ignore[misc]
