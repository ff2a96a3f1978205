"""The one interface of both storage engines, and the one place that picks an engine for a setting.

`checkin.storage.db.Database` (SQLite) and `checkin.storage.pg.PgDatabase` (PostgreSQL), each with one
writer thread per process grouping writes into one commit (`storage.batch`), run the
same plain storage functions ``fn(conn, *args)``; everything else in the program sees an `Engine`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from checkin.settings import Settings
from checkin.storage.sql import Connection

P = ParamSpec("P")
T = TypeVar("T")

Fn = Callable[Concatenate[Connection, P], T]


class Engine(Protocol):
    """Async (and, for the command line, blocking) access to the database."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def submit_write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]: ...

    async def write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def write_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def read(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def read_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def lookup(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def backup(self, target: Path) -> None: ...

    async def __aenter__(self) -> Engine: ...

    async def __aexit__(self, *exc: object) -> None: ...


def database_for(settings: Settings) -> Engine:
    """The engine the settings name (a postgresql:// URL, else the SQLite file), not yet open."""
    if settings.db_url:
        from checkin.storage.pg import PgDatabase

        return PgDatabase(settings.db_url, pool_size=settings.pg_pool_size)
    from checkin.storage.db import Database

    return Database(settings.db_path, settings.sqlite_synchronous)


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Engine]:
    """The database, open (its schema created or migrated) for the length of one command."""
    db = database_for(settings)
    db.open()
    try:
        yield db
    finally:
        db.close()
