"""Live fan-out of snapshots to dashboards.

Every committed change that a snapshot shows calls `Hub.changed(slug)` (through `checkin.writes`, the one
way to write): a flag is set, nothing else, so
the door never waits on a dashboard. Per event with subscribers, one task recomputes the snapshot when
woken (at most once per `interval`, so a burst of a thousand changes costs a handful of snapshots) and
every `tick` seconds anyway (kiosks going offline, the clock). Each subscriber has a slot of one message
where the newest replaces the unread: a slow or stuck dashboard only ever misses intermediate snapshots
(its `seq` shows the gap) and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from checkin import stats
from checkin.storage import Engine
from checkin.storage.stats import OnlineMemo, snapshot_counts

log = logging.getLogger("checkin.hub")

Compute = Callable[[str, int], Awaitable[str]]  # (slug, seq) -> the encoded snapshot


class Subscription:
    """One subscriber's slot: holds the latest message not yet taken; iterate to receive."""

    __slots__ = ("_closed", "_latest", "_ready")

    def __init__(self) -> None:
        self._latest = ""
        self._ready = asyncio.Event()
        self._closed = False

    def offer(self, message: str) -> None:
        """Put a message in the slot, replacing one not yet taken (never waits)."""
        self._latest = message
        self._ready.set()

    def close(self) -> None:
        """End the iteration (server shutting down, or the client went away)."""
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        await self._ready.wait()
        self._ready.clear()
        if self._closed:
            raise StopAsyncIteration
        return self._latest


@dataclass(eq=False)
class _Channel:
    slug: str
    subscribers: set[Subscription] = field(default_factory=set)
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    latest: str | None = None
    task: asyncio.Task[None] | None = None


class Hub:
    """In-process hub: per event, one coalescing task and the subscribers' slots."""

    def __init__(self, compute: Compute | None = None, *, interval: float = 0.2, tick: float = 5.0) -> None:
        self._compute = compute
        self.interval = interval
        self.tick = tick
        self._channels: dict[str, _Channel] = {}
        self._seq: defaultdict[str, int] = defaultdict(int)
        self._closed = False

    def bind(self, compute: Compute, interval: float | None = None) -> None:
        """Say how snapshots are made, and at most how often (done once the database is open)."""
        self._compute = compute
        self.interval = self.interval if interval is None else interval
        self._closed = False

    def changed(self, slug: str) -> None:
        """Something that a snapshot shows has changed for this event (call after the commit)."""
        channel = self._channels.get(slug)
        if channel is not None:
            channel.dirty.set()

    def subscribers(self, slug: str) -> int:
        """How many dashboards follow this event."""
        channel = self._channels.get(slug)
        return 0 if channel is None else len(channel.subscribers)

    async def snapshot(self, slug: str) -> str:
        """A fresh snapshot of this event, outside the fan-out (the `/stats` endpoint)."""
        return await self._make(slug)

    @contextlib.asynccontextmanager
    async def subscribe(self, slug: str) -> AsyncIterator[Subscription]:
        """Follow one event: the current snapshot at once (when there is one), then every new one."""
        if self._closed:
            raise RuntimeError("the hub is closed")
        channel = self._channels.get(slug) or self._open(slug)
        subscription = Subscription()
        channel.subscribers.add(subscription)
        if channel.latest is not None:
            subscription.offer(channel.latest)
        try:
            yield subscription
        finally:
            channel.subscribers.discard(subscription)
            if not channel.subscribers and self._channels.get(slug) is channel:
                del self._channels[slug]
                if channel.task is not None:
                    channel.task.cancel()

    def close(self) -> None:
        """Stop every task and end every subscription, so the sockets close (server shutdown)."""
        self._closed = True
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            if channel.task is not None:
                channel.task.cancel()
            for subscription in channel.subscribers:
                subscription.close()

    def _open(self, slug: str) -> _Channel:
        channel = _Channel(slug)
        channel.dirty.set()  # the first subscriber needs a snapshot now
        channel.task = asyncio.create_task(self._run(channel), name=f"hub:{slug}")
        self._channels[slug] = channel
        return channel

    async def _make(self, slug: str) -> str:
        if self._compute is None:
            raise RuntimeError("the hub has no snapshot source")
        self._seq[slug] += 1
        return await self._compute(slug, self._seq[slug])

    @staticmethod
    def _deliver(channel: _Channel, message: str) -> None:
        """Make `message` the event's latest and offer it to every local subscriber."""
        channel.latest = message
        for subscription in tuple(channel.subscribers):
            subscription.offer(message)

    async def _run(self, channel: _Channel) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await channel.dirty.wait()
            started = loop.time()
            channel.dirty.clear()  # changes from here on wake the next round
            try:
                message = await self._make(channel.slug)
            except Exception as exc:  # a failed read must not end the live view; the next round retries
                log.warning("snapshot of %s failed: %r", channel.slug, exc)
            else:
                self._deliver(channel, message)
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))


def snapshot_source(db: Engine, clock: Callable[[], float]) -> Compute:
    """Snapshots read from this database, at the time the clock says (in whole seconds, as they show it)."""
    memo = OnlineMemo()

    async def compute(slug: str, seq: int) -> str:
        counts = await db.read(snapshot_counts, slug, float(math.floor(clock())), memo)
        return json.dumps(stats.snapshot(counts, seq), ensure_ascii=False, separators=(",", ":"))

    return compute
