"""A simulated serial device on a real pseudo-terminal, behind a stable symlink.

The daemon opens ``path`` (a symlink, like /dev/serial/by-id/...) and gets the pty's slave side;
the test writes device bytes into the master. ``unplug()`` closes the pty (the daemon's reads
fail as with a pulled USB adapter) and ``plug()`` makes a new one behind the same path.
"""

from __future__ import annotations

import contextlib
import os
import pty
import tty
from pathlib import Path

__all__ = ["PtyDevice"]


class PtyDevice:
    """One pseudo-terminal device reachable at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self.plug()

    def plug(self) -> None:
        """Create a fresh pty and point ``path`` at its slave side."""
        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo or line editing before the daemon configures the port
        slave_name = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        temporary = self.path.with_suffix(".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(slave_name)
        temporary.replace(self.path)

    def unplug(self) -> None:
        """Close the pty: the reader on the slave side sees the device vanish."""
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def write(self, data: bytes) -> None:
        """Send ``data`` as the device (dropped while unplugged or the buffer is full)."""
        if self._master is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)

    def read(self) -> bytes:
        """Bytes the daemon wrote to the device so far (empty if none)."""
        if self._master is None:
            return b""
        try:
            return os.read(self._master, 65536)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        """Unplug and remove the symlink."""
        self.unplug()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
