"""The long-lived parts of a running server, built once in the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from checkin.hub import Hub, snapshot_source
from checkin.qrcache import QrCache, RenderPool, on
from checkin.ratelimit import RateLimits, storage_uri
from checkin.settings import Settings
from checkin.shared.hub import SharedHub
from checkin.shared.link import RedisLink
from checkin.shared.presence import SharedViewers
from checkin.storage import Engine, database_for
from checkin.watching import Watching
from checkin.writes import Writes

log = logging.getLogger("checkin")
# Connections to the mail server shared by the messages the server sends by itself (a ticket after a
# registration, a place freed for the waiting list): SMTP servers limit connections per client.
MAIL_CONNECTIONS = 2


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class Kept(Generic[C]):
    """At most `size` costly things (connections) in use at once, made on first need and kept for reuse.

    A caller waits its turn for a free one, so a rush of registrations queues its ticket e-mails here
    instead of opening a connection (and composing a message) each at the same moment.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._made: list[C] = []
        self._free: asyncio.Queue[C] | None = None

    @contextlib.asynccontextmanager
    async def use(self, make: Callable[[], C]) -> AsyncIterator[C]:
        if self._free is None:
            self._free = asyncio.Queue()
        if self._free.empty() and len(self._made) < self._size:
            thing = make()
            self._made.append(thing)
        else:
            thing = await self._free.get()
        try:
            yield thing
        finally:
            self._free.put_nowait(thing)

    def close(self) -> None:
        """Close everything made (at shutdown, when nothing uses them any more)."""
        for thing in self._made:
            try:
                thing.close()
            except Exception as exc:  # a connection that is gone already: nothing to close
                log.warning("closing a kept connection failed: %s", exc)
        self._made.clear()
        self._free = None


@dataclass
class Services:
    """Database, live hub, worker pools and request limits shared by all endpoints.

    Endpoints read through `db` and change anything through `writes` (which tells the hub).
    """

    settings: Settings
    db: Engine
    hub: Hub = field(default_factory=Hub)
    clock: Callable[[], float] = time.time
    blocking: Executor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="blocking"))
    qr_pool: RenderPool | None = None
    qr: QrCache = field(default_factory=QrCache)
    mail_connections: Kept[Closable] = field(default_factory=lambda: Kept(MAIL_CONNECTIONS))
    writes: Writes = field(init=False)
    link: RedisLink | None = None  # Redis, when several servers share what is live (CHECKIN_REDIS_URL)
    watching: Watching = field(init=False)
    limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        shared = SharedViewers(self.link) if self.link is not None else None
        self.writes = Writes(self.db, self.hub)
        self.watching = Watching(self.settings, self.writes, self.now, shared)
        self.limits = RateLimits(
            storage_uri(self.settings.redis_url if self.link else ""),
            enabled=self.settings.rate_limits,
            key_prefix=self.settings.redis_prefix + "limits",
        )

    def now(self) -> float:
        return self.clock()

    async def qr_png(self, code: str) -> bytes:
        """The QR PNG of a ticket code: rendered once, in the worker processes (threads when there are none)."""
        return await self.qr.png(code, self.qr_pool.render if self.qr_pool is not None else on(self.blocking))

    def start(self) -> None:
        self.db.open()
        self.hub.bind(snapshot_source(self.db, self.now), interval=self.settings.dashboard_interval)
        if self.qr_pool is None and self.settings.qr_workers > 0:
            self.qr_pool = RenderPool(self.settings.qr_workers, fallback=self.blocking)
            self.qr_pool.start()

    async def connect(self) -> None:
        """Join the other servers through Redis, when there is one (after `start`)."""
        if self.link is not None:
            await self.link.start()
        if isinstance(self.hub, SharedHub):
            await self.hub.start()

    async def disconnect(self) -> None:
        """Leave the other servers (before `stop`)."""
        self.hub.close()
        if self.link is not None:
            await self.link.stop()

    def stop(self) -> None:
        self.hub.close()
        self.mail_connections.close()
        self.db.close()
        self.blocking.shutdown(wait=False, cancel_futures=True)
        if self.qr_pool is not None:
            self.qr_pool.stop()
            self.qr_pool = None


def build(settings: Settings) -> Services:
    """Services for these settings (not yet started): what is live is shared through Redis when it is set."""
    db = database_for(settings)
    if not settings.redis_url:
        return Services(settings=settings, db=db)
    link = RedisLink(settings.redis_url, settings.redis_prefix)
    return Services(settings=settings, db=db, hub=SharedHub(link), link=link)
