"""The long-lived parts of a running server, built once in the app's lifespan."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from checkin.hub import Hub, snapshot_source
from checkin.qrcache import QrCache
from checkin.settings import Settings
from checkin.storage import Database
from checkin.watching import Watching


@dataclass
class Services:
    """Database, live hub and worker pools shared by all endpoints."""

    settings: Settings
    db: Database
    hub: Hub = field(default_factory=Hub)
    clock: Callable[[], float] = time.time
    blocking: Executor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="blocking"))
    cpu: Executor | None = None
    qr: QrCache = field(default_factory=QrCache)
    watching: Watching = field(init=False)

    def __post_init__(self) -> None:
        self.watching = Watching(self.settings, self.db, self.hub, self.now)

    def now(self) -> float:
        return self.clock()

    async def qr_png(self, code: str) -> bytes:
        """The QR PNG of a ticket code: rendered once, in the process pool (threads when there is none)."""
        return await self.qr.png(code, self.cpu or self.blocking)

    def start(self) -> None:
        self.db.open()
        self.hub.bind(snapshot_source(self.db, self.now), interval=self.settings.dashboard_interval)
        if self.cpu is None and self.settings.qr_workers > 0:
            self.cpu = ProcessPoolExecutor(self.settings.qr_workers)

    def stop(self) -> None:
        self.hub.close()
        self.db.close()
        self.blocking.shutdown(wait=False, cancel_futures=True)
        if self.cpu is not None:
            self.cpu.shutdown(wait=False, cancel_futures=True)
            self.cpu = None


def build(settings: Settings) -> Services:
    """Services for these settings (not yet started)."""
    return Services(settings=settings, db=Database(settings.db_path, settings.sqlite_synchronous))
