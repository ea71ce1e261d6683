"""Dashboard passwords: Argon2id hashes made and checked with argon2-cffi.

Hashes go into the config (``http.users[].password_hash``); clear passwords never do.
Checking a password takes tens of milliseconds of CPU and 64 MiB by design, so it runs in a
worker thread, at most ``CONCURRENT_CHECKS`` at a time (a check cancelled mid-hash keeps its
place until its thread is done), and never blocks the event loop that also reads the devices.
At most ``MAX_WAITING`` further checks wait for a place, each at most ``WAIT_S`` seconds;
beyond that :class:`LoginBusyError` (the login is answered 503, try again). An unknown user
name is checked against a dummy hash, so the answer takes as long as for a known one.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.config import HttpConfig

__all__ = ["CONCURRENT_CHECKS", "LoginBusyError", "PasswordBook", "hash_password", "main"]

CONCURRENT_CHECKS = 2
MAX_WAITING = 16
WAIT_S = 5.0
T = TypeVar("T")
_HASHER = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` for ``http.users[].password_hash``."""
    if not password:
        raise ValueError("a password cannot be empty")
    return _HASHER.hash(password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LoginBusyError(Exception):
    """Too many password checks at once: this one was not made."""


async def _off_loop(function: Callable[[], T]) -> T:
    """``function()`` in a worker thread; if cancelled, returns only once the
    thread is done, so the caller's place is not handed on while it still hashes."""
    work = asyncio.create_task(asyncio.to_thread(function), name="web.password-check")
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise


class PasswordBook:
    """The configured users, and the check of a name and password against them."""

    def __init__(
        self,
        users: Iterable[HttpConfig.User],
        *,
        max_waiting: int = MAX_WAITING,
        wait_s: float = WAIT_S,
    ) -> None:
        self._users = {user.name: user for user in users}
        self._dummy: str | None = None
        self._checks = asyncio.Semaphore(CONCURRENT_CHECKS)
        self._max_waiting = max_waiting
        self._wait_s = wait_s
        self._waiting = 0

    def user(self, name: str) -> HttpConfig.User | None:
        """The user called ``name``, if configured."""
        return self._users.get(name)

    def __len__(self) -> int:
        return len(self._users)

    async def check(self, name: str, password: str) -> HttpConfig.User | None:
        """The user, if ``password`` is theirs; ``None`` otherwise (unknown name included).
        Raises :class:`LoginBusyError` when it cannot get a place within the bounds."""
        await self._take_place()
        try:
            user = self._users.get(name)
            if user is None and self._dummy is None:
                self._dummy = await _off_loop(partial(hash_password, "not a password"))
            stored = user.password_hash if user is not None else self._dummy
            assert stored is not None
            ok = await _off_loop(partial(_matches, stored, password))
        finally:
            self._checks.release()
        return user if ok and user is not None else None

    async def _take_place(self) -> None:
        if self._waiting >= self._max_waiting:
            raise LoginBusyError
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait_s):
                await self._checks.acquire()
        except TimeoutError:
            raise LoginBusyError from None
        finally:
            self._waiting -= 1


def main(argv: Sequence[str] | None = None) -> int:
    """``infusion-edge hash-password``: read a password (twice from the terminal, or once
    from standard input with ``--stdin``) and print its hash."""
    parser = argparse.ArgumentParser(
        prog="infusion-edge hash-password",
        description="Print an Argon2id hash for http.users[].password_hash.",
    )
    parser.add_argument("--stdin", action="store_true", help="read one line from stdin")
    args = parser.parse_args(argv)
    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    if not password:
        print("a password cannot be empty", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
