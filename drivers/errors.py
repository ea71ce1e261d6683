"""Exceptions of the driver layer; the device session maps them to state and metrics."""

__all__ = ["DecodeError", "DriverError", "LinkError", "UnknownDriverError"]


class DriverError(Exception):
    """Base class of every error raised by :mod:`drivers`."""


class LinkError(DriverError):
    """A link (serial port, socket) could not be opened or broke while in use."""


class DecodeError(DriverError):
    """A well-framed message whose content could not be turned into readings."""


class UnknownDriverError(DriverError, LookupError):
    """A driver name that is not in the registry."""
