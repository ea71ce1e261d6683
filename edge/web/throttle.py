"""Login throttling: a temporary lockout per user name and per client address.

A lockout, not growing delays: a delayed answer keeps a connection and a coroutine per guess
waiting, while a locked-out attempt is answered at once (429, ``Retry-After``) without
running the Argon2 hash, so refused guesses cost the dashboard almost nothing.

Three scopes count failed logins, each in a window of ``http.login_window_s`` (s; a scope's
count starts afresh when its window has passed):

=================  =========================================  =============================
scope              counts failures of                         locked after (default)
=================  =========================================  =============================
``address``        any name from one client address           ``login_address_failures`` (50)
``name@address``   one name from one client address           ``login_name_failures`` (5)
``name``           one name from every address                4 x ``login_name_failures`` (20)
=================  =========================================  =============================

Reaching the limit locks that scope for ``login_lockout_s`` (30 s), doubled for each further
lockout in a row, at most ``login_max_lockout_s`` (900 s); a scope idle for a window after its
lockout starts again from the first lockout. A successful login clears the name's two scopes
(not the address's: a working account must not buy an attacker more guesses). An attacker at
one address therefore locks a nurse's name only at that address; locking her out everywhere
takes failures from several addresses, and never for more than the cap at a time.

An attempt in progress counts as a failure until it ends, so a burst of parallel guesses
cannot overrun a limit. Each scope tracks at most ``capacity`` keys (least recently used
forgotten first, idle ones pruned), so cycling random names cannot grow memory without
bound. Sans-I/O: time comes from an injected monotonic clock (s).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from edge.config import HttpConfig

__all__ = ["CAPACITY", "NAME_WIDE_FACTOR", "Limit", "Lockout", "LoginThrottle"]

CAPACITY = 10_000
NAME_WIDE_FACTOR = 4
PRUNE_PER_CALL = 8


@dataclass(frozen=True)
class Limit:
    """A scope's rule: ``failures`` within ``window_s`` lock it for ``lockout_s`` (s), doubled
    per lockout in a row up to ``max_lockout_s``."""

    scope: str
    failures: int
    window_s: float
    lockout_s: float
    max_lockout_s: float

    def lockout(self, strikes: int) -> float:
        """The lockout (s) after ``strikes`` earlier lockouts in a row."""
        return min(self.lockout_s * 2.0 ** min(strikes, 32), self.max_lockout_s)


@dataclass(frozen=True)
class Lockout:
    """A scope that is locked: refused, or just locked by a failure. ``seconds`` left."""

    scope: str
    seconds: float

    @property
    def retry_after(self) -> int:
        """Whole seconds for ``Retry-After`` (at least 1)."""
        return max(1, math.ceil(self.seconds))


@dataclass
class _Record:
    since: float
    failures: int = 0
    pending: int = 0
    strikes: int = 0
    locked_until: float = -math.inf

    def roll(self, now: float, limit: Limit) -> None:
        if now - self.since > limit.window_s:
            self.since, self.failures = now, 0
        if now > self.locked_until + limit.window_s:
            self.strikes = 0

    def idle(self, now: float, limit: Limit) -> bool:
        return (
            self.pending == 0
            and now > self.locked_until + limit.window_s
            and (self.failures == 0 or now - self.since > limit.window_s)
        )


class _Scope:
    """One scope's records, keyed by address, name or both; at most ``capacity`` of them."""

    def __init__(self, limit: Limit, capacity: int) -> None:
        self.limit = limit
        self.capacity = capacity
        self.records: OrderedDict[str, _Record] = OrderedDict()

    def refusal(self, key: str, now: float) -> Lockout | None:
        record = self.records.get(key)
        if record is None:
            return None
        record.roll(now, self.limit)
        if record.locked_until > now:
            self.records.move_to_end(key)
            return Lockout(self.limit.scope, record.locked_until - now)
        if record.failures + record.pending >= self.limit.failures:
            return Lockout(self.limit.scope, 1.0)  # the attempts in progress decide
        return None

    def begin(self, key: str, now: float) -> None:
        record = self.records.get(key)
        if record is None:
            self._make_room(now)
            record = self.records[key] = _Record(since=now)
        self.records.move_to_end(key)
        record.pending += 1

    def fail(self, key: str, now: float) -> Lockout | None:
        record = self._end(key, now)
        if record is None:
            return None
        record.failures += 1
        if record.failures < self.limit.failures:
            return None
        seconds = self.limit.lockout(record.strikes)
        record.strikes += 1
        record.locked_until = now + seconds
        record.since, record.failures = now, 0
        return Lockout(self.limit.scope, seconds)

    def succeed(self, key: str, now: float) -> None:
        if self._end(key, now) is not None:
            del self.records[key]

    def abandon(self, key: str, now: float) -> None:
        self._end(key, now)

    def _end(self, key: str, now: float) -> _Record | None:
        record = self.records.get(key)
        if record is not None:
            record.pending = max(0, record.pending - 1)
            record.roll(now, self.limit)
        return record

    def _make_room(self, now: float) -> None:
        """Forget idle records from the least recently used end (a few per call), then the
        least recently used one while full."""
        for _ in range(PRUNE_PER_CALL):
            oldest = next(iter(self.records.values()), None)
            if oldest is None or not oldest.idle(now, self.limit):
                break
            self.records.popitem(last=False)
        while len(self.records) >= self.capacity:
            self.records.popitem(last=False)


