"""Basic-class PHDB records -> :class:`~drivers.readings.VitalsReading` (fact sheet §3-4).

Per group (the module's status bits decide first):

- module absent (status bit 0 clear): no observation for its quantities;
- module present but not measuring (bit 1 clear; not for NIBP, which is intermittent), NIBP
  calibrating, CO2 calibrating or zeroing: ``unavailable``, no value;
- a marker value (<= -32001): ``unavailable`` for DATA_NOT_UPDATED, else ``invalid`` (invalid,
  under/over range, not calibrated), no value;
- CO2 occlusion or air leak: the respiration rate from CO2 is ``questionable``.

Codes: ECG HR -> ``MDC_ECG_HEART_RATE`` only when the ECG group says its HR source is ECG
(status bits 3-6 = 1 or 9; an HR taken from pleth or an invasive line is not an ECG rate),
impedance RR -> ``MDC_RESP_RATE``, NIBP -> ``MDC_PRESS_BLD_NONINV_SYS/_DIA/_MEAN`` (mm[Hg]),
the first present temperature group T1..T4 -> ``MDC_TEMP_BODY`` (Cel), SpO2 ->
``MDC_PULS_OXIM_SAT_O2`` (%), its pulse rate -> ``MDC_PULS_OXIM_PULS_RATE``, CO2 RR ->
``MDC_AWAY_RESP_RATE``. Values in 1/100 are divided by 100.

The record carries no NIBP measurement time (only the send time and a "data older than 60 s"
bit), so :class:`NibpCuffs` tells cuffs apart: a new cuff is a changed (sys, dia, mean) triple,
or any triple after the group reported "measuring"; its observations carry ``ts`` = the
receive time of the first record that showed it, kept while it is repeated (none for the
first cuff of a link not seen measured: it may be older than the link). The reading's own
``ts`` is the receive time (the monitor's clock is not trusted).
"""

from __future__ import annotations

from datetime import datetime

from drivers.base import DeviceTarget, Instant
from drivers.ge_dri import basic
from drivers.ge_dri.basic import Group
from drivers.ge_dri.records import CLASS_BASIC, MT_PHDB, SR_DISPL, parse_record, split_phdb
from drivers.readings import Observation, ObservationState, VitalsReading

__all__ = ["NibpCuffs", "decode_record", "observations"]

NIBP_CODES = ("MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA", "MDC_PRESS_BLD_NONINV_MEAN")
_CO2_CALIBRATING = (1 << 3) | (1 << 4)  # calibrating, zeroing
_CO2_DOUBTFUL = (1 << 5) | (1 << 6)  # occlusion, air leak

Cuff = tuple[int, int, int]


class NibpCuffs:
    """Tells one cuff measurement from the next by its values and the measuring status.

    The first cuff a link shows without having seen it measured may have been measured before
    the link opened (a reopen, a restart): its time is unknown, so it carries no stamp, and the
    alarm engine then counts it as a new cuff only if its values differ from the last one it
    knows. Every later cuff is stamped with the time the link first saw it."""

    def __init__(self) -> None:
        self._cuff: Cuff | None = None
        self._stamp: datetime | None = None
        self._measuring = False
        self.count = 0
        """Cuffs seen so far."""

    def stamp(
        self, cuff: Cuff | None, measuring: bool, now: datetime
    ) -> tuple[bool, datetime | None]:
        """Whether the cuff ``cuff`` shown at ``now`` is a usable cuff, and its time stamp
        (``None`` for a cuff the link did not see measured first)."""
        if measuring:
            self._measuring = True
            shown = cuff is not None and cuff == self._cuff
            return shown, self._stamp if shown else None
        if cuff is None:
            return False, None
        if cuff != self._cuff or self._measuring:
            seen_before = self._cuff is not None or self._measuring
            self._cuff, self._measuring = cuff, False
            self._stamp = now if seen_before else None
            self.count += 1
        return True, self._stamp


