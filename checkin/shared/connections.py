"""Per-address connection caps counted across servers: open connections and new connections per second.

The cap is checked where a connection arrives, synchronously (before anything of it is read), so no
Redis round trip can sit in that path. Each server counts its own connections as before and, every
`SYNC` seconds, writes its counts of the addresses that hold several connections to its own hash
(`conns:<kind>:<id>`, expiring `TTL` seconds after its last write, so nothing a killed process held
outlives it by more) and reads back what the other servers hold; a new connection is refused when its
address holds the cap across all servers. New connections are added up per address in shared
windows of `WINDOW` seconds; an address past the allowance of a window is refused on every server
until the window ends. Both counts lag by at most one sync: a cap, not an exact count.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import Counter

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from checkin.server.connections import AddressCounts, ConnectionRate
from checkin.shared.link import Backoff

SYNC = 1.0
TTL = 30
WINDOW = 10

HEAVY = 8  # an address holding fewer than this on a server is left out of the shared count (browsers hold 6)

# KEYS: the registry of servers' hashes. ARGV: this server's hash. What the other live servers hold, per address.
ELSEWHERE = """
local totals = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if key ~= ARGV[1] then
    if redis.call('EXISTS', key) == 0 then
      redis.call('SREM', KEYS[1], key)
    else
      local held = redis.call('HGETALL', key)
      for i = 1, #held, 2 do totals[held[i]] = (totals[held[i]] or 0) + tonumber(held[i + 1]) end
    end
  end
end
local flat = {}
for address, total in pairs(totals) do
  flat[#flat + 1] = address
  flat[#flat + 1] = total
end
return flat
"""


class Syncing:
    """The background task of a shared count: started with the first connection, on the server's own loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: redis.Redis | None = None
        self.task: asyncio.Task[None] | None = None

    def ensure(self) -> None:
        if self.task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to share yet
                self.task = asyncio.get_running_loop().create_task(self._run(), name="shared-connections")

    async def _run(self) -> None:
        self.client = redis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=2.0)
        backoff = Backoff("connection counts")
        while True:
            await asyncio.sleep(SYNC)
            try:
                await self.sync(self.client)
            except (RedisError, OSError) as exc:
                self.lost()
                await backoff.failed(exc)
            else:
                backoff.succeeded()

    async def sync(self, client: redis.Redis) -> None:
        raise NotImplementedError

    def lost(self) -> None:
        """Redis unreachable: count what this server sees only."""


class SharedAddressCounts(AddressCounts, Syncing):
    """Open connections per address across every server (see the module); `kind` keeps HTTP and websockets apart."""

    def __init__(self, cap: int | None, url: str, prefix: str, kind: str) -> None:
        AddressCounts.__init__(self, cap)
        Syncing.__init__(self, url)
        self._registry = f"{prefix}conns:{kind}"
        self._own_key = f"{self._registry}:{uuid.uuid4().hex}"
        self._elsewhere: dict[str, int] = {}
        self._changed: set[str] = set()
        self._renew_at = 0.0
        self._script: AsyncScript | None = None
        # Only addresses holding many connections are shared: few bytes per sync, and a cap of 256 is missed by
        # at most HEAVY - 1 connections per server.
        self.heavy = max(1, min(HEAVY, (cap or 0) // 4))

    def take(self, address: str) -> bool:
        if self.cap is None:
            return True
        self.ensure()
        if self.counts.get(address, 0) + self._elsewhere.get(address, 0) >= self.cap:
            return False
        self._changed.add(address)
        return super().take(address)

    def release(self, address: str) -> None:
        super().release(address)
        self._changed.add(address)

    async def sync(self, client: redis.Redis) -> None:
        changed, self._changed = self._changed, set()
        now = asyncio.get_running_loop().time()
        if changed or now >= self._renew_at:  # the hash is written when it changes, and renewed well inside its TTL
            async with client.pipeline(transaction=False) as pipe:
                for address in sorted(changed):
                    if (held := self.counts.get(address, 0)) >= self.heavy:
                        pipe.hset(self._own_key, address, held)
                    else:
                        pipe.hdel(self._own_key, address)
                pipe.expire(self._own_key, TTL)
                pipe.sadd(self._registry, self._own_key)
                await pipe.execute()
            self._renew_at = now + TTL / 3
        if self._script is None:
            self._script = client.register_script(ELSEWHERE)
        flat = await self._script([self._registry], [self._own_key], client=client)
        self._elsewhere = {str(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def lost(self) -> None:
        self._elsewhere = {}


class SharedConnectionRate(ConnectionRate, Syncing):
    """New connections per address across every server: this server's bucket, and shared windows (see the module)."""

    def __init__(self, rate: float | None, url: str, prefix: str) -> None:
        ConnectionRate.__init__(self, rate)
        Syncing.__init__(self, url)
        self._prefix = f"{prefix}newconns:"
        self._new: Counter[str] = Counter()
        self._blocked: dict[str, float] = {}  # address -> wall-clock end of the window it used up

    @property
    def allowance(self) -> float:
        """New connections one address may open in a window: its burst, and the window's refill."""
        return self.burst + WINDOW * (self.rate or 0.0)

    def allow(self, address: str, now: float) -> bool:
        if self.rate is None:
            return True
        self.ensure()
        if address in self._blocked and time.time() < self._blocked[address]:
            return False
        if not super().allow(address, now):
            return False
        self._new[address] += 1
        return True

    async def sync(self, client: redis.Redis) -> None:
        new, self._new = self._new, Counter()
        window = math.floor(time.time() / WINDOW)
        self._blocked = {address: end for address, end in self._blocked.items() if end > time.time()}
        if not new:
            return
        async with client.pipeline(transaction=False) as pipe:
            for address, opened in sorted(new.items()):
                key = f"{self._prefix}{window}:{address}"
                pipe.incrby(key, opened)
                pipe.expire(key, 2 * WINDOW)
            answers = await pipe.execute()
        for (address, _), total in zip(sorted(new.items()), answers[::2], strict=True):
            if int(total) > self.allowance:
                self._blocked[address] = (window + 1) * WINDOW