class LoginThrottle:
    """The lockouts of :mod:`edge.web.throttle`'s three scopes, from ``http.login_*``.

    Per attempt: :meth:`refusal` (refuse now?), else :meth:`begin`, then exactly one of
    :meth:`failed`, :meth:`succeeded` or :meth:`abandoned` (no verdict: busy, cancelled)."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        capacity: int = CAPACITY,
    ) -> None:
        self._now = monotonic

        def limit(scope: str, failures: int) -> Limit:
            return Limit(
                scope,
                failures,
                config.login_window_s,
                config.login_lockout_s,
                max(config.login_max_lockout_s, config.login_lockout_s),
            )

        name_failures = config.login_name_failures
        self._address = _Scope(limit("address", config.login_address_failures), capacity)
        self._pair = _Scope(limit("name@address", name_failures), capacity)
        self._name = _Scope(limit("name", NAME_WIDE_FACTOR * name_failures), capacity)

    def _keyed(self, name: str, address: str) -> list[tuple[_Scope, str]]:
        return [(self._address, address), (self._pair, f"{name}@{address}"), (self._name, name)]

    def refusal(self, name: str, address: str) -> Lockout | None:
        """The longest lockout that refuses a login as ``name`` from ``address``, if any."""
        now = self._now()
        found = [s.refusal(key, now) for s, key in self._keyed(name, address)]
        locked = [lockout for lockout in found if lockout is not None]
        return max(locked, key=lambda lockout: lockout.seconds, default=None)

    def begin(self, name: str, address: str) -> None:
        """An attempt starts: it counts as a failure in every scope until it ends."""
        now = self._now()
        for scope, key in self._keyed(name, address):
            scope.begin(key, now)

    def failed(self, name: str, address: str) -> list[Lockout]:
        """The attempt failed; the lockouts it started, if any."""
        now = self._now()
        found = [s.fail(key, now) for s, key in self._keyed(name, address)]
        return [lockout for lockout in found if lockout is not None]

    def succeeded(self, name: str, address: str) -> None:
        """The attempt succeeded: the name's scopes are cleared, the address's is not."""
        now = self._now()
        self._address.abandon(address, now)
        self._pair.succeed(f"{name}@{address}", now)
        self._name.succeed(name, now)

    def abandoned(self, name: str, address: str) -> None:
        """The attempt ended without a verdict: it counts for nothing."""
        now = self._now()
        for scope, key in self._keyed(name, address):
            scope.abandon(key, now)

    def tracked(self) -> dict[str, int]:
        """Keys held per scope (each at most the capacity)."""
        return {s.limit.scope: len(s.records) for s in (self._address, self._pair, self._name)}
