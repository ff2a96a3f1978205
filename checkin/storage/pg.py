"""The PostgreSQL engine: each write is one SERIALIZABLE transaction on a pool of threads and connections.

Several server processes may write to one PostgreSQL database at once, so the check-then-write inside
storage functions (seats left, already checked in, a scan_id seen before, the waiting list) cannot
rely on one writer as on SQLite: PostgreSQL enforces it. Every write runs at SERIALIZABLE; when
PostgreSQL refuses one (serialization_failure, deadlock_detected, or a unique key taken by a
concurrent transaction), the whole function runs again from the start after a short random pause,
alone among the writers of every server (an advisory lock), so a rush of conflicting writes (seats,
one ticket at sixteen kiosks) degrades to one at a time instead of failing. PostgreSQL groups
concurrent commits itself. Reads run at REPEATABLE READ, READ ONLY:
one consistent snapshot, never refused.

A lost connection or a server that cannot be reached reaches callers as StorageUnavailable (503 with
Retry-After); the pool replaces broken connections.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
import psycopg_pool
from psycopg import errors

from checkin.errors import StorageUnavailable
from checkin.storage.engine import Fn
from checkin.storage.pg_schema import migrate_pg
from checkin.storage.pgsql import PgConnection, PgIntegrityError, configure

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 12  # runs of one write before a conflict that keeps coming back is answered with a 503
FIRST_PAUSE = 0.002  # seconds; doubles per attempt, each pause a random part of it (jitter)
RETRIED = (errors.SerializationFailure, errors.DeadlockDetected)
# Writers hold this advisory lock (a session lock, taken before the transaction's snapshot) shared; a
# write that met a conflict runs again holding it exclusively: it waits for the writes in flight, new
# ones wait for it, and so it cannot meet another conflict. Without conflicts, writers never wait on it.
WRITERS = 0x636B696E  # "ckin"
# After a conflict, this process's writes start alone for this long: in a rush on one event (its counts
# row, the kiosks' sync sequence) a first attempt side by side would mostly be refused and run again.
CONTENDED_FOR = 0.5


def _conflict(exc: BaseException) -> bool:
    """A refusal that running the write again may not meet: another transaction got there first."""
    if isinstance(exc, RETRIED):
        return True
    return isinstance(exc, PgIntegrityError) and exc.sqlstate == errors.UniqueViolation.sqlstate


def _unavailable(exc: BaseException) -> StorageUnavailable:
    unavailable = StorageUnavailable("the database cannot be reached now; try again shortly")
    unavailable.__cause__ = exc
    return unavailable


class PgDatabase:
    """Async access to one PostgreSQL database, with the interface of the SQLite `Database`."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self._size = max(2, pool_size)
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._contended_until = 0.0  # until then, writes start alone: a rush would only conflict again

    def open(self) -> None:
        """Create or migrate the schema and open the pool."""
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                migrate_pg(conn)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        self._pool = psycopg_pool.ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._size,
            kwargs={"autocommit": True},
            configure=configure,
            timeout=30,
            open=True,
            name="checkin",
        )
        self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="db-pg")

    def close(self) -> None:
        """Finish running work, then close the connections."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def __aenter__(self) -> PgDatabase:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, begin: str, call: Callable[[PgConnection], T], end: str = "") -> T:
        """Run `call` between `begin` and COMMIT; `end` runs after the transaction, whatever its outcome."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        try:
            for _ in range(self._size):
                with self._pool.connection() as raw:
                    try:
                        raw.execute(begin)
                    except psycopg.OperationalError:
                        if raw.broken:  # ended by the server while idle (a restart): the pool drops it
                            continue
                        if end:
                            raw.execute(end)
                        raise
                    return self._complete(raw, call, end)
            raise psycopg.OperationalError("every pooled connection was broken")
        except RETRIED:
            raise
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise _unavailable(exc) from exc

    @staticmethod
    def _complete(raw: psycopg.Connection[Any], call: Callable[[PgConnection], T], end: str) -> T:
        try:
            result = call(PgConnection(raw))
            raw.execute(f"COMMIT; {end}" if end else "COMMIT")  # one round trip (a failed COMMIT skips `end`)
        except BaseException:
            if not raw.broken:
                raw.execute(f"ROLLBACK; {end}" if end else "ROLLBACK")
            raise
        return result

    def _run_write(self, call: Callable[[PgConnection], T]) -> T:
        """Run a write; after a conflict, again, alone among the writers of every server (see WRITERS)."""
        pause = FIRST_PAUSE
        contended = time.monotonic() < self._contended_until
        for attempt in range(ATTEMPTS):
            lock = "pg_advisory_lock" if attempt or contended else "pg_advisory_lock_shared"
            try:
                return self._transaction(
                    f"SELECT {lock}({WRITERS}); COMMIT; BEGIN ISOLATION LEVEL SERIALIZABLE",
                    call,
                    "SELECT pg_advisory_unlock_all()",
                )
            except (*RETRIED, sqlite3.IntegrityError) as exc:
                if not _conflict(exc) or attempt == ATTEMPTS - 1:
                    if isinstance(exc, RETRIED):
                        raise _unavailable(exc) from exc
                    raise
                self._contended_until = time.monotonic() + CONTENDED_FOR
                time.sleep(random.uniform(0, pause))
                pause = min(pause * 2, 0.25)
        raise AssertionError("unreachable")

    def _run_read(self, call: Callable[[PgConnection], T]) -> T:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", call)

    def _submit(self, run: Callable[[Callable[[PgConnection], T]], T], call: Callable[[PgConnection], T]) -> Future[T]:
        if self._threads is None:
            raise RuntimeError("database is not open")
        return self._threads.submit(run, call)

    def submit_write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start a write; the future resolves after its commit."""
        return self._submit(self._run_write, lambda conn: fn(conn, *args, **kwargs))

    async def write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in its own transaction; return once it is committed."""
        return await asyncio.wrap_future(self.submit_write(fn, *args, **kwargs))

    def write_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The same from a thread without a loop (the command line)."""
        return self.submit_write(fn, *args, **kwargs).result()

    async def read(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one consistent read-only snapshot."""
        return await asyncio.wrap_future(self._submit(self._run_read, lambda conn: fn(conn, *args, **kwargs)))

    def read_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read from a thread without a loop (the command line)."""
        return self._run_read(lambda conn: fn(conn, *args, **kwargs))

    async def lookup(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One SELECT of a row by key: a network round trip, so on a pool thread like any read."""
        return await self.read(fn, *args, **kwargs)

    def backup(self, target: Path) -> None:
        """pg_dump in its custom format (restore with pg_restore), written beside `target`, then renamed."""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise OSError(
                "pg_dump is not installed (Debian: apt-get install postgresql-client);"
                f" or run: pg_dump --format=custom --file={target} <the database URL>"
            )
        partial = target.with_name(f".{target.name}.partial")
        # A password goes to pg_dump in its environment, never on its command line (which `ps` shows).
        parts = urlsplit(self.url)
        environment = dict(os.environ)
        if parts.password is not None:
            environment["PGPASSWORD"] = unquote(parts.password)
        url = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@")).geturl()
        done = subprocess.run(  # noqa: S603 - a fixed program, the URL as one argument
            [pg_dump, "--format=custom", f"--file={partial}", f"--dbname={url}"],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise OSError(f"pg_dump failed: {done.stderr.strip()}")
        partial.rename(target)
