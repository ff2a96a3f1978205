"""One server's connection to Redis: the client, its keys, and the liveness beat every other part relies on.

Each server has an id; `alive:<id>` exists while it beats (it expires `ttl` seconds after the last beat,
so a killed server is gone from Redis within that time) and `servers` lists every id seen. A beat that
finds its own key missing means Redis lost what it held (flushed, restarted): the parts that keep state
in Redis are told, and put it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger("checkin.shared")
BEAT = 5.0  # seconds between two beats of a server
TTL = 15  # a server silent this long (three beats) counts as gone
BACKOFF_FIRST, BACKOFF_CAP = 0.1, 5.0
Refill = Callable[[], Awaitable[None]]


class Outage:
    """Says once that Redis failed for some part, and once that it works again (not once per try)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False

    def failed(self, exc: Exception) -> None:
        if not self.down:
            log.warning("redis unreachable (%s): %r; retrying", self.what, exc)
        self.down = True

    def succeeded(self) -> None:
        if self.down:
            log.warning("redis reachable again (%s)", self.what)
        self.down = False


class Backoff:
    """Delays between retries while Redis is unreachable: doubling from 0.1 s up to 5 s; logged once per outage."""

    def __init__(self, what: str) -> None:
        self.outage = Outage(what)
        self.delay = 0.0

    async def failed(self, exc: Exception) -> None:
        """Wait before the next try (and say so, the first time)."""
        self.outage.failed(exc)
        self.delay = min(BACKOFF_CAP, max(BACKOFF_FIRST, self.delay * 2))
        await asyncio.sleep(self.delay)

    def succeeded(self) -> None:
        self.outage.succeeded()
        self.delay = 0.0


class RedisLink:
    """The Redis client of one server, its key prefix and its id."""

    def __init__(self, url: str, prefix: str, *, beat: float = BEAT, ttl: int = TTL) -> None:
        self.client: redis.Redis = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2.0)
        self.prefix = prefix
        self.server_id = uuid.uuid4().hex
        self.beat = beat
        self.ttl = ttl
        self._refills: list[Refill] = []
        self._task: asyncio.Task[None] | None = None

    def key(self, *parts: str | int) -> str:
        """A key of this deployment: the prefix, then the parts joined by colons."""
        return self.prefix + ":".join(str(part) for part in parts)

    @property
    def alive_key(self) -> str:
        return self.key("alive", self.server_id)

    def on_lost(self, refill: Refill) -> None:
        """Call `refill` whenever Redis has lost this server's state (and once it is reachable again)."""
        self._refills.append(refill)

    async def start(self) -> None:
        """Beat once now (a Redis that is down at start-up is retried in the background), then every `beat`."""
        with contextlib.suppress(RedisError, OSError):
            await self.client.set(self.alive_key, "1", ex=self.ttl)
            await self.client.sadd(self.key("servers"), self.server_id)
        self._task = asyncio.create_task(self._run(), name="redis-beat")

    async def stop(self) -> None:
        """Stop beating and say this server is gone (its keys go with it), then close the connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            await self.client.delete(self.alive_key)
        await self.client.aclose()

    async def beat_once(self) -> bool:
        """Renew this server's liveness; False if Redis had lost it (then the refills run)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.alive_key, "1", ex=self.ttl, get=True)
            pipe.sadd(self.key("servers"), self.server_id)
            previous, _ = await pipe.execute()
        if previous is not None:
            return True
        log.warning("redis had lost this server's state: putting it back")
        for refill in self._refills:
            await refill()
        return False

    async def live_servers(self) -> tuple[set[str], set[str]]:
        """The ids of servers alive now, and of those gone (which are forgotten from `servers` here)."""
        ids = sorted(str(server) for server in await self.client.smembers(self.key("servers")))
        if not ids:
            return set(), set()
        flags = await self.client.mget([self.key("alive", server) for server in ids])
        alive = {server for server, flag in zip(ids, flags, strict=True) if flag is not None}
        gone = set(ids) - alive
        if gone:
            await self.client.srem(self.key("servers"), *gone)
        return alive, gone

    async def _run(self) -> None:
        backoff = Backoff("liveness")
        while True:
            try:
                await asyncio.sleep(self.beat)
                await self.beat_once()
            except (RedisError, OSError) as exc:
                await backoff.failed(exc)
            else:
                backoff.succeeded()
