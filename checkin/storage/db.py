"""The SQLite engine: one writer thread that groups concurrent writes into one commit, and readers.

Every write is a plain function ``fn(conn, *args)`` run inside its own SAVEPOINT on the writer
thread; whatever is queued while a commit is in flight goes into the next transaction together, so
a rush of check-ins costs one disk sync per batch rather than one per scan, and the function's
caller is answered only after COMMIT returned — an answered check-in is on disk. A write that raises
rolls back to its savepoint and leaves the others in the batch untouched.
Reads run on a small pool of read-only connections (WAL lets them proceed while the writer writes).

A disk that is full, turned read-only or failing makes SQLite raise; such errors reach callers as
`StorageUnavailable` (a 503 with Retry-After): nothing of that write was committed, the writer thread
carries on, and writes succeed again once the disk does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from checkin.errors import StorageUnavailable
from checkin.storage.batch import GroupedWriter, Write, WriteQueue, failed, run_writes, settle
from checkin.storage.engine import Fn
from checkin.storage.schema import migrate

log = logging.getLogger("checkin")

P = ParamSpec("P")
T = TypeVar("T")

# Checkpoints (copying the WAL into the database file, with its fsync) run on a thread of their own
# every CHECKPOINT_EVERY seconds, so a commit never waits for one; the writer checkpoints by itself
# only if the WAL grows past WRITER_CHECKPOINT_PAGES (the checkpointer fell behind).
CHECKPOINT_EVERY = 1.0
WRITER_CHECKPOINT_PAGES = 10_000
# SQLite's primary result codes (sqlite3.h) of a disk that is read-only, failing, full, or gone.
SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 8, 10, 13, 14
STORAGE_FAULTS = frozenset({SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN})


def storage_error(exc: BaseException) -> BaseException:
    """A fault of the disk under the database as StorageUnavailable; any other error unchanged."""
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code is None or code & 0xFF not in STORAGE_FAULTS:
        return exc
    unavailable = StorageUnavailable("the database cannot be written now; try again shortly")
    unavailable.__cause__ = exc
    return unavailable


def connect(path: Path, synchronous: str = "FULL", *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every connection of ours uses."""
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {'FULL' if synchronous.upper() == 'FULL' else 'NORMAL'}")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


class Database(GroupedWriter):
    """Async access to one SQLite file: ``await db.write(fn, ...)`` and ``await db.read(fn, ...)``."""

    def __init__(
        self, path: Path, synchronous: str = "FULL", readers: int = 2, checkpoint_every: float = CHECKPOINT_EVERY
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self._readers = readers
        self._checkpoint_every = checkpoint_every
        self._queue = WriteQueue()
        self._writer: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self._read_pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._failing = False  # the last batch failed on a disk fault (logged once, until a commit succeeds)

    def open(self) -> None:
        """Create or migrate the database and start the writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, self.synchronous)
        migrate(conn)
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), name="db-writer", daemon=True)
        self._writer.start()
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="db-checkpoint", daemon=True)
        self._checkpointer.start()
        self._read_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="db-read")

    def close(self) -> None:
        """Finish queued writes, then stop."""
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join()
            self._checkpointer = None
        if self._writer is not None:
            self._queue.stop()
            self._writer.join()
            self._writer = None
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=True)
            self._read_pool = None
        with self._lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    async def __aenter__(self) -> Database:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.synchronous, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._read_conns.append(conn)
        return conn

    def _run_read(self, call: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._reader()
            conn.execute("BEGIN")
            try:
                return call(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    async def read(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` on a read-only connection, in one consistent snapshot."""
        if self._read_pool is None:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self._run_read, lambda c: fn(c, *args, **kwargs))

    def read_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read from a thread without a loop (the command line)."""
        return self._run_read(lambda c: fn(c, *args, **kwargs))

    async def lookup(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One SELECT of a row by key, run right here on the caller's thread (the event loop).

        Handing a read to a pool thread and back costs more than such a read (microseconds in WAL
        mode, which never waits for the writer), and on a busy server the hand-off fights the writer
        thread for the GIL. One statement needs no transaction to see one snapshot. Anything that
        runs several statements, scans, or may take longer goes through `read`.
        """
        try:
            return fn(self._reader(), *args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def _checkpoint_loop(self) -> None:
        conn = connect(self.path, self.synchronous)
        failing = False  # said once, not every second while the disk is full
        try:
            while not self._stop_checkpoints.wait(self._checkpoint_every):
                try:
                    # PASSIVE: copies what no reader still needs, never waits for or blocks the writer.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    failing = False
                except sqlite3.Error as exc:  # the next round tries again; the writer's own limit is the backstop
                    if not failing:
                        log.warning("checkpoint failed: %s", exc)
                    failing = True
        finally:
            conn.close()

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            for batch in self._queue.batches():
                self._commit_batch(conn, batch)
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[Write]) -> None:
        faults: list[sqlite3.Error] = []  # a disk fault met by one write (SQLite may have ended the transaction)

        def error_of(exc: BaseException) -> BaseException:
            error = storage_error(exc)
            if error is not exc and isinstance(exc, sqlite3.Error):
                faults.append(exc)
            return error

        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = run_writes(conn, batch, error_of)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            cause = faults[0] if faults else exc
            self._rollback(conn, cause)
            settle(failed(batch, storage_error(cause)))
            return
        if self._failing:
            log.warning("database writes succeed again")
            self._failing = False
        settle(outcomes)

    def _rollback(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> None:
        """After a failed batch: roll back what SQLite has not already; the writer thread must live on."""
        if storage_error(exc) is not exc and not self._failing:
            log.error("database writes fail (%s): answering 503 until the disk recovers", exc)
            self._failing = True
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error as again:  # the disk refuses even this; SQLite rolls back on the next BEGIN
            log.warning("rollback failed: %s", again)

    def backup(self, target: Path) -> None:
        """A consistent copy of the live database (SQLite's online backup), checked, then put in place.

        The copy is one moment of the database however busy the writer is (one step, in one read
        transaction). It is written beside `target` under a temporary name, made a single file, checked
        with integrity_check and synced, and only then renamed: a backup that fails (a full disk) leaves
        nothing that looks like a backup, and raises StorageUnavailable for a disk fault.
        """
        partial = target.with_name(f".{target.name}.partial")
        try:
            source = connect(self.path, self.synchronous, readonly=True)
            try:
                dest = sqlite3.connect(partial, isolation_level=None)
                try:
                    source.backup(dest)
                    dest.execute("PRAGMA journal_mode = DELETE")
                    problems = dest.execute("PRAGMA integrity_check").fetchall()
                finally:
                    dest.close()
            finally:
                source.close()
            if problems != [("ok",)]:
                raise sqlite3.DatabaseError(f"the copy fails integrity_check: {problems[:3]}")
            with partial.open("rb+") as copy:
                os.fsync(copy.fileno())
            partial.rename(target)
        except sqlite3.Error as exc:
            _remove(partial)
            if storage_error(exc) is exc:
                raise
            raise StorageUnavailable(f"no backup made: {exc} (the copy was removed)") from exc
        except BaseException:
            _remove(partial)
            raise


def _remove(partial: Path) -> None:
    """A failed copy and what SQLite left beside it."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
