"""``open_checked``: how every store opens its SQLite file, on real files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from edge.storage.sqlite import open_checked

SCHEMA = "CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"


def test_a_new_file_is_created_in_a_new_folder_with_wal_and_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "store.sqlite"
    db = open_checked(path, SCHEMA)
    try:
        db.execute("INSERT INTO things (name) VALUES ('pump')")  # autocommit: no commit call
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        db.close()
    again = open_checked(path, SCHEMA, synchronous="NORMAL")
    try:
        assert again.execute("SELECT name FROM things").fetchall() == [("pump",)]
        assert again.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        again.close()


def test_a_corrupt_file_raises_the_corrupt_family_and_is_not_left_open(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    db = open_checked(path, SCHEMA)
    db.executemany("INSERT INTO things (name) VALUES (?)", [("x" * 500,)] * 200)
    db.close()
    data = bytearray(path.read_bytes())
    data[4096 : 4096 * 3] = b"\xa5" * (4096 * 2)  # pages past the header, overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError) as raised:
        open_checked(path, SCHEMA)
    # the traceback keeps open_checked's frame alive: its connection must be closed by now
    assert raised.traceback
    assert str(path) not in _open_files()


def _open_files() -> set[str]:
    fds = Path("/proc/self/fd")
    return {str(fd.readlink()) for fd in fds.iterdir() if fd.is_symlink()}


def test_the_connection_is_only_shared_across_threads_when_asked(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    for any_thread, expected in ((True, []), (False, [sqlite3.ProgrammingError])):
        db = open_checked(tmp_path / f"{any_thread}.sqlite", SCHEMA, any_thread=any_thread)
        errors.clear()

        def use(db: sqlite3.Connection = db) -> None:
            try:
                db.execute("SELECT COUNT(*) FROM things").fetchone()
            except sqlite3.Error as exc:
                errors.append(exc)

        worker = threading.Thread(target=use)
        worker.start()
        worker.join(5)
        db.close()
        assert [type(e) for e in errors] == expected
