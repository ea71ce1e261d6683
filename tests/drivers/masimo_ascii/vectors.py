"""The fact sheet's worked examples and published lines, as golden vectors."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.base import DeviceTarget, Instant

TARGET = DeviceTarget("oximeter-1", "bed-1")
AT = Instant(100.0, datetime(2026, 12, 6, 9, 0, tzinfo=UTC))

E1 = (
    b"01/02/25 10:00:00 SN=0000123456 SPO2=098% BPM=072 PI=02.35% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000800\r\n"
)
"""Normal reading."""
E2 = (
    b"01/02/25 10:00:01 SN=0000123456 SPO2=088% BPM=112 PI=00.41% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- PVI=--- ALARM=0012 EXC=000C04\r\n"
)
"""Desaturation alarm: SpO2 below limit + alarm active; low perfusion + low signal IQ."""
E3 = (
    b"01/02/25 10:00:02 SN=0000123456 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000020\r\n"
)
"""Sensor off."""
RADICAL5 = b"01/02/25 10:00:03 SPO2=097% BPM=066 PI=01.20% ALARM=00 EXC=000800\r\n"
"""Radical-5 shape: no SN, 2-digit ALARM."""
COLOR = (
    b"01/02/25 10:00:04 SN=0000123456 SPO2=099% BPM=060 PI=03.10% SPCO=01.0% SPMET=00.8% "
    b"SPHB=--.- SPOC=-- RESVD=--- DESAT=-- PIDELTA=+-- PVI=012 ALARM=000000 EXC=0000C00 "
    b"EXC1=00000000\r\n"
)
"""Radical-7 "color" firmware: SpHb, SpOC, RESVD, 7-digit EXC, EXC1."""
TREND = b"01/02/25 10:00:05 SpO2=096 PR=074 PI=02.28 EXC=C00:LowSigIQ,SET\r\n"
"""Rad-8 trend spelling: mixed case, PR for BPM, EXC with ``:text``."""
