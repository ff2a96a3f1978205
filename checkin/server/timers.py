"""Timers by the thousand: one loop timer serves every socket's ping, pong deadline and close deadline.

Each open websocket always has one timer pending (its next ping, or the deadline of its pong or of its
closing handshake). As loop timers (`call_later`) each costs a handle and, under uvloop, a libuv timer:
~540 bytes a socket, 25 MiB at 50,000 viewers. These deadlines are long (seconds) and need no precision
finer than a fraction of a second, so they wait in buckets of `resolution` seconds instead, each a list
of small entries, and one loop timer at a time runs the buckets that are due. Short delays (under four
buckets) still go to the loop: there the grain would matter.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from typing import Any

RESOLUTION = 0.5  # seconds: a long timer runs up to this much late


class Timer:
    """One pending call; `cancel()` keeps it from running."""

    __slots__ = ("args", "callback")

    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.callback: Callable[..., object] | None = callback  # None once cancelled or run
        self.args = args

    def cancel(self) -> None:
        self.callback, self.args = None, ()  # what it would have called is not kept alive meanwhile


class Timers:
    """The bucketed timers of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self.loop = loop
        self.resolution = resolution
        self._buckets: dict[int, list[Timer]] = {}
        self._next: asyncio.TimerHandle | None = None
        self._next_bucket: int | None = None

    def later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer | asyncio.TimerHandle:
        """Call `callback(*args)` in `delay` seconds (a little later, at most one bucket, for long delays)."""
        if delay < 4 * self.resolution:
            return self.loop.call_later(delay, callback, *args)
        timer = Timer(callback, args)
        bucket = math.ceil((self.loop.time() + delay) / self.resolution)
        self._buckets.setdefault(bucket, []).append(timer)
        if self._next_bucket is None or bucket < self._next_bucket:
            self._wake_at(bucket)
        return timer

    def pending(self) -> int:
        """Timers waiting in buckets (cancelled ones included until their bucket comes)."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def _wake_at(self, bucket: int) -> None:
        if self._next is not None:
            self._next.cancel()
        self._next_bucket = bucket
        self._next = self.loop.call_at(bucket * self.resolution, self._run)

    def _run(self) -> None:
        self._next = self._next_bucket = None
        now = self.loop.time()
        for bucket in sorted(key for key in self._buckets if key * self.resolution <= now):
            for timer in self._buckets.pop(bucket):
                if timer.callback is not None:
                    callback, args = timer.callback, timer.args
                    timer.cancel()  # done: a later cancel() finds nothing to do
                    try:
                        callback(*args)
                    except Exception as exc:  # one socket's failure must not stop the others' timers
                        self.loop.call_exception_handler({"message": "timer callback failed", "exception": exc})
        if self._buckets:
            self._wake_at(min(self._buckets))


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Timers] = weakref.WeakKeyDictionary()


def timers(loop: asyncio.AbstractEventLoop) -> Timers:
    """The loop's bucketed timers (made on first use)."""
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = Timers(loop, RESOLUTION)
    return found
