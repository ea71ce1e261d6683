"""The nurses' alarm dashboard: a secondary alarm display of every edge on the broker.

It reads beds, alarms and edges from MQTT, serves them as JSON and Server-Sent Events to a
plain HTML page, and sends a nurse's acknowledgement back over MQTT to the edge that owns the
alarm. The bedside device remains the primary alarm.
"""

from __future__ import annotations

from edge.web.app import create_app
from edge.web.passwords import hash_password
from edge.web.server import listen, listen_configured, run_dashboard, serve

__all__ = ["create_app", "hash_password", "listen", "listen_configured", "run_dashboard", "serve"]
