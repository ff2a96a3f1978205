"""The PostgreSQL engine: one writer thread per process grouping writes into SERIALIZABLE transactions; reads on a pool.

Several server processes may write to one PostgreSQL database at once, so the check-then-write inside
storage functions (seats left, already checked in, a scan_id seen before, the waiting list) cannot
rely on one writer as on SQLite: PostgreSQL enforces it. Within a process, writes are grouped as on
SQLite (`storage.batch`): the writer thread runs every write waiting in one SERIALIZABLE transaction
and commits once (one flush, and no conflicts between this process's own writes); a write that raises
makes the batch run again with a SAVEPOINT per write, where it rolls back alone. When PostgreSQL refuses
the batch (serialization_failure, deadlock_detected, or a unique key taken by a concurrent transaction),
the whole batch runs again from the start, alone among the writers
of every server (an advisory lock), so a rush of conflicting writes (seats, one ticket at sixteen
kiosks on three servers) degrades to one batch at a time instead of failing. Reads run on a pool of
threads at REPEATABLE READ, READ ONLY: one consistent snapshot, never refused.

A lost connection or a server that cannot be reached reaches callers as StorageUnavailable (503 with
Retry-After); the pool replaces broken connections.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import shutil
import sqlite3
import subprocess
import threading
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
from checkin.storage.batch import GroupedWriter, Outcome, Write, WriteQueue, WriteRaised, failed, run_writes, settle
from checkin.storage.engine import Fn
from checkin.storage.pg_schema import migrate_pg
from checkin.storage.pgsql import PgConnection, PgIntegrityError, configure

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 12  # runs of one batch before a conflict that keeps coming back is answered with a 503
FIRST_PAUSE = 0.002  # seconds; doubles per attempt, each pause a random part of it (jitter)
RETRIED = (errors.SerializationFailure, errors.DeadlockDetected)
# Writers hold this advisory lock (a session lock, taken before the transaction's snapshot) shared; a
# batch that met a conflict runs again holding it exclusively: it waits for the batches in flight, new
# ones wait for it, and so it cannot meet another conflict. Without conflicts, writers never wait on it.
WRITERS = 0x636B696E  # "ckin"
# After a conflict, this process's batches start alone for this long: in a rush on one event (its counts
# row, the kiosks' sync sequence) a first attempt side by side would mostly be refused and run again.
CONTENDED_FOR = 0.5


def _conflict(exc: BaseException) -> bool:
    """A refusal that running the write again may not meet: another transaction got there first."""
    if isinstance(exc, RETRIED):
        return True
    return isinstance(exc, PgIntegrityError) and exc.sqlstate == errors.UniqueViolation.sqlstate


def _alone_error(exc: BaseException) -> BaseException:
    """One write's error in a batch run alone: a unique key is that write's own; a refusal ends the batch."""
    if isinstance(exc, RETRIED):
        raise exc
    return exc


def _side_by_side_error(exc: BaseException) -> BaseException:
    """One write's error in a batch run beside other servers' writers: a conflict ends the batch (run again)."""
    if _conflict(exc):
        raise exc
    return exc


def _unavailable(exc: BaseException) -> StorageUnavailable:
    unavailable = StorageUnavailable("the database cannot be reached now; try again shortly")
    unavailable.__cause__ = exc
    return unavailable


class PgDatabase(GroupedWriter):
    """Async access to one PostgreSQL database, with the interface of the SQLite `Database`."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self._size = max(2, pool_size)
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._queue = WriteQueue()
        self._writer: threading.Thread | None = None
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
            max_size=self._size + 1,  # the writer thread's, beside one per reading thread
            kwargs={"autocommit": True},
            configure=configure,
            timeout=30,
            open=True,
            name="checkin",
        )
        self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="db-pg")
        self._writer = threading.Thread(target=self._write_loop, name="db-pg-writer", daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Finish queued and running work, then close the connections."""
        if self._writer is not None:
            self._queue.stop()
            self._writer.join()
            self._writer = None
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

    def _write_loop(self) -> None:
        for batch in self._queue.batches():
            settle(self._run_batch(batch))

    def _run_batch(self, batch: list[Write]) -> list[Outcome]:
        """Run a batch; after a conflict, all of it again, alone among the writers of every server (see WRITERS).

        A batch first runs without a SAVEPOINT per write (`storage.batch`); if one of its writes raises,
        nothing of it is committed: a batch of that one write is answered with its error, a longer one
        runs again with savepoints, where that write rolls back alone.
        """
        pause = FIRST_PAUSE
        contended = time.monotonic() < self._contended_until
        savepoints = False
        attempt = 0
        while True:
            alone = bool(attempt) or contended
            error_of = _alone_error if alone else _side_by_side_error
            try:
                return self._transaction(
                    f"SELECT {'pg_advisory_lock' if alone else 'pg_advisory_lock_shared'}({WRITERS});"
                    " COMMIT; BEGIN ISOLATION LEVEL SERIALIZABLE",
                    functools.partial(run_writes, batch=batch, error_of=error_of, savepoints=savepoints),
                    "SELECT pg_advisory_unlock_all()",
                )
            except WriteRaised as raised:
                if len(batch) == 1:  # a connection lost under it is a 503, as at any other statement
                    lost = isinstance(raised.error, psycopg.OperationalError)
                    return failed(batch, _unavailable(raised.error) if lost else raised.error)
                savepoints = True
            except (*RETRIED, sqlite3.IntegrityError) as exc:
                attempt += 1
                if not _conflict(exc) or attempt == ATTEMPTS:
                    return failed(batch, _unavailable(exc) if isinstance(exc, RETRIED) else exc)
                self._contended_until = time.monotonic() + CONTENDED_FOR
                time.sleep(random.uniform(0, pause))
                pause = min(pause * 2, 0.25)
            except Exception as exc:  # a lost connection (StorageUnavailable), a COMMIT refused: nothing committed
                return failed(batch, exc)

    def _run_read(self, call: Callable[[PgConnection], T]) -> T:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", call)

    def _submit(self, run: Callable[[Callable[[PgConnection], T]], T], call: Callable[[PgConnection], T]) -> Future[T]:
        if self._threads is None:
            raise RuntimeError("database is not open")
        return self._threads.submit(run, call)

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
