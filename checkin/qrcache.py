"""QR images of ticket codes, each rendered once, off the event loop, and kept in a bounded LRU."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import Executor

from checkin import tickets

MAX_IMAGES = 4096  # about 600 bytes each: a few MB for every ticket of a large event


class QrCache:
    """PNG bytes by ticket code. Concurrent requests for one code share one rendering."""

    def __init__(self, max_images: int = MAX_IMAGES) -> None:
        self.max_images = max_images
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self.renders = 0

    def __len__(self) -> int:
        return len(self._images)

    async def png(self, code: str, executor: Executor) -> bytes:
        """The PNG of `code`, rendered on `executor` (a process or thread pool) the first time."""
        image = self._images.get(code)
        if image is not None:
            self._images.move_to_end(code)
            return image
        pending = self._pending.get(code)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(executor, tickets.render_png, code)
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
