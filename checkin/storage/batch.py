"""Grouped writes, shared by both engines: a queue of writes, taken in batches, each write in its own SAVEPOINT.

One writer thread per process takes every write waiting, runs them in one transaction (each in a
SAVEPOINT, so one that raises rolls back alone), commits once, and only then answers the callers: a
rush of check-ins costs one commit flush per batch. The engines differ in what a failed batch means,
so they pass in how an error of one write is reported (`error_of`, which may raise to end the batch).
`GroupedWriter` is the write half of both engines' interface over that queue.

A SAVEPOINT per write costs PostgreSQL two round trips and a subtransaction per write (past 64 in one
transaction, every other session's snapshot must look subtransactions up), so there a batch first runs
without them (`savepoints=False`): a write that raises ends such a run (`WriteRaised`), and the engine
rolls the whole batch back and runs it again with savepoints. Storage functions are pure functions of
the database (the same property that lets a batch refused for a conflict run again), so the second run
answers every caller as the first would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, ParamSpec, Protocol, TypeVar

from checkin.storage.engine import Fn

P = ParamSpec("P")
T = TypeVar("T")

Outcome = tuple[Any, bool, Any]  # a write's future (of a thread or of an event loop), succeeded, result or exception
Write = tuple[Callable[..., Any], tuple[Any, ...], Any]  # fn, its arguments after the connection, its future
MAX_BATCH = 512
_STOP = object()


class Executes(Protocol):
    """What running savepoints needs of a connection (sqlite3's or the PostgreSQL adapter)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...


class WriteQueue:
    """The writes waiting for the writer thread, taken a batch at a time."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], future: Any) -> None:
        """Queue ``fn(conn, *args, **kwargs)``; `future` (a thread's or an event loop's) gets its outcome."""
        self._queue.put((functools.partial(fn, **kwargs) if kwargs else fn, args, future))

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[T]:
        """Queue a write for a caller without an event loop."""
        future: Future[T] = Future()
        self.put(fn, args, kwargs, future)
        return future

    async def write(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        """Queue a write and wait for its outcome on this event loop.

        The writer settles the loop's futures of a whole batch in one call on the loop, rather than
        waking the loop once per write: in a rush of scans that wake-up is a good part of each one's cost.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.put(fn, args, kwargs, future)
        return await future

    def stop(self) -> None:
        """Let the writer finish what is queued, then end its loop."""
        self._queue.put(_STOP)

    def batches(self) -> Iterator[list[Write]]:
        """Every write waiting (at most MAX_BATCH), blocking until there is one; ends after `stop`."""
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            writes = [entry for entry in batch if entry is not _STOP]
            if writes:
                yield writes
            if len(writes) < len(batch):
                return


class GroupedWriter:
    """Writes through a `WriteQueue` that the engine's writer thread (`_writer`, None when closed) takes in batches."""

    _queue: WriteQueue
    _writer: threading.Thread | None

    def submit_write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue a write; the future resolves after the commit that holds it."""
        self._check_open()
        return self._queue.submit(fn, args, kwargs)

    def _check_open(self) -> None:
        if self._writer is None:
            raise RuntimeError("database is not open")

    async def write(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in the writer's next transaction; return once it is committed."""
        self._check_open()
        return await self._queue.write(fn, args, kwargs)

    def write_sync(self, fn: Fn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The same from a thread without a loop (the command line)."""
        return self.submit_write(fn, *args, **kwargs).result()


class WriteRaised(Exception):
    """A write of a batch run without savepoints raised `error` (as `error_of` gave it): nothing may be committed."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def run_writes(
    conn: Executes,
    batch: list[Write],
    error_of: Callable[[BaseException], BaseException],
    *,
    savepoints: bool = True,
) -> list[Outcome]:
    """Run each write in its own SAVEPOINT; one that raises rolls back alone and gets `error_of` its error.

    Without `savepoints`, the writes run one after another in the transaction, and the first that raises
    ends the run with `WriteRaised` (unless `error_of` raises first: a refusal of the whole batch).
    """
    if not savepoints:
        results: list[Outcome] = []
        for fn, args, future in batch:
            try:
                results.append((future, True, fn(conn, *args)))
            except BaseException as exc:  # reported to the caller, or the batch runs again with savepoints
                raise WriteRaised(error_of(exc)) from exc
        return results
    outcomes: list[Outcome] = []
    for fn, args, future in batch:
        conn.execute("SAVEPOINT one")
        try:
            result = fn(conn, *args)
        except BaseException as exc:  # reported to the caller, never lost in the thread
            outcomes.append((future, False, error_of(exc)))
            conn.execute("ROLLBACK TO one")
            conn.execute("RELEASE one")
        else:
            conn.execute("RELEASE one")
            outcomes.append((future, True, result))
    return outcomes


def failed(batch: list[Write], error: BaseException) -> list[Outcome]:
    """Every write of a batch answered with the same error (nothing of it was committed)."""
    return [(future, False, error) for _fn, _args, future in batch]


def settle(outcomes: list[Outcome]) -> None:
    """Resolve a batch's futures: thread futures here, each event loop's futures in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        future = outcome[0]
        if isinstance(future, asyncio.Future):
            by_loop.setdefault(future.get_loop(), []).append(outcome)
        else:
            _resolve(outcome)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_all, group)


def _resolve_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        _resolve(outcome)


def _resolve(outcome: Outcome) -> None:
    future, ok, value = outcome
    if future.done():  # cancelled by a caller that went away; the write itself stands
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
