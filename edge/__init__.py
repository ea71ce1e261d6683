"""infusion-edge daemon: configuration, device sessions, alarms, publishing, metrics, web."""

__version__ = "0.1.0"
