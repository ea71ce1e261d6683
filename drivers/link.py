"""Open a link to a device from a URL or a device path, and read and write it with asyncio.

Accepted forms (pyserial's URL scheme):

- a device path: ``/dev/ttyUSB0``, ``/dev/serial/by-id/usb-FTDI_...``, a pty slave
- ``socket://host:port``: a terminal server or a simulator on TCP
- ``rfc2217://host:port``: a terminal server speaking RFC 2217
- ``loop://``: pyserial's loopback, for tests

Device paths are opened by pyserial (termios settings, an exclusive lock so a busy port fails
at once) and then read through the event loop's epoll on the file descriptor. pyserial's own
``read()`` calls ``select()``, which fails past descriptor 1024, so it is never used for device
paths or sockets. Other URLs have no pollable descriptor; they are read by pyserial in a worker
thread with a short timeout.
"""

from __future__ import annotations

import asyncio
import errno
import os
import urllib.parse
from dataclasses import dataclass
from typing import Literal, Protocol

import serial

from drivers.errors import LinkError, PortMissingError

__all__ = ["Link", "SerialSettings", "open_link"]

_READ_SIZE = 4096
_MAX_WRITE_BACKLOG = 64 * 1024  # bytes queued for a device that does not read
_THREAD_READ_TIMEOUT = 0.05  # s, a worker-thread read returns at least this often


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """RS-232 line settings; ignored by ``socket://`` links."""

    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = 1  # 1, 1.5 or 2
    rtscts: bool = False
    xonxoff: bool = False


class Link(Protocol):
    """An open byte link. ``read`` returns at least one byte or raises :class:`LinkError`."""

    description: str

    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class _StreamLink:
    """A link over asyncio streams: a socket, or a serial fd read through the event loop."""

    def __init__(
        self,
        description: str,
        reader: asyncio.StreamReader,
        write_transport: asyncio.WriteTransport,
        owned: serial.Serial | asyncio.StreamWriter | None = None,
    ) -> None:
        self.description = description
        self._reader = reader
        self._write = write_transport
        self._owned = owned  # closed with the link; a StreamWriter closes its socket when freed

    async def read(self) -> bytes:
        try:
            data = await self._reader.read(_READ_SIZE)
        except OSError as exc:
            raise LinkError(f"{self.description}: read failed: {exc.strerror or exc}") from exc
        if not data:
            raise LinkError(f"{self.description}: closed by the other side")
        return data

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._write.is_closing():
            raise LinkError(f"{self.description}: link is closed")
        if self._write.get_write_buffer_size() > _MAX_WRITE_BACKLOG:
            raise LinkError(f"{self.description}: device is not accepting data")
        self._write.write(data)

    async def close(self) -> None:
        self._write.close()
        read_transport = getattr(self._reader, "_transport", None)
        if read_transport is not None:
            read_transport.close()
        if self._owned is not None:
            self._owned.close()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks


class _ThreadLink:
    """A pyserial URL without a pollable descriptor, read in a worker thread."""

    def __init__(self, description: str, port: serial.SerialBase) -> None:
        self.description = description
        self._port = port

    async def read(self) -> bytes:
        while True:
            try:
                data: bytes = await asyncio.to_thread(self._port.read, _READ_SIZE)
            except (serial.SerialException, OSError) as exc:
                raise LinkError(f"{self.description}: read failed: {exc}") from exc
            if data:
                return data

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._port.write, data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.description}: write failed: {exc}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._port.close)


async def open_link(url: str, settings: SerialSettings = SerialSettings()) -> Link:
    """Open ``url`` (a device path or a pyserial URL); raise :class:`LinkError` with the reason."""
    scheme = urllib.parse.urlsplit(url).scheme if "://" in url else ""
    if scheme == "socket":
        return await _open_socket(url)
    if scheme == "":
        return await _open_device(url, settings)
    return await _open_threaded(url, settings)


async def _open_socket(url: str) -> Link:
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.port is None:
        raise LinkError(f"{url}: expected socket://host:port")
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except ConnectionRefusedError as exc:
        raise PortMissingError(f"{url}: nothing listening (connection refused)") from exc
    except OSError as exc:
        raise LinkError(f"{url}: cannot connect: {exc.strerror or exc}") from exc
    return _StreamLink(url, reader, writer.transport, owned=writer)


def _serial_kwargs(settings: SerialSettings) -> dict[str, object]:
    return {
        "baudrate": settings.baudrate,
        "bytesize": settings.bytesize,
        "parity": settings.parity,
        "stopbits": settings.stopbits,
        "rtscts": settings.rtscts,
        "xonxoff": settings.xonxoff,
    }


async def _open_device(path: str, settings: SerialSettings) -> Link:
    try:
        port = serial.Serial(port=path, timeout=0, exclusive=True, **_serial_kwargs(settings))
    except (serial.SerialException, OSError, ValueError) as exc:
        raise _open_error(path, exc) from exc
    loop = asyncio.get_running_loop()
    try:
        read_file = os.fdopen(os.dup(port.fileno()), "rb", buffering=0)
        write_file = os.fdopen(os.dup(port.fileno()), "wb", buffering=0)
    except OSError as exc:
        port.close()
        raise LinkError(_describe_open_error(path, exc)) from exc
    reader = asyncio.StreamReader(limit=_READ_SIZE * 16)
    read_transport: asyncio.BaseTransport | None = None
    try:
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), read_file
        )
        write_transport, _ = await loop.connect_write_pipe(asyncio.Protocol, write_file)
    except BaseException:  # cancelled while opening (a session stopped): nothing may leak
        if read_transport is not None:
            read_transport.close()
        read_file.close()
        write_file.close()
        port.close()
        raise
    return _StreamLink(path, reader, write_transport, owned=port)


async def _open_threaded(url: str, settings: SerialSettings) -> Link:
    try:
        port = await asyncio.to_thread(
            serial.serial_for_url, url, timeout=_THREAD_READ_TIMEOUT, **_serial_kwargs(settings)
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise _open_error(url, exc) from exc
    return _ThreadLink(url, port)


def _open_error(port: str, exc: BaseException) -> LinkError:
    """The :class:`LinkError` for an open failure: :class:`PortMissingError` when there is no
    such port (retried at a short fixed interval by the session, not backed off)."""
    message = _describe_open_error(port, exc)
    missing = getattr(exc, "errno", None) == errno.ENOENT or "No such file" in str(exc)
    return PortMissingError(message) if missing else LinkError(message)


def _describe_open_error(port: str, exc: BaseException) -> str:
    """One clear sentence for an open failure, with a hint where one helps."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return f"{port}: no such port (is the adapter plugged in? see `infusion-edge ports`)"
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return f"{port}: permission denied (add the service user to the dialout group)"
    if code == errno.EMFILE or "Too many open files" in text:
        return f"{port}: no file descriptor left for this port (raise the open-file limit)"
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return f"{port}: port is busy (another program has it open)"
    return f"{port}: cannot open: {text}"
