"""The PUBLISH properties the publisher shares: packed once, byte for byte what paho packs."""

from __future__ import annotations

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.publish.confirm import _expiry


@pytest.mark.parametrize("seconds", [1, 600, 86_400, 2**32 - 1])
def test_shared_expiry_properties_pack_as_paho_packs_them(seconds: int) -> None:
    fresh = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    fresh.MessageExpiryInterval = seconds
    shared = _expiry(seconds)
    assert shared is _expiry(seconds)  # one object per expiry
    assert shared.pack() == fresh.pack() == shared.pack()  # type: ignore[no-untyped-call]
