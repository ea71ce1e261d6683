"""B. Braun BCC unit codes (INDORTU, DORTU, INDCONU, RTLIMUT, BOLVOLLIMUT) as UCUM units.

The table follows fact sheet §7.5 for every amount, concentration and dose-rate unit a pump
can report. Codes for displays and settings that never carry a dose (3 hh:mm, 4 min:sec,
8 degree, 14 Unix time, 20/21 BMI, 91-93 g(CH), 156 Mbps, ...) are left out on purpose: a
dose rate in such a unit is not reported rather than reported wrongly. "IE" (German
Internationale Einheit) is the international unit ``[iU]``; µg is ``ug``; m^2 is ``m2``.
"""

from __future__ import annotations

__all__ = ["UNIT_CODES", "ucum_unit"]

UNIT_CODES: dict[int, str] = {
    # volume, rate, basics
    1: "mL/h", 2: "mL", 5: "a", 6: "mm", 7: "nL", 15: "%", 19: "m", 22: "kg", 86: "mm[Hg]",
    87: "kPa", 94: "h", 95: "cm", 153: "mL/kg", 154: "mL/mL", 155: "mL/kg/h",
    # amounts
    23: "ng", 24: "mg", 25: "ug", 26: "g", 27: "mmol", 28: "meq", 29: "[iU]",
    117: "m[iU]", 130: "k[iU]", 137: "M[iU]", 148: "kcal",
    # concentrations
    30: "ng/mL", 31: "mg/mL", 32: "ug/mL", 33: "g/mL", 34: "mmol/mL", 35: "meq/mL",
    36: "[iU]/mL", 89: "mmol/L", 90: "mg/dL", 118: "m[iU]/mL", 131: "k[iU]/mL",
    138: "M[iU]/mL", 150: "kcal/mL",
    # per body weight
    37: "ng/kg", 38: "mg/kg", 39: "ug/kg", 40: "g/kg", 41: "mmol/kg", 42: "meq/kg",
    43: "[iU]/kg", 119: "m[iU]/kg", 132: "k[iU]/kg", 139: "M[iU]/kg", 149: "kcal/kg",
    # amount per time
    44: "ng/min", 45: "ng/h", 46: "ng/d", 47: "mg/min", 48: "mg/h", 49: "mg/d",
    50: "ug/min", 51: "ug/h", 52: "ug/d", 53: "g/min", 54: "g/h", 55: "g/d",
    56: "mmol/min", 57: "mmol/h", 58: "mmol/d", 59: "meq/min", 60: "meq/h", 61: "meq/d",
    62: "[iU]/min", 63: "[iU]/h", 64: "[iU]/d", 121: "m[iU]/min", 122: "m[iU]/h",
    123: "m[iU]/d", 133: "k[iU]/h", 134: "k[iU]/d", 140: "M[iU]/h", 141: "M[iU]/d",
    151: "kcal/d",
    # amount per body weight per time
    65: "ng/kg/min", 66: "ng/kg/h", 67: "ng/kg/d", 68: "mg/kg/min", 69: "mg/kg/h",
    70: "mg/kg/d", 71: "ug/kg/min", 72: "ug/kg/h", 73: "ug/kg/d", 74: "g/kg/min",
    75: "g/kg/h", 76: "g/kg/d", 77: "mmol/kg/min", 78: "mmol/kg/h", 79: "mmol/kg/d",
    80: "meq/kg/min", 81: "meq/kg/h", 82: "meq/kg/d", 83: "[iU]/kg/min", 84: "[iU]/kg/h",
    85: "[iU]/kg/d", 124: "m[iU]/kg/min", 125: "m[iU]/kg/h", 126: "m[iU]/kg/d",
    135: "k[iU]/kg/h", 136: "k[iU]/kg/d", 142: "M[iU]/kg/h", 143: "M[iU]/kg/d",
    152: "kcal/kg/d",
    # per body surface, and per body surface per time
    97: "ng/m2", 98: "ng/m2/min", 99: "ng/m2/h", 100: "ng/m2/d",
    101: "ug/m2", 102: "ug/m2/min", 103: "ug/m2/h", 104: "ug/m2/d",
    105: "mg/m2", 106: "mg/m2/min", 107: "mg/m2/h", 108: "mg/m2/d",
    109: "g/m2", 110: "g/m2/min", 111: "g/m2/h", 112: "g/m2/d",
    113: "[iU]/m2", 114: "[iU]/m2/min", 115: "[iU]/m2/h", 116: "[iU]/m2/d",
    120: "m[iU]/m2", 127: "m[iU]/m2/min", 128: "m[iU]/m2/h", 129: "m[iU]/m2/d",
    144: "meq/m2", 145: "meq/m2/min", 146: "meq/m2/h", 147: "meq/m2/d",
}  # fmt: skip
"""BCC unit code -> UCUM unit (case-sensitive UCUM)."""


def ucum_unit(code: str | None) -> str | None:
    """The UCUM unit for a BCC unit code given as text (``"69"`` -> ``"mg/kg/h"``), or
    ``None`` for no value, a non-numeric code or a code outside :data:`UNIT_CODES`."""
    text = (code or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return UNIT_CODES.get(int(text))