def _obs(
    code: str,
    raw: int,
    unit: str,
    scale: float = 1.0,
    state: ObservationState = "valid",
    ts: datetime | None = None,
) -> Observation:
    if basic.is_marker(raw):
        marker = "unavailable" if raw == -32766 else "invalid"
        return Observation(code=code, value=None, unit=unit, state=marker)
    if state in ("invalid", "unavailable"):
        return Observation(code=code, value=None, unit=unit, state=state)
    return Observation(code=code, value=round(raw * scale, 2), unit=unit, state=state, ts=ts)


def _continuous(group: Group) -> ObservationState:
    return "valid" if group.active else "unavailable"


def _nibp(group: Group, cuffs: NibpCuffs, now: datetime) -> list[Observation]:
    raw = group.values[:3]
    if group.label & basic.NIBP_CALIBRATING:
        return [
            _obs(code, value, "mm[Hg]", state="unavailable")
            for code, value in zip(NIBP_CODES, raw, strict=True)
        ]
    shown = None if all(basic.is_marker(v) for v in raw) else (raw[0], raw[1], raw[2])
    usable, stamp = cuffs.stamp(shown, bool(group.label & basic.NIBP_MEASURING), now)
    state: ObservationState = "valid" if usable else "unavailable"
    return [
        _obs(code, value, "mm[Hg]", 0.01, state, stamp)
        for code, value in zip(NIBP_CODES, raw, strict=True)
    ]


def observations(groups: dict[str, Group], cuffs: NibpCuffs, now: datetime) -> list[Observation]:
    """The observations of decoded Basic ``groups`` received at ``now``."""
    out: list[Observation] = []
    ecg = groups["ecg"]
    if ecg.exists:
        if ecg.ecg_source in basic.ECG_SOURCES:
            out.append(_obs("MDC_ECG_HEART_RATE", ecg.values[0], "/min", state=_continuous(ecg)))
        out.append(_obs("MDC_RESP_RATE", ecg.values[4], "/min", state=_continuous(ecg)))
    if groups["nibp"].exists:
        out += _nibp(groups["nibp"], cuffs, now)
    temperature = next((groups[f"t{k}"] for k in range(1, 5) if groups[f"t{k}"].exists), None)
    if temperature is not None:
        out.append(
            _obs("MDC_TEMP_BODY", temperature.values[0], "Cel", 0.01, _continuous(temperature))
        )
    spo2 = groups["spo2"]
    if spo2.exists:
        out.append(_obs("MDC_PULS_OXIM_SAT_O2", spo2.values[0], "%", 0.01, _continuous(spo2)))
        out.append(_obs("MDC_PULS_OXIM_PULS_RATE", spo2.values[1], "/min", state=_continuous(spo2)))
    co2 = groups["co2"]
    if co2.exists:
        state = _continuous(co2)
        if co2.status & _CO2_CALIBRATING:
            state = "unavailable"
        elif state == "valid" and co2.status & _CO2_DOUBTFUL:
            state = "questionable"
        out.append(_obs("MDC_AWAY_RESP_RATE", co2.values[2], "/min", state=state))
    return out


def decode_record(
    record: bytes, target: DeviceTarget, at: Instant, cuffs: NibpCuffs
) -> list[VitalsReading]:
    """One reading per Basic displayed-values subrecord of ``record`` (a checked record from
    the framer); other main types, subrecord types and classes are ignored. Raises
    :class:`DecodeError` for a malformed record."""
    header, subrecords = parse_record(record)
    if header.maintype != MT_PHDB:
        return []
    readings = []
    for sub in subrecords:
        if sub.type != SR_DISPL:
            continue
        _, data_class, physdata = split_phdb(sub.data)
        if data_class != CLASS_BASIC:
            continue
        found = observations(basic.decode_groups(physdata), cuffs, at.wall)
        readings.append(
            VitalsReading(
                device_id=target.device_id, bed=target.bed, ts=at.wall, observations=tuple(found)
            )
        )
    return readings
