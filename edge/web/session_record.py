"""The treatment-session record of one bed's session, from the dashboard's history store: the
one source of the printable page, the JSON and CSV downloads and ``infusion-edge
session-report``.

The record holds the session's times and order, the pump's programmed rates and the volume it
delivered, the vital signs' range, the charted rows, every alarm with who acknowledged it
and when, and every alarm limit of the bed changed during the session by a live reload of its
edge's config (when, before, after, by whom). The charted rows come from
:func:`edge.charting.chart` (every 5 min from the start of the infusion, and every NIBP
measurement), the rule the HL7 output charts with, run over the stored readings: a row's
minimum and maximum are those of the readings kept (one every ``http.history.sample_s`` per
device). No patient identifier is stored or shown.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from drivers.readings import PumpReading, VitalsReading, parse_reading
from edge.alarms.models import TreatmentSession
from edge.charting import CHARTED_CODES, ChartRow, chart
from edge.publish.payloads import AlarmPayload, SessionPayload, read_payload
from edge.web.history_store import HistoryStore, ReadingRow
from edge.web.views import JsonDict

__all__ = ["COLUMNS", "RecordNotFoundError", "record_csv", "session_record"]

SCHEMA = "infusion-edge.session-record/1"
LEAD_S = 120.0  # readings before the session start: the cuff that opens it comes first
COLUMNS: dict[str, str] = {  # charted code -> CSV column (with its unit)
    "MDC_PRESS_BLD_NONINV_SYS": "sbp_mmHg",
    "MDC_PRESS_BLD_NONINV_DIA": "dbp_mmHg",
    "MDC_PRESS_BLD_NONINV_MEAN": "map_mmHg",
    "MDC_ECG_HEART_RATE": "hr_per_min",
    "MDC_PULS_OXIM_PULS_RATE": "pulse_per_min",
    "MDC_PULS_OXIM_SAT_O2": "spo2_pct",
    "MDC_RESP_RATE": "rr_per_min",
    "MDC_AWAY_RESP_RATE": "awrr_per_min",
    "MDC_TEMP_BODY": "temp_cel",
    "MDC_FLOW_FLUID_PUMP": "rate_ml_h",
    "MDC_VOL_FLUID_DELIV": "volume_ml",
    "MDC_RATE_DOSE": "dose_rate",
}
assert set(COLUMNS) == set(CHARTED_CODES)
RANGES = (  # name, unit, trend column of readings or cuffs
    ("sbp", "mm[Hg]", "sbp"),
    ("dbp", "mm[Hg]", "dbp"),
    ("hr", "/min", "hr"),
    ("spo2", "%", "spo2"),
    ("rr", "/min", "rr"),
)


class RecordNotFoundError(LookupError):
    """No such session in the history."""


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat()


def session_record(
    store: HistoryStore,
    site: str,
    bed: str,
    session_id: str,
    now: datetime | None = None,
    *,
    notes: bool = False,
) -> JsonDict:
    """The record of ``session_id`` of ``site``/``bed`` (with its note when ``notes`` are
    enabled); :class:`RecordNotFoundError` if the history has no snapshot of it."""
    snapshots = [
        read_payload(SessionPayload, row.body)
        for row in store.session_snapshots(site, bed, session_id)
    ]
    if not snapshots:
        raise RecordNotFoundError(f"no session {session_id} of bed {bed} in {site}")
    session = snapshots[-1]
    now = now or datetime.now(UTC)
    end = session.closed_at or session.observation_ends_at or now
    end = min(end, now) if session.phase != "closed" else end
    start_s, end_s = session.started_at.timestamp() - LEAD_S, end.timestamp() + 1.0
    stored = store.readings(site, bed, start_s, end_s)
    readings = [parse_reading(row.body) for row in stored]
    rows = [row for row in _chart(readings, snapshots) if row.session_id == session_id]
    in_session = [r for r in stored if r.ts >= session.started_at.timestamp()]
    cuffs = store.cuffs(site, bed, session.started_at.timestamp(), end_s)
    alarms = store.alarms(site, bed, session.started_at.timestamp() - LEAD_S, end_s)
    transitions: dict[str, list[JsonDict]] = {}
    for event in store.alarm_events(site, bed, session.started_at.timestamp() - LEAD_S, end_s):
        transitions.setdefault(event.alarm_id, []).append(
            {
                "at": _iso(datetime.fromtimestamp(event.at, UTC)),
                "transition": event.transition,
                "priority": event.priority,
                "state": event.state,
                "by": event.by,
            }
        )
    return {
        "schema": SCHEMA,
        "site": site,
        "bed": bed,
        "label": next((s.label for s in reversed(snapshots) if s.label), None),
        "edge_id": session.edge_id,
        "session_id": session.session_id,
        "phase": session.phase,
        "started_at": _iso(session.started_at),
        "infusion_started_at": _iso(session.infusion_started_at),
        "infusion_started_estimated": session.infusion_started_estimated,
        "infusion_stopped_at": _iso(session.infusion_stopped_at),
        "observation_ends_at": _iso(session.observation_ends_at),
        "closed_at": _iso(session.closed_at),
        "order": session.order.model_dump(mode="json") if session.order else None,
        "baseline": {
            "systolic": session.baseline_systolic,
            "diastolic": session.baseline_diastolic,
            "count": session.baseline_count,
            "unit": "mm[Hg]",
        },
        "pump": _pump(readings, session),
        "ranges": _ranges(in_session, cuffs),
        "charted": [_row_json(row) for row in rows],
        "alarms": [
            _alarm_json(read_payload(AlarmPayload, a.body), transitions.get(a.alarm_id, []))
            for a in alarms
        ],
        "limit_changes": [
            {
                "at": _iso(datetime.fromtimestamp(change.at, UTC)),
                "limit": change.limit_path,
                "before": json.loads(change.before),
                "after": json.loads(change.after),
                "by": change.by,
            }
            for change in store.limit_changes(site, bed, session.started_at.timestamp(), end_s)
        ],
        "notes_enabled": notes,
        "note": _note(store, site, bed, session_id) if notes else None,
        "generated_at": now.isoformat(),
    }


def _note(store: HistoryStore, site: str, bed: str, session_id: str) -> JsonDict | None:
    note = store.note(site, bed, session_id)
    if note is None:
        return None
    text, by, at = note
    return {"text": text, "by": by, "at": _iso(datetime.fromtimestamp(at, UTC))}


def _chart(
    readings: Sequence[PumpReading | VitalsReading], snapshots: Sequence[SessionPayload]
) -> list[ChartRow]:
    """The charting rule over readings and snapshots in time order, a reading before the
    snapshot of the same time (the cuff that opens a session comes before the session)."""
    timed: list[tuple[datetime, int, PumpReading | VitalsReading | TreatmentSession]] = [
        (reading.ts, 0, reading) for reading in readings
    ]
    timed += [(s.ts, 1, s) for s in snapshots]
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    return chart(item for _, _, item in timed)


def _pump(readings: Sequence[PumpReading | VitalsReading], session: TreatmentSession) -> JsonDict:
    """Programmed rates while infusing (each change, mL/h) and the volume delivered in the
    session (mL): the sum of each pump's increases of its volume infused, so a counter
    cleared by a new program does not count backwards."""
    rates: list[JsonDict] = []
    delivered = 0.0
    last_volume: dict[str, float] = {}
    drugs: set[str] = set()
    for reading in readings:
        if not isinstance(reading, PumpReading) or reading.ts < session.started_at:
            continue
        if reading.pump.drug:
            drugs.add(reading.pump.drug)
        for obs in reading.observations:
            if obs.value is None or obs.state not in ("valid", "questionable"):
                continue
            if obs.code == "MDC_VOL_FLUID_DELIV":
                previous = last_volume.get(reading.device_id)
                if previous is not None:
                    step = obs.value - previous
                    delivered += step if step >= 0 else obs.value
                last_volume[reading.device_id] = obs.value
            elif (
                obs.code == "MDC_FLOW_FLUID_PUMP"
                and reading.pump.state == "infusing"
                and (not rates or rates[-1]["rate_ml_per_h"] != obs.value)
            ):
                rates.append(
                    {
                        "from": _iso(reading.ts),
                        "device_id": reading.device_id,
                        "rate_ml_per_h": obs.value,
                    }
                )
    return {
        "drugs": sorted(drugs),
        "programmed_rates": rates,
        "volume_delivered_ml": round(delivered, 2) if last_volume else None,
    }


def _ranges(readings: Sequence[ReadingRow], cuffs: Sequence[object]) -> JsonDict:
    """Minimum and maximum of each vital sign over the session (NIBP over its cuffs)."""
    out: JsonDict = {}
    for name, unit, column in RANGES:
        source: Sequence[object] = cuffs if name in ("sbp", "dbp") else readings
        values = [v for item in source if (v := getattr(item, column, None)) is not None]
        out[name] = {
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "unit": unit,
        }
    return out


def _row_json(row: ChartRow) -> JsonDict:
    return {
        "at": _iso(row.at),
        "reason": row.reason,
        "phase": row.phase,
        "values": {
            v.code: {
                "value": v.value,
                "unit": v.unit,
                "min": v.minimum,
                "max": v.maximum,
                "measured_at": _iso(v.measured_at),
                "device_id": v.device_id,
            }
            for v in row.values
        },
    }


def _alarm_json(alarm: AlarmPayload, transitions: list[JsonDict]) -> JsonDict:
    data = alarm.model_dump(
        mode="json",
        include={
            "alarm_id",
            "rule",
            "kind",
            "priority",
            "state",
            "device_id",
            "message",
            "value",
            "limit",
            "raised_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledged_via",
            "ended_at",
            "escalated_at",
        },
    )
    return {**data, "transitions": transitions}


def record_csv(record: JsonDict) -> str:
    """The charted rows of ``record`` as CSV: ``at`` (ISO 8601, UTC), ``reason``
    (interval/nibp), ``phase``, then per charted quantity its value, ``_min`` and ``_max``
    (empty when not charted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["at", "reason", "phase"]
    for column in COLUMNS.values():
        header += [column, f"{column}_min", f"{column}_max"]
    writer.writerow(header)
    for row in record["charted"]:
        line: list[object] = [row["at"], row["reason"], row["phase"]]
        for code in COLUMNS:
            value = row["values"].get(code)
            line += [value["value"], value["min"], value["max"]] if value else ["", "", ""]
        writer.writerow(line)
    return out.getvalue()
