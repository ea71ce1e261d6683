"""``infusion-edge session-report``: a bed's treatment-session records from the dashboard's
history file, as text, JSON or CSV (the same record as the dashboard's page and downloads).

``--list`` lists the bed's sessions (newest first); otherwise the record of ``--session``, or of
the bed's newest session. Exit codes: 0 done; 1 no such bed, session or history file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from edge.config import Config
from edge.web.history_store import HistoryStore, history_path
from edge.web.session_record import RecordNotFoundError, record_csv, session_record
from edge.web.views import JsonDict

__all__ = ["add_arguments", "format_text", "report"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("--config", required=True, type=Path, help="the dashboard's config")
    parser.add_argument("--bed", required=True, help="bed id (as in the config, not the label)")
    parser.add_argument("--site", help="the bed's site (default: the config's site)")
    parser.add_argument("--session", help="session id (default: the bed's newest session)")
    parser.add_argument("--list", action="store_true", help="list the bed's sessions")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    parser.add_argument("--history", type=Path, help="history file (default: from the config)")


def report(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print what ``args`` ask for (on ``out``, default stdout); the exit code."""
    out = out or sys.stdout
    path: Path = args.history or history_path(config)
    if not path.exists():
        print(f"{path}: no dashboard history here (http.history.path)", file=sys.stderr)
        return 1
    store = HistoryStore(path)
    site = args.site or config.site
    try:
        sessions = store.sessions(site, args.bed)
        if args.list:
            for row in sessions:
                record = json.loads(row.body)
                print(f"{row.session_id}  {record['started_at']}  {row.phase}", file=out)
            return 0
        session_id = args.session or (sessions[0].session_id if sessions else None)
        if session_id is None:
            print(f"no session of bed {args.bed} in {site} in {path}", file=sys.stderr)
            return 1
        notes = config.http.history.notes
        record = session_record(store, site, args.bed, session_id, notes=notes)
    except RecordNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(record, indent=2), file=out)
    elif args.format == "csv":
        out.write(record_csv(record))
    else:
        print(format_text(record), file=out)
    return 0


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _value(row: JsonDict, *codes: str) -> str:
    for code in codes:
        value = row["values"].get(code)
        if value is not None:
            return f"{value['value']:g}"
    return "-"


def format_text(record: JsonDict) -> str:
    """The record for a terminal: the session's facts, the alarms, the charted rows."""
    pump, order = record["pump"], record["order"]
    name = f"{record['label']} ({record['bed']})" if record["label"] else record["bed"]
    lines = [
        f"Treatment session {record['session_id']} - {name}, site {record['site']}",
        f"  phase {record['phase']}; started {record['started_at']}",
        f"  infusion {record['infusion_started_at'] or '-'}"
        + (" (estimated)" if record["infusion_started_estimated"] else "")
        + f" to {record['infusion_stopped_at'] or '-'}; closed {record['closed_at'] or '-'}",
        "  order "
        + (
            f"{order['drug']} {order['dose_mg_per_kg']:g} mg/kg, {order['rate_ml_per_h']:g} mL/h"
            if order
            else "none"
        ),
        "  programmed "
        + (
            ", ".join(
                f"{r['rate_ml_per_h']:g} mL/h from {r['from']}" for r in pump["programmed_rates"]
            )
            or "-"
        ),
        f"  volume delivered {_or_dash(pump['volume_delivered_ml'])} mL",
        f"Alarms: {len(record['alarms'])}",
    ]
    if record.get("note"):
        note = record["note"]
        lines.insert(-1, f"  note: {note['text']} ({note['by']}, {note['at']})")
    for alarm in record["alarms"]:
        ack = (
            f"acknowledged by {alarm['acknowledged_by']} at {alarm['acknowledged_at']}"
            if alarm["acknowledged_by"]
            else "not acknowledged"
        )
        lines.append(f"  {alarm['raised_at']} {alarm['priority']:6} {alarm['message']} ({ack})")
    lines.append(f"Charted rows: {len(record['charted'])}")
    lines.append(
        f"  {'at':25} {'why':8} {'phase':11} {'BP':>7} {'HR':>4} {'SpO2':>4} {'mL/h':>5} {'mL':>5}"
    )
    for row in record["charted"]:
        bp = f"{_value(row, 'MDC_PRESS_BLD_NONINV_SYS')}/{_value(row, 'MDC_PRESS_BLD_NONINV_DIA')}"
        lines.append(
            f"  {row['at']:25} {row['reason']:8} {row['phase']:11} {bp:>7} "
            f"{_value(row, 'MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_PULS_RATE'):>4} "
            f"{_value(row, 'MDC_PULS_OXIM_SAT_O2'):>4} {_value(row, 'MDC_FLOW_FLUID_PUMP'):>5} "
            f"{_value(row, 'MDC_VOL_FLUID_DELIV'):>5}"
        )
    return "\n".join(lines)
