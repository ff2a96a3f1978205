"""Both engines: concurrent writes, a failing write rolled back alone, durability; SQLite: migrations, backup."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from checkin.settings import Settings
from checkin.storage import Database, database_for
from checkin.storage.schema import MIGRATIONS, migrate
from checkin.storage.sql import Connection

pytestmark = pytest.mark.both_engines


def _insert(conn: Connection, slug: str) -> int:
    cur = conn.execute(
        "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES (?, 't', 0, 1, 1, 0)",
        (slug,),
    )
    return int(cur.lastrowid or 0)


def _insert_then_fail(conn: Connection, slug: str) -> None:
    _insert(conn, slug)
    raise ValueError("refused")


def _count(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def test_concurrent_writes_all_commit(settings: Settings) -> None:
    """Hundreds of concurrent writes all land (SQLite: grouped into commits; PostgreSQL: side by side)."""
    async with database_for(settings) as db:
        ids = await asyncio.gather(*(db.write(_insert, f"e{n}") for n in range(300)))
        assert len(set(ids)) == 300
        assert await db.read(_count) == 300


async def test_failing_write_rolls_back_alone(settings: Settings) -> None:
    """A write that raises leaves nothing behind and does not undo its batch neighbours."""
    async with database_for(settings) as db:
        results = await asyncio.gather(
            db.write(_insert, "a"), db.write(_insert_then_fail, "b"), db.write(_insert, "c"), return_exceptions=True
        )
        assert isinstance(results[1], ValueError)
        assert await db.read(_count) == 2


async def test_committed_write_survives_reopen(settings: Settings) -> None:
    """What a write returned is on disk for the next process."""
    async with database_for(settings) as db:
        await db.write(_insert, "kept")
    async with database_for(settings) as db:
        assert await db.read(_count) == 1


def test_migrate_is_idempotent_and_versioned(tmp_path: Path) -> None:
    """Migrations run once; the version is the newest one."""
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    newest = max(version for version, _ in MIGRATIONS)
    assert migrate(conn) == newest
    assert migrate(conn) == newest
    assert conn.execute("PRAGMA user_version").fetchone()[0] == newest


def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    """The online backup opens and holds the data."""
    db = Database(tmp_path / "a.db")
    db.open()
    try:
        db.write_sync(_insert, "x")
        db.backup(tmp_path / "copy.db")
    finally:
        db.close()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT slug FROM events").fetchall() == [("x",)]


def test_closed_database_refuses_work(settings: Settings) -> None:
    """Using a database that is not open is a clear error."""
    with pytest.raises(RuntimeError):
        database_for(settings).write_sync(_insert, "x")


def _in_database_file(path: Path) -> int:
    """Events in the database file itself, ignoring the WAL (what a checkpoint has copied there)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema has been copied yet
        return 0
    finally:
        conn.close()


def test_checkpoints_run_beside_the_writer(tmp_path: Path) -> None:
    """Committed writes reach the database file by the checkpointer thread, with no commit waiting for it."""
    db = Database(tmp_path / "a.db", checkpoint_every=0.02)
    db.open()
    try:
        for slug in ("a", "b", "c"):
            db.write_sync(_insert, slug)
        deadline = time.monotonic() + 10
        while _in_database_file(tmp_path / "a.db") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _in_database_file(tmp_path / "a.db") == 3
    finally:
        db.close()
    assert not any(thread.name == "db-checkpoint" for thread in threading.enumerate())
