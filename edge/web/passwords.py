"""Dashboard passwords: Argon2id hashes made and checked with argon2-cffi.

Hashes go into the config (``http.users[].password_hash``); clear passwords never do.
Checking a password takes tens of milliseconds of CPU and 64 MiB by design, so it runs in a
worker thread, at most ``CONCURRENT_CHECKS`` at a time, and never blocks the event loop that
also reads the devices. An unknown user name is checked against a dummy hash, so the answer
takes as long as for a known one.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Iterable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.config import HttpConfig

__all__ = ["PasswordBook", "hash_password", "main"]

CONCURRENT_CHECKS = 2
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


class PasswordBook:
    """The configured users, and the check of a name and password against them."""

    def __init__(self, users: Iterable[HttpConfig.User]) -> None:
        self._users = {user.name: user for user in users}
        self._dummy: str | None = None
        self._checks = asyncio.Semaphore(CONCURRENT_CHECKS)

    def user(self, name: str) -> HttpConfig.User | None:
        """The user called ``name``, if configured."""
        return self._users.get(name)

    def __len__(self) -> int:
        return len(self._users)

    async def check(self, name: str, password: str) -> HttpConfig.User | None:
        """The user, if ``password`` is theirs; ``None`` otherwise (unknown name included)."""
        user = self._users.get(name)
        if user is None and self._dummy is None:
            self._dummy = await asyncio.to_thread(hash_password, "not a password")
        stored = user.password_hash if user is not None else self._dummy
        assert stored is not None
        async with self._checks:
            ok = await asyncio.to_thread(_matches, stored, password)
        return user if ok and user is not None else None


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
