"""QR images of ticket codes, each rendered once, off the event loop, and kept in a bounded LRU.

Renderings run in a few worker processes (`RenderPool`). They are started fresh (`spawn`, never
`fork`: a fork of the threaded server copies locks other threads hold, and a worker forked while an
import lock was held hangs for ever) at start-up and warmed, hold nothing of the server (no listening
socket, no signal handlers), and die with it. A rendering that a worker does not deliver in time is
done in a thread of the server instead, and the pool is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from checkin import tickets

log = logging.getLogger("checkin")
MAX_IMAGES = 4096  # about 600 bytes each: a few MB for every ticket of a large event
# One rendering takes milliseconds; a worker that has not answered in this long (its start-up on a
# busy machine included) is stuck: the image is made in-process and the pool replaced.
RENDER_TIMEOUT = 15.0
WARM_CODE = "CK1-TEST-AAAAAAAAAAAAAAAAAAAAAAAAAA"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL = 1.0  # seconds: how soon a worker notices that the server is gone, where prctl is missing

Render = Callable[[str], Awaitable[bytes]]


class QrCache:
    """PNG bytes by ticket code. Concurrent requests for one code share one rendering."""

    def __init__(self, max_images: int = MAX_IMAGES) -> None:
        self.max_images = max_images
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self.renders = 0

    def __len__(self) -> int:
        return len(self._images)

    async def png(self, code: str, render: Render) -> bytes:
        """The PNG of `code`, made by `render` (a `RenderPool`'s, or `on(executor)`) the first time."""
        image = self._images.get(code)
        if image is not None:
            self._images.move_to_end(code)
            return image
        pending = self._pending.get(code)
        if pending is None:
            pending = asyncio.ensure_future(render(code))
            self._pending[code] = pending
            self.renders += 1
            pending.add_done_callback(lambda done: self._finished(code, done))
        # A client that goes away must not cancel the rendering others are waiting for.
        return await asyncio.shield(pending)

    def _finished(self, code: str, done: asyncio.Future[bytes]) -> None:
        del self._pending[code]
        if done.cancelled() or done.exception() is not None:
            return
        self._images[code] = done.result()
        while len(self._images) > self.max_images:
            self._images.popitem(last=False)

    def forget(self, code: str) -> None:
        """Drop a code's image (it was revoked)."""
        self._images.pop(code, None)


def on(executor: Executor) -> Render:
    """Rendering on an executor (a thread pool: no worker processes)."""

    async def render(code: str) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(executor, tickets.render_png, code)

    return render


class RenderPool:
    """Worker processes that render QR images, with a timeout and an in-process fallback."""

    def __init__(self, workers: int, fallback: Executor, timeout: float = RENDER_TIMEOUT) -> None:
        self.workers = workers
        self.timeout = timeout
        self._fallback = on(fallback)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start every worker now (not at the first image) and have each render once, to be ready."""
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_started,
            initargs=(os.getpid(),),
        )
        for _ in range(self.workers):  # each submit starts one more worker, up to the pool's size
            pool.submit(tickets.render_png, WARM_CODE)
        self._pool = pool

    async def render(self, code: str) -> bytes:
        """The PNG of `code` from a worker; made in a thread of the server if the workers fail or hang."""
        pool = self._pool
        if pool is not None:
            try:
                job = pool.submit(tickets.render_png, code)
                return await asyncio.wait_for(asyncio.wrap_future(job), self.timeout)
            except (TimeoutError, BrokenProcessPool, RuntimeError) as exc:
                log.warning("QR worker did not render (%s): rendered in-process; new workers", type(exc).__name__)
                self._replace(pool)
        return await self._fallback(code)

    def stop(self) -> None:
        """Stop the workers (those that do not stop at once are killed)."""
        if self._pool is not None:
            _end(self._pool)
            self._pool = None

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:  # several renderings may fail together: replace the pool once
            _end(pool, wait=0.0)
            self.start()


def _end(pool: ProcessPoolExecutor, wait: float = 2.0) -> None:
    processes = list(pool._processes.values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(wait)
        if process.is_alive():
            process.kill()


def _worker_started(server: int) -> None:
    """In each worker: die with the server; Ctrl-C in a terminal is the server's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # the server died before the line above took effect
        os._exit(0)
    # Also where prctl is missing, and if the thread that started this worker ends before the server.
    threading.Thread(target=_exit_without, args=(server,), name="parent-watch", daemon=True).start()


def _exit_without(server: int) -> None:
    while os.getppid() == server:
        time.sleep(PARENT_POLL)
    os._exit(0)
