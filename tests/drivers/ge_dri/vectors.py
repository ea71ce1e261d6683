"""Golden vectors from the GE S/5 fact sheet §2 and §7 (checked there by an independent
script): wire bytes exactly as the sheet prints them."""

from __future__ import annotations


def _hex(text: str) -> bytes:
    return bytes.fromhex(" ".join(line.split(":", 1)[-1] for line in text.strip().splitlines()))


E1_DISPL_10S_EXT123 = _hex(
    """
    7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00 00 01 0a 00 0e 00 00 00
    00 00 49 7e
    """
)
"""Spec appendix A-1: displayed values every 10 s, classes Ext1|Ext2|Ext3; checksum 0x49."""

E2_DEFAULT_REQUEST = _hex(
    """
    7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 05 00 00 00 00 00 00 00 36 7e
    """
)
"""Displayed values, Basic class only, every 5 s; checksum 0x36."""

_E4_ROWS = """
000: 7e 3e 01 00 0a 00 00 20 12 75 67 00 00 00 00 00
010: 00 00 00 01 00 00 ff 00 00 00 00 00 00 00 00 00
020: 00 00 00 00 00 00 00 00 00 20 12 75 67 0b 00 00
030: 00 15 02 48 00 01 80 01 80 01 80 0e 00 00 00 00
040: 00 00 00 01 80 01 80 01 80 01 80 00 00 00 00 00
050: 00 01 80 01 80 01 80 01 80 00 00 00 00 00 00 01
060: 80 01 80 01 80 01 80 00 00 00 00 00 00 01 80 01
070: 80 01 80 01 80 03 00 00 00 08 00 e0 2e 40 1f 54
080: 24 47 00 03 00 00 00 06 00 60 0e 00 00 00 00 00
090: 00 01 80 00 00 00 00 00 00 01 80 00 00 00 00 00
0a0: 00 01 80 03 00 00 00 00 00 48 26 48 00 36 01 01
0b0: 80 03 00 00 00 00 00 f4 01 00 00 0e 00 b0 1d 00
"""
E4_BASIC_RECORD = _hex(_E4_ROWS) + bytes(0x13F - 0xC0) + bytes((0xE5, 0x7E))
"""Monitor -> host, one DISPL Basic subrecord: HR 72 (ECG), NIBP 120/80 (93) AUTO, T1
axillary 36.80, SpO2 98 PR 72, EtCO2 5.00 % at 760.0 mmHg, CO2 RR 14, impedance RR 14;
time 0x67751220; 321 bytes on the wire, checksum 0xE5."""
