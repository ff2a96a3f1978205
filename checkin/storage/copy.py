"""`checkin copy-db`: the whole SQLite database into an empty PostgreSQL one, in one transaction, verified.

Every table is copied as it is (ids included, the counters the triggers keep included; the target's
triggers are off meanwhile so they count nothing twice), then each identity sequence is set past the
highest id. Before COMMIT each table's rows are counted and checksummed on both sides with the same
canonical serialisation; any difference rolls the whole copy back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from checkin.errors import Invalid
from checkin.storage.db import Database, connect
from checkin.storage.pg import PgDatabase
from checkin.storage.pgsql import IDENTITY_TABLES

# Parents before children (foreign keys); the rest after.
ORDER = (
    "events",
    "users",
    "sessions",
    "api_tokens",
    "registrants",
    "tickets",
    "attendance",
    "attendance_counts",
    "kiosks",
    "scans",
    "kiosk_scan_totals",
    "audit_log",
    "email_sends",
    "viewing_intervals",
    "server_heartbeats",
    "sync_state",
)


@dataclass(frozen=True)
class TableCopy:
    """One table's rows and checksum on each side."""

    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def _columns(source: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of a table's columns, in order."""
    return [(row[1], str(row[2]).upper()) for row in source.execute(f"PRAGMA table_info({table})")]


def _tables(source: sqlite3.Connection) -> list[str]:
    names = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    names -= {"sqlite_sequence", "sqlite_stat1"}
    unknown = names - set(ORDER)
    if unknown:
        raise Invalid(f"copy-db does not know the tables {sorted(unknown)}: is the program older than the database?")
    return [table for table in ORDER if table in names]


def _canonical(value: Any, declared: str) -> Any:
    """One value as both engines' rows serialise it: REAL as float, INTEGER as int, else as it is."""
    if value is None:
        return None
    if declared == "REAL":
        return float(value)
    if declared == "INTEGER":
        return int(value)
    return value


def checksum(rows: list[Any], columns: list[tuple[str, str]]) -> tuple[int, str]:
    """Row count and a digest of the rows that does not depend on their order (collations differ)."""
    digests = sorted(
        hashlib.sha256(
            json.dumps(
                [_canonical(value, declared) for value, (_, declared) in zip(row, columns, strict=True)]
            ).encode()
        ).hexdigest()
        for row in rows
    )
    return len(digests), hashlib.sha256("".join(digests).encode()).hexdigest()


def _empty(target: psycopg.Connection[Any], tables: list[str]) -> bool:
    for table in tables:
        if table == "sync_state":
            row = target.execute("SELECT seq, reset_seq FROM sync_state").fetchone()
            if row is not None and tuple(row) != (1, 1):
                return False
        elif target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
            return False
    return True


def copy_database(source_path: Path, url: str) -> tuple[list[TableCopy], bool]:
    """Copy every table: the per-table counts and checksums, and whether it was committed (all equal)."""
    if not source_path.exists():
        raise Invalid(f"no database file {source_path}")
    for engine in (Database(source_path), PgDatabase(url, pool_size=2)):
        engine.open()  # both at the newest schema version (created in an empty target)
        engine.close()
    source = connect(source_path, readonly=True)
    try:
        source.execute("BEGIN")  # one snapshot of the source, however busy its server is
        tables = _tables(source)
        with psycopg.connect(url) as target, target.transaction():
            if not _empty(target, tables):
                raise Invalid("the target database is not empty: copy-db only fills a new, empty database")
            copies = [_copy_table(source, target, table) for table in tables]
            if not all(copy.same for copy in copies):
                raise psycopg.Rollback()  # leaves the block with the target as it was
        return copies, all(copy.same for copy in copies)
    finally:
        source.close()


def _copy_table(source: sqlite3.Connection, target: psycopg.Connection[Any], table: str) -> TableCopy:
    columns = _columns(source, table)
    names = ", ".join(name for name, _ in columns)
    rows = source.execute(f"SELECT {names} FROM {table}").fetchall()
    target.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    if table == "sync_state":
        target.execute("DELETE FROM sync_state")
    with target.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_canonical(value, declared) for value, (_, declared) in zip(row, columns, strict=True)])
    target.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    if table in IDENTITY_TABLES:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        )
    copied = target.execute(f"SELECT {names} FROM {table}").fetchall()
    source_rows, source_sum = checksum(rows, columns)
    target_rows, target_sum = checksum(copied, columns)
    return TableCopy(table, source_rows, target_rows, source_sum, target_sum)
