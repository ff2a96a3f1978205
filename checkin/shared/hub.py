"""The live hub shared through Redis: a change on any server reaches the dashboards on every server.

`changed(slug)` wakes this server's waiters and publishes `hub:dirty:<slug>` (a burst of changes is one
message per round of the publisher). Every server with dashboards of that event wakes on it; the one that
takes the event's lease (`hub:lease:<slug>`, SET NX for `interval`) computes the snapshot, at most once per
interval across all servers, numbers it from the shared `hub:seq:<slug>`, and publishes it on
`hub:snap:<slug>`; every server offers what arrives to its local slots, so the figures are the same
whichever server a dashboard is on. A server that lost the race and hears no snapshot within the interval
tries again (the holder may have had no dashboard left). While Redis is unreachable each server computes
its own snapshots, as the in-process hub does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from checkin.hub import Compute, Hub, _Channel
from checkin.shared.link import Backoff, RedisLink

log = logging.getLogger("checkin.hub")
SEPARATOR = "\n"  # between the sender's id and the snapshot in a published message


class SharedHub(Hub):
    """The hub of one server among several: same interface as `Hub`, coalesced per event across servers."""

    def __init__(self, link: RedisLink, compute: Compute | None = None, *, interval: float = 0.2, tick: float = 5.0):
        super().__init__(compute, interval=interval, tick=tick)
        self.link = link
        self._to_publish: set[str] = set()
        self._publish = asyncio.Event()
        self._heard: dict[str, int] = {}  # slug -> snapshots heard from other servers (to notice a silent holder)
        self._heard_at_change: dict[str, int] = {}  # slug -> snapshots heard when the pending change arrived
        self._delivered: dict[str, float] = {}  # slug -> loop time of the last snapshot offered here
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Listen to the other servers and publish this one's changes (in the background, reconnecting)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listen"),
            asyncio.create_task(self._publisher(), name="hub-publish"),
        ]

    def close(self) -> None:
        super().close()
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    def changed(self, slug: str) -> None:
        """Wake this server's waiters, and tell every server (batched by the publisher task)."""
        self._mark(slug)
        super().changed(slug)
        self._to_publish.add(slug)
        self._publish.set()

    async def _publisher(self) -> None:
        backoff = Backoff("hub publish")
        while True:
            await self._publish.wait()
            self._publish.clear()
            slugs, self._to_publish = self._to_publish, set()
            try:
                async with self.link.client.pipeline(transaction=False) as pipe:
                    for slug in sorted(slugs):
                        pipe.publish(self.link.key("hub", "dirty", slug), self.link.server_id)
                    await pipe.execute()
            except (RedisError, OSError) as exc:  # this server's own dashboards were woken already
                await backoff.failed(exc)
            else:
                backoff.succeeded()

    async def _listen(self) -> None:
        backoff = Backoff("hub listen")
        prefix = self.link.key("hub", "")
        while True:
            try:
                async with self.link.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.psubscribe(prefix + "*")
                    backoff.succeeded()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                        if message is not None and message["type"] == "pmessage":
                            self._heard_message(message["channel"][len(prefix) :], message["data"])
            except (RedisError, OSError) as exc:
                await backoff.failed(exc)

    def _heard_message(self, channel_name: str, data: str) -> None:
        kind, _, slug = channel_name.partition(":")
        sender, _, snapshot = data.partition(SEPARATOR)
        if sender == self.link.server_id:
            return  # ours: offered locally already
        if kind == "dirty":
            self._mark(slug)
            Hub.changed(self, slug)
        elif kind == "snap" and (channel := self._channels.get(slug)) is not None:
            self._heard[slug] = self._heard.get(slug, 0) + 1
            self._deliver(channel, snapshot)
            self._delivered[slug] = asyncio.get_running_loop().time()

    def _mark(self, slug: str) -> None:
        """A change arrives: note how many snapshots were heard so far, to know later whether one followed."""
        channel = self._channels.get(slug)
        if channel is not None and not channel.dirty.is_set():
            self._heard_at_change[slug] = self._heard.get(slug, 0)

    async def _make(self, slug: str) -> str:
        """A snapshot numbered from the event's shared sequence (this process's own while Redis is away)."""
        if self._compute is None:
            raise RuntimeError("the hub has no snapshot source")
        try:
            seq = int(await self.link.client.incr(self.link.key("hub", "seq", slug)))
        except (RedisError, OSError):
            self._seq[slug] += 1
            seq = self._seq[slug]
        return await self._compute(slug, seq)

    async def _take_lease(self, slug: str) -> bool:
        """Whether this server computes the event's next snapshot (True as well when Redis cannot say)."""
        lease_ms = max(1, round(self.interval * 1000))
        try:
            return bool(await self.link.client.set(self.link.key("hub", "lease", slug), "1", nx=True, px=lease_ms))
        except (RedisError, OSError):
            return True

    async def _run(self, channel: _Channel) -> None:
        loop = asyncio.get_running_loop()
        latest_key = self.link.key("hub", "latest", channel.slug)
        while True:
            # A tick counts from the last snapshot from anywhere, so N servers do not each tick on their own.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, self._delivered.get(channel.slug, 0.0) + self.tick - loop.time())):
                    await channel.dirty.wait()
            started = loop.time()
            channel.dirty.clear()
            heard = self._heard_at_change.pop(channel.slug, self._heard.get(channel.slug, 0))
            won = await self._take_lease(channel.slug)
            if won:
                await self._compute_and_publish(channel, latest_key)
            elif channel.latest is None:
                with contextlib.suppress(RedisError, OSError):
                    if (latest := await self.link.client.get(latest_key)) is not None:
                        self._deliver(channel, str(latest))
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))
            if not won and heard == self._heard.get(channel.slug, 0):
                channel.dirty.set()  # the holder published nothing (it may have no dashboard left): try again

    async def _compute_and_publish(self, channel: _Channel, latest_key: str) -> None:
        try:
            message = await self._make(channel.slug)
        except Exception as exc:  # a failed read must not end the live view; the next round retries
            log.warning("snapshot of %s failed: %r", channel.slug, exc)
            return
        self._deliver(channel, message)
        self._delivered[channel.slug] = asyncio.get_running_loop().time()
        try:
            async with self.link.client.pipeline(transaction=False) as pipe:
                pipe.publish(self.link.key("hub", "snap", channel.slug), self.link.server_id + SEPARATOR + message)
                pipe.set(latest_key, message, ex=max(1, round(3 * self.tick)))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.debug("snapshot of %s not shared: %r", channel.slug, exc)
