"""What storage functions may use of a connection: the part of sqlite3's that PostgreSQL's adapter also offers.

Storage functions are plain functions ``fn(conn, *args)``; `Connection` is their type, so the same
function runs on an `Connection` and on `checkin.storage.pg.PgConnection`. Rows are read by
name (case-insensitive, as sqlite3.Row) or by index. Unique and foreign-key violations raise
`sqlite3.IntegrityError` on both engines, so one ``except`` catches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class Row(Protocol):
    """A result row: ``row["name"]`` or ``row[0]``."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside the transaction the engine opened for this function."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...
