"""Exceptions of the driver layer; the device session maps them to state and metrics."""

__all__ = ["DecodeError", "DriverError", "LinkError", "PortMissingError", "UnknownDriverError"]


class DriverError(Exception):
    """Base class of every error raised by :mod:`drivers`."""


class LinkError(DriverError):
    """A link (serial port, socket) could not be opened or broke while in use."""


class PortMissingError(LinkError):
    """The port is not there to open: no such device path (an unplugged adapter), or nothing
    listening at a ``socket://`` address (a terminal server or simulator not serving)."""


class DecodeError(DriverError):
    """A well-framed message whose content could not be turned into readings."""


class UnknownDriverError(DriverError, LookupError):
    """A driver name that is not in the registry."""
