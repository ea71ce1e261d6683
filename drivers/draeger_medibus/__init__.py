"""Dräger MEDIBUS (RS-232 "slow data"): intensive-care ventilators, polled for measured data."""
