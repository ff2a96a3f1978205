"""The live presence of online viewers: the rules of `checkin.presence` driven by the clock and the database.

Connections report to one in-memory `Presence`. Its changes (a viewing starts or ends) are queued and
written by one background task, all pending changes in one write that tells the live hub (`Writes.change`).
The same task ends viewings whose grace period is over and, every `watch_heartbeat` seconds, writes
this server's heartbeat: one row, whatever the number of viewers, which is the last sign of life of
every viewing it watches, so a crash loses at most that much of anyone's viewing. Each beat also
takes over the open viewings of servers found dead (their heartbeat stopped, or their process is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import uuid
from collections.abc import Callable
from itertools import count

from checkin import tickets
from checkin.errors import NotAViewer, Refusal, Refused, StorageUnavailable
from checkin.models import Event, Status
from checkin.presence import Change, Identity, Presence
from checkin.settings import Settings
from checkin.storage import Engine
from checkin.storage.registrants import lookup_code
from checkin.storage.viewing import OpenViewing, Server, heartbeat, leave, record_presence
from checkin.writes import Writes

log = logging.getLogger("checkin.watching")
BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A server whose heartbeat is older than this many of its periods is dead (on another host, or its
# pid was reused: a dead process on this host is noticed at once).
STALE_BEATS = 3


async def identify(db: Engine, event: Event, ticket: str | None, anon: str | None) -> Identity:
    """The viewer a connection speaks for: a registrant by ticket code, or an anonymous browser id."""
    if ticket:
        problem = tickets.classify(ticket, event.slug)
        if problem is not tickets.CodeProblem.OK:
            raise NotAViewer(problem.value)
        found = await db.read(lookup_code, ticket)
        if found is None:
            raise NotAViewer("unknown")
        if found.event.id != event.id:
            raise NotAViewer("wrong_event")
        if not found.ticket.valid or found.registrant.status is not Status.REGISTERED:
            raise NotAViewer("revoked")
        return Identity.registrant(event.id, event.slug, found.registrant.id)
    if anon:
        if not event.anonymous_watch:
            raise NotAViewer("anonymous_not_allowed")
        if not BROWSER_ID.fullmatch(anon):
            raise NotAViewer("invalid")
        return Identity.anonymous(event.id, event.slug, anon)
    raise NotAViewer("no_viewer")


def _unexpected(exc: Exception) -> bool:
    """Worth a traceback in the log: anything but a disk fault (which the database logs once)."""
    return not isinstance(exc, StorageUnavailable)


class Watching:
    """Presence of every viewer of this process, and the background task that records it."""

    def __init__(self, settings: Settings, writes: Writes, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.writes = writes
        self.clock = clock
        self.presence = Presence(settings.watch_grace)
        self._pending: list[Change] = []
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()  # one write at a time, so changes land in order
        self._ids = count(1)
        self._task: asyncio.Task[None] | None = None
        self._next_beat = 0.0
        self.server = Server(uuid.uuid4().hex, socket.gethostname(), os.getpid(), clock())

    @property
    def tick(self) -> float:
        """How often grace periods are checked: a fraction of the grace, at most a second."""
        return min(1.0, self.settings.watch_grace / 4)

    @property
    def stale(self) -> float:
        """How old a heartbeat may be before its server counts as dead."""
        return STALE_BEATS * self.settings.watch_heartbeat

    async def start(self) -> None:
        """Close viewings a crash left open (at their last sign of life), adopt recent ones, start recording."""
        now = self.clock()
        grace = self.settings.watch_grace
        self._adopt(await self.writes.store(heartbeat, self.server, now, grace, self.stale, starting=True))
        self._next_beat = now + self.settings.watch_heartbeat
        self._task = asyncio.create_task(self._run(), name="watching")

    async def stop(self) -> None:
        """Stop recording; open viewings keep their last sign of life, for the next start to close or adopt."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        now = self.clock()
        seen = [(identity, now) for identity in self.presence.watching()] + self.presence.idle()
        if not await self._write(self._take(now), seen):
            return  # the heartbeat row stays, so the next start closes these viewings at its last beat
        try:
            await self.writes.store(leave, self.server.server_id)
        except Exception as exc:  # the row stays: the next start finds this process gone and uses its last heartbeat
            log.warning("could not remove this server's heartbeat: %s", exc, exc_info=_unexpected(exc))

    def _adopt(self, viewings: list[OpenViewing]) -> None:
        for viewing in viewings:
            self.presence.adopt(viewing.identity, viewing.last_seen_at)

    def connect(self, identity: Identity) -> int:
        """Register a new connection of this viewer; its id. Refused past the caps."""
        if self.presence.connections() >= self.settings.watch_max_connections:
            raise Refused(Refusal.SERVER_FULL)
        connection = next(self._ids)
        self.presence.connect(identity, connection)
        return connection

    def state(self, connection: int, watching: bool) -> None:
        """The connection's player plays (or its page is visible) — or not."""
        self._queue(self.presence.state(connection, watching, self.clock()))

    def disconnect(self, connection: int, last_alive: float | None = None) -> None:
        """The connection is gone; `last_alive` is its last sign of life when it was lost rather than closed."""
        self._queue(self.presence.disconnect(connection, self.clock(), last_alive))

    def _queue(self, changes: list[Change]) -> None:
        if changes:
            self._pending.extend(changes)
            self._wake.set()

    def _take(self, now: float) -> list[Change]:
        changes, self._pending = [*self._pending, *self.presence.expire(now)], []
        return changes

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what changed (and, when due, this server's heartbeat) in one write."""
        now = self.clock()
        beat_at = None
        if now >= self._next_beat:
            beat_at = now
            self._next_beat = now + self.settings.watch_heartbeat
        changes = self._take(now)
        if changes or beat_at is not None:
            await self._write(changes, [], beat_at)

    async def _write(
        self, changes: list[Change], seen: list[tuple[Identity, float]], beat_at: float | None = None
    ) -> bool:
        """Write; False (the changes kept for the next try) if the database refused."""
        async with self._writing:
            try:
                slugs = {change.identity.slug for change in changes}
                grace = self.settings.watch_grace
                taken = await self.writes.change(
                    slugs, record_presence, changes, seen, self.server, beat_at, grace, self.stale
                )
            except Exception as exc:  # the disk may come back: keep the changes, in order, for the next try
                log.warning(
                    "could not record %d viewing changes (%s); will retry", len(changes), exc, exc_info=_unexpected(exc)
                )
                self._pending[:0] = changes
                return False
        self._adopt(taken)
        return True
