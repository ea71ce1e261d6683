"""Alarm rules, limits and the alarm state machine."""
