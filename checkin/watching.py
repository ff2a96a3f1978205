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
from collections.abc import Awaitable, Callable
from itertools import count

from redis.exceptions import RedisError

from checkin import tickets
from checkin.errors import NotAViewer, Refusal, Refused, StorageUnavailable
from checkin.models import Event, Status
from checkin.presence import Change, Identity, Kind, Presence
from checkin.settings import Settings
from checkin.shared.link import Outage
from checkin.shared.presence import SharedViewers
from checkin.storage import Engine
from checkin.storage.registrants import lookup_code
from checkin.storage.viewing import (
    HandedOver,
    Joined,
    OpenViewing,
    Server,
    Step,
    gone_servers,
    heartbeat,
    leave,
    open_among,
    owners,
    record_presence,
    watched_by,
)
from checkin.writes import Writes

log = logging.getLogger("checkin.watching")
BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A server whose heartbeat is older than this many of its periods is dead (on another host, or its
# pid was reused: a dead process on this host is noticed at once).
STALE_BEATS = 3
LEFT_REMEMBERED = 10_000
# Viewer changes written (and, with several servers, settled in Redis) at most this many at a time: a join
# storm's backlog goes in bounded steps, each a short transaction and a short script, one after another.
MAX_CHANGES_PER_WRITE = 500
# Woken by a change, the task waits this long before writing, so that the changes of a join storm go in
# batches (one transaction, one script for many viewers) rather than one write each; `online.now` is then
# at most this much later, well inside a dashboard's coalescing interval.
GATHER_SECONDS = 0.05
# Viewers joined to another server's viewing, re-checked by the beats for a while (`Watching._unopened`): at
# most this many (a whole crashed server's viewers coming back here at once), then forgotten.
JOINED_REMEMBERED = 100_000


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

    def __init__(
        self,
        settings: Settings,
        writes: Writes,
        clock: Callable[[], float],
        shared: SharedViewers | None = None,
    ) -> None:
        self.settings = settings
        self.shared = shared
        self._published: dict[tuple[int, str], int] = {}  # anonymous counts as Redis last heard them
        self._outage = Outage("viewer presence")
        self._left: dict[tuple[int, str], float] = {}  # viewer -> its last sign of life when this server stopped
        self._joined: dict[tuple[int, str], tuple[Identity, float]] = {}  # viewers joined to another's viewing
        self.writes = writes
        self.db = writes.db
        self.clock = clock
        self.presence = Presence(settings.watch_grace)
        self._pending: list[Change] = []
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()  # one write at a time, so changes land in order
        self._ids = count(1)
        self._task: asyncio.Task[None] | None = None
        self._next_beat = 0.0
        server_id = shared.link.server_id if shared is not None else uuid.uuid4().hex
        self.server = Server(server_id, socket.gethostname(), os.getpid(), clock())

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
        grace, gone = self.settings.watch_grace, await self._gone(now, await self._alive())
        await self._adopt((await self.writes.store(heartbeat, self.server, now, grace, gone, starting=True)).taken)
        if self.shared is not None:
            self.shared.link.on_lost(self.refill)
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
        while True:  # the whole backlog, in bounded steps; the last sign of life goes with the last one
            changes = self._take(now)
            last = not self._pending
            if not await self._write(changes, seen if last else []):
                return  # the heartbeat row stays, so the next start closes these viewings at its last beat
            if last:
                break
        try:
            await self.writes.store(leave, self.server.server_id)
        except Exception as exc:  # the row stays: the next start finds this process gone and uses its last heartbeat
            log.warning("could not remove this server's heartbeat: %s", exc, exc_info=_unexpected(exc))

    async def _adopt(self, viewings: list[OpenViewing]) -> None:
        for viewing in viewings:
            self.presence.adopt(viewing.identity, viewing.last_seen_at)
        if self.shared is not None and viewings:
            await self._shared_quietly(self.shared.hold(viewing.identity for viewing in viewings))

    async def refill(self) -> None:
        """Redis lost what it held: count this server's viewers there again, and its anonymous viewers."""
        if self.shared is not None:
            counting = self.presence.watching() + [identity for identity, _ in self.presence.idle()]
            await self.shared.hold(counting)
            self._published = {}
            await self._publish_anonymous()

    async def admits_anonymous(self, identity: Identity, cap: int) -> bool:
        """Whether this anonymous viewer may join (see `Presence.admits_anonymous`), counting the viewers of
        its address on every server."""
        elsewhere = 0
        if self.shared is not None and identity.address is not None:
            try:
                elsewhere = await self.shared.anonymous_elsewhere(identity, identity.address)
            except (RedisError, OSError) as exc:  # Redis away: this server's own count still holds
                log.debug("anonymous viewers elsewhere unknown: %r", exc)
        if elsewhere < 0 or self.presence.admits_anonymous(identity, cap - elsewhere):
            return True
        if self.shared is not None:
            await self._shared_quietly(self.shared.refused(identity))
        return False

    async def refused_anonymous(self, event_id: int) -> int:
        """Anonymous viewers of this event the per-address cap turned away (on every server, with Redis)."""
        if self.shared is not None:
            with contextlib.suppress(RedisError, OSError):
                return await self.shared.refused_count(event_id)
        return self.presence.refused_anonymous(event_id)

    async def _publish_anonymous(self) -> None:
        if self.shared is None:
            return
        counts = self.presence.anonymous_counts()
        changed = {place: counts.get(place, 0) for place in counts.keys() | self._published.keys()}
        changed = {place: held for place, held in changed.items() if self._published.get(place, 0) != held}
        if changed:
            await self.shared.publish_anonymous(changed)
            self._published = counts

    async def _shared_quietly(self, step: Awaitable[None]) -> None:
        """A Redis step whose failure only waits for the next try (or the refill once Redis is back)."""
        try:
            await step
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)

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
        """The next changes to write, oldest first: at most MAX_CHANGES_PER_WRITE, the rest in the next round
        (a join storm, or thousands of viewers whose grace ends at once when a server that held them died)."""
        self._pending.extend(self.presence.expire(now))
        changes = self._pending[:MAX_CHANGES_PER_WRITE]
        del self._pending[:MAX_CHANGES_PER_WRITE]
        if self._pending:
            self._wake.set()
        return changes

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
                await asyncio.sleep(GATHER_SECONDS)  # woken by a change: let the ones right behind it join
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
        if self.shared is not None:
            await self._shared_quietly(self._publish_anonymous())

    async def _write(
        self, changes: list[Change], seen: list[tuple[Identity, float]], beat_at: float | None = None
    ) -> bool:
        """Write; False (the changes kept for the next try) if the database (or Redis, with several servers) refused."""
        async with self._writing:
            steps: list[Step] = list(changes)
            gone: set[str] = set()
            if beat_at is not None:
                alive = await self._alive(sweep=True)
                gone = await self._gone(beat_at, alive)
            if self.shared is not None:
                try:
                    steps = await self.shared.settle(changes) if changes else []
                    self._remember_left(changes)
                    self._remember_joined(steps)
                    if beat_at is not None:
                        steps += await self._heirs(gone, beat_at) + await self._unopened(beat_at)
                except (RedisError, OSError) as exc:  # keep the changes; the heartbeat must go on regardless
                    self._outage.failed(exc)
                    self._pending[:0] = changes
                    changes, steps = [], []
                    if beat_at is None:
                        return False
                else:
                    self._outage.succeeded()
            try:
                slugs = {change.identity.slug for change in changes}
                grace, shared = self.settings.watch_grace, self.shared is not None
                done = await self.writes.change(
                    slugs, record_presence, steps, seen, self.server, beat_at, grace, gone, shared=shared
                )
            except Exception as exc:  # the disk may come back: keep the changes, in order, for the next try
                log.warning(
                    "could not record %d viewing changes (%s); will retry", len(changes), exc, exc_info=_unexpected(exc)
                )
                self._pending[:0] = changes
                return False
        await self._adopt(done.taken)
        if done.revived:
            self._revive()
        return True

    async def _alive(self, *, sweep: bool = False) -> set[str] | None:
        """The servers Redis knows alive (None without Redis, or while it cannot say); with `sweep`, what the
        servers gone from it held there is forgotten."""
        if self.shared is None:
            return None
        try:
            alive, gone = await self.shared.link.live_servers()
            if sweep:
                await self.shared.sweep(gone)
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return None
        return alive

    async def _gone(self, now: float, alive: set[str] | None) -> set[str]:
        """The servers whose viewings this beat takes over (read before the write: see `heartbeat`); with Redis,
        they are gone from there too at once (a killed server's liveness key would live on for up to 15 s)."""
        try:
            found = await self.db.read(owners)
        except Exception as exc:  # the beat still goes on; the next one looks again
            log.warning("could not read the servers' heartbeats: %s", exc, exc_info=_unexpected(exc))
            return set()
        gone = gone_servers(found, self.server, now, self.stale, alive)
        if self.shared is not None and gone:
            await self._shared_quietly(self.shared.bury(gone))
        return gone

    def _revive(self) -> None:
        """Another server took this one for dead (its heartbeat was late) and closed or took its viewings: count
        its viewers again, as new starts (a viewing another server took and still holds continues there)."""
        counting = self.presence.watching() + [identity for identity, _ in self.presence.idle()]
        log.warning("this server was taken for dead: recording its %d viewers again", len(counting))
        self._queue([Change(Kind.START, identity, self.clock()) for identity in counting])

    def _remember_left(self, changes: list[Change]) -> None:
        """When this server last saw each viewer it stopped counting (to end a viewing it finds itself left with)."""
        if len(self._left) > LEFT_REMEMBERED:
            self._left.clear()
        self._left.update((change.identity.key, change.at) for change in changes if change.kind is Kind.END)

    def _remember_joined(self, steps: list[Step]) -> None:
        """Viewers this server joined to a viewing another server owned (see `_unopened`)."""
        if len(self._joined) > JOINED_REMEMBERED:  # bounded memory; the beats prune it far sooner
            self._joined.clear()
        self._joined.update((step.identity.key, (step.identity, step.at)) for step in steps if isinstance(step, Joined))

    async def _unopened(self, now: float) -> list[Step]:
        """Viewers this server joined to another server's viewing, still counted here, whose viewing has been closed
        meanwhile: opened again, for this server.

        A viewer who comes back on this server while the server that had it is dying joins that server's viewing
        (Redis still names the other server). The server that finds the other one dead hands each of its viewings
        to a live server counting the viewer, else closes or adopts it; if this server's join reached Redis just
        after that server asked, and the database just before it closed the viewing, the viewer is counted here
        with no viewing open. So for as long as such a take-over can come (a dead server found, and the grace of
        what was adopted), each beat looks again."""
        window = self.stale + self.settings.watch_grace + 2 * self.settings.watch_heartbeat
        self._joined = {key: (identity, at) for key, (identity, at) in self._joined.items() if at > now - window}
        counted = [identity for identity, _ in self._joined.values() if self.presence.counts(identity)]
        if not counted:
            return []
        try:
            opened = await self.db.read(open_among, counted)
        except Exception as exc:  # the next beat looks again
            log.warning("could not read viewers' open viewings: %s", exc, exc_info=_unexpected(exc))
            return []
        closed = [identity for identity in counted if identity.key not in opened]
        if closed:
            log.warning("%d viewers counted here had their viewing closed by a take-over: opened again", len(closed))
        return [Joined(identity, now) for identity in closed]

    async def _heirs(self, gone: set[str], now: float) -> list[Step]:
        """Viewings of servers gone that a live server still counts: handed to it before the heartbeat takes over
        the rest (which it would close or adopt). And viewings this server owns without counting their viewer
        any more (its hand-over and another server's end crossed): handed on, or ended."""
        assert self.shared is not None
        me = self.server.server_id
        viewings = await self.db.read(watched_by, {*gone, me})
        counting = {identity.key for identity in self.presence.watching()}
        counting.update(identity.key for identity, _ in self.presence.idle())
        viewings = [(identity, owner) for identity, owner in viewings if owner != me or identity.key not in counting]
        if not viewings:
            return []
        heirs = await self.shared.holders(viewings)
        steps: list[Step] = []
        for (identity, owner), heir in zip(viewings, heirs, strict=True):
            if heir:
                steps.append(HandedOver(identity, heir, owner))
            elif owner == me:
                steps.append(Change(Kind.END, identity, self._left.get(identity.key, now)))
        return steps
