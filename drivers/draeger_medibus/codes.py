"""MEDIBUS command codes and the codepage-1 measured-data codes this driver publishes.

Sources (fact sheet §3, §4.1; the FiO2 and EtCO2-in-mmHg codes from the BSD-licensed
mdpnp ``measured-data-cp1.map``, not from the sheet): the Evita 4 / EvitaXL table of the
Dräger ICU document. Codes differ between device families; only the intensive-care
ventilators' codepage 1 is covered (anaesthesia machines wait for their tables), and the
same table is used for every device identification (logged once per link).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ALARMS_CP1",
    "DATA_CP1",
    "DEVICE_ID",
    "DEVICE_NAMES",
    "ICC",
    "MEASURED",
    "NOP",
    "STOP",
    "TIME_CHANGED",
    "Measured",
]

ICC = 0x51  # Q: initialise communication
NOP = 0x30  # 0: no operation (keep-alive)
STOP = 0x55  # U: stop communication
DEVICE_ID = 0x52  # R: request device identification
DATA_CP1 = 0x24  # $: current measured data, codepage 1
ALARMS_CP1 = 0x27  # ': current alarms, codepage 1
TIME_CHANGED = 0x49  # I: sent by the device, answered with an echo

DEVICE_NAMES: Mapping[str, str] = MappingProxyType(
    {"8240": "Evita 4", "8230": "Evita 2 dura", "8260": "EvitaXL"}
)
"""Device-ID numbers the ICU document names (fact sheet §4)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """A measured-data code: the observation code it becomes, its UCUM unit and the factor
    from the device's unit to it (tidal volume in L -> mL: 1000)."""

    code: str
    unit: str
    factor: float = 1.0


MEASURED: Mapping[int, Measured] = MappingProxyType(
    {
        0xD6: Measured("MDC_VENT_RESP_RATE", "/min"),  # breathing frequency
        0xB8: Measured("MDC_VOL_MINUTE_AWAY", "L/min"),  # minute volume, X.XX
        0xB9: Measured("MDC_VOL_MINUTE_AWAY", "L/min"),  # minute volume, XX.X
        0x88: Measured("MDC_VOL_AWAY_TIDAL_EXP", "mL"),  # expiratory tidal volume in mL
        0x82: Measured("MDC_VOL_AWAY_TIDAL_EXP", "mL", 1000.0),  # ... in L when >= 1 L
        0x7D: Measured("MDC_PRESS_AWAY_INSP_PEAK", "mbar"),  # peak airway pressure
        0x74: Measured("MDC_PRESS_RESP_PLAT", "mbar"),  # plateau pressure
        0x73: Measured("MDC_PRESS_AWAY_INSP_MEAN", "mbar"),  # mean airway pressure
        0x78: Measured("MDC_VENT_PRESS_AWAY_END_EXP_POS", "mbar"),  # PEEP
        0xF0: Measured("MDC_VENT_CONC_AWAY_O2_INSP", "%"),  # inspiratory O2 (FiO2)
        0xDB: Measured("X_DRAEGER_CO2_ET_PCT", "%"),  # end-tidal CO2 in %
        0xE6: Measured("MDC_AWAY_CO2_ET", "mm[Hg]"),  # end-tidal CO2 in mmHg
    }
)
"""Codepage-1 code -> what it is published as. Every other code is read and left out."""
