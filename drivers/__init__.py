"""Device protocol library: framers, codecs and simulators for infusion pumps and monitors.

This package never imports :mod:`edge`; the daemon builds on it, not the other way round.
"""
