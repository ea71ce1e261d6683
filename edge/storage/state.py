"""The fault state of one store, and the log lines that tell an engineer about it.

A store is *faulted* while its disk refuses (``fault`` is set) and for ``notice_s`` after it
moved a corrupt file aside (the history in that file is lost to the edge, which
``storage_fault`` tells the nurses even though the fresh file works).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from edge.storage.errors import StorageFaultError

__all__ = ["FaultState"]

log = logging.getLogger(__name__)


class FaultState:
    """Whether ``store`` is faulted; ``monotonic`` gives seconds for the corrupt notice."""

    def __init__(
        self, store: str, notice_s: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.notice_s = notice_s
        self.fault: StorageFaultError | None = None
        self._monotonic = monotonic
        self._notice_until = float("-inf")

    @property
    def faulted(self) -> bool:
        """The disk refuses now, or a corrupt file was moved aside less than notice_s ago."""
        return self.fault is not None or self._monotonic() < self._notice_until

    def failed(self, fault: StorageFaultError, what: str) -> None:
        """Note ``fault``; logged at ERROR when it starts or changes kind, else at DEBUG."""
        new = self.fault is None or self.fault.kind != fault.kind
        self.fault = fault
        log.log(
            logging.ERROR if new else logging.DEBUG,
            "storage fault",
            extra={
                "store": self.store,
                "kind": fault.kind,
                "error": fault.detail,
                "path": str(fault.path),
                "meanwhile": what,
            },
        )

    def moved_aside(self, path: Path, target: Path, lost: int | None = None) -> None:
        """Note that the corrupt ``path`` is now at ``target`` and a fresh file begins."""
        self._notice_until = self._monotonic() + self.notice_s
        extra: dict[str, object] = {"store": self.store, "path": str(path), "moved_to": str(target)}
        if lost is not None:
            extra["messages_lost"] = lost
        log.error("corrupt file moved aside; starting a fresh one", extra=extra)

    def lost(self, count: int, what: str) -> None:
        """Log that ``count`` items only in memory are lost (at shutdown)."""
        log.error(what, extra={"store": self.store, "count": count})

    def recovered(self) -> None:
        """The disk works again."""
        if self.fault is not None:
            path = str(self.fault.path)
            log.warning("storage recovered", extra={"store": self.store, "path": path})
        self.fault = None
