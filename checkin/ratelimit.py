"""Request limits per client address, per staff token and per login, over a `limits` storage.

Counting uses the moving-window strategy: a request counts for exactly its window after it (no
doubled burst at a fixed window's edge), and the oldest counted request tells the client when it may
try again (`Retry-After`). The storage is named by a URI: memory today (one process), a Redis URI
when several processes must share one count.

Default numbers, and why (a ministry office reaches us through ONE address, its NAT):
- register 30/minute and 300/hour per address: a person needs a minute to fill the form, so 30 a
  minute is thirty colleagues pressing "send" in the same minute, and 300 an hour more than an office
  registers in a morning; a refused person keeps what they typed and sends again seconds later.
  A script that sent 330 ticket e-mails in 3 s now sends 30, then 300 an hour.
- resend 5/minute and 30/hour per address: one person needs one, twice when they mistype; each
  registrant already gets at most one re-sent ticket every 10 minutes.
- pair 10/minute and 100/hour per address: a venue sets up a few dozen kiosks in a morning; a
  pairing code is short-lived, and guessing one takes far more tries than this allows.
- search 120/minute per staff token: the kiosk searches 200 ms after the last keystroke, so one
  look-up by name is a handful of requests; a busy door does a few look-ups a minute.
- login, never lifted: 30 tries per address per 15 minutes (any login); 5 failures per login from
  one address per 15 minutes; and once a login has failed 30 times in 15 minutes from anywhere,
  only addresses that failed on it wait: the right password from a clean address still gets in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, WindowStats
from limits.aio import strategies as aio_strategies
from limits.aio.storage import Storage as AsyncStorage
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from checkin.errors import RateLimited
from checkin.shared.link import Outage

log = logging.getLogger("checkin.limits")
MEMORY = "memory://"
# Keys blocked right now, so each refusal is logged once per block, not once per request of a flood.
MAX_REMEMBERED = 10_000
SWEEP_EVERY = 10.0  # seconds between two sweeps of expired counts out of memory
T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """A named set of limits; `liftable` ones are switched off by CHECKIN_RATE_LIMITS=off."""

    name: str
    limits: tuple[RateLimitItem, ...]
    liftable: bool = True


REGISTER = Rule("register", (RateLimitItemPerMinute(30), RateLimitItemPerHour(300)))
RESEND = Rule("resend", (RateLimitItemPerMinute(5), RateLimitItemPerHour(30)))
PAIR = Rule("pair", (RateLimitItemPerMinute(10), RateLimitItemPerHour(100)))
SEARCH = Rule("search", (RateLimitItemPerMinute(120),))
LOGIN_ADDRESS = Rule("login-address", (RateLimitItemPerMinute(30, 15),), liftable=False)
LOGIN_FAILURES = Rule("login-failures", (RateLimitItemPerMinute(5, 15),), liftable=False)
LOGIN_ANYWHERE = Rule("login-anywhere", (RateLimitItemPerMinute(30, 15),), liftable=False)


def address_key(address: str) -> str:
    """The key of a client address: IPv6 by its /64 (one household or office), anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, sweeping out expired counts every SWEEP_EVERY seconds instead of after each hit.

    The library starts a sweep of every key 10 ms after each hit: with 10,000 client addresses counted
    that cost ~2.5 ms of CPU per request (bench/bench_limits.py), and it keeps every key ever seen.
    Counting never depends on the sweep (each entry carries its own time); the sweep only frees memory,
    so every few seconds is enough.
    """

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()  # the library's first sweep, 10 ms from now: the first hit schedules ours
        self.timer = self._sweep()

    def _sweep(self) -> threading.Timer:
        timer = threading.Timer(SWEEP_EVERY, self.sweep)
        timer.daemon = True  # never holds up the process's exit
        return timer

    def sweep(self) -> None:
        """Drop expired counts, and the keys left with none (the library's sweep keeps empty keys)."""
        now = time.time()
        for key in list(self.events):
            with self.locks[key]:
                kept = [entry for entry in self.events.get(key, []) if entry.expiry > now]
                if kept:
                    self.events[key] = kept
                else:
                    self.events.pop(key, None)
            if key not in self.events:
                self.locks.pop(key, None)
        for key, expires in list(self.expirations.items()):
            if expires <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)

    # Replaces the library's private scheduler (its name as Python mangles it); tests check it is still
    # the one the library calls, so an upgrade that renames it fails loudly instead of slowing down.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = self._sweep()
            self.timer.start()


class _Inline:
    """The synchronous limiter behind the interface of limits' asyncio one: memory answers at once, on the loop;
    any other synchronous storage is asked from a thread."""

    def __init__(self, storage: Storage) -> None:
        self.limiter = MovingWindowRateLimiter(storage)
        self.inline = isinstance(storage, MemoryStorage)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self.inline:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._run(self.limiter.hit, item, *identifiers)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._run(self.limiter.test, item, *identifiers)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return await self._run(self.limiter.get_window_stats, item, *identifiers)

    async def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        await self._run(self.limiter.clear, item, *identifiers)


class _WithFallback:
    """A shared limiter that counts in this process's memory while its storage (Redis) is unreachable, rather than
    failing every request it guards; the outage is logged once."""

    def __init__(self, shared: aio_strategies.MovingWindowRateLimiter) -> None:
        self.shared = shared
        self.fallback = _Inline(SweptMemoryStorage())
        self.outage = Outage("request limits")

    async def _either(self, method: str, *args: object) -> Any:
        try:
            result = await getattr(self.shared, method)(*args)
        except StorageError as exc:
            self.outage.failed(exc)
            return await getattr(self.fallback, method)(*args)
        self.outage.succeeded()
        return result

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(await self._either("hit", item, *identifiers))

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(await self._either("test", item, *identifiers))

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        stats: WindowStats = await self._either("get_window_stats", item, *identifiers)
        return stats

    async def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        await self._either("clear", item, *identifiers)


def storage_uri(redis_url: str) -> str:
    """The limits storage of a server: limits' asyncio Redis storage when Redis is set, else this process's memory."""
    return "async+" + redis_url if redis_url else MEMORY


class RateLimits:
    """The server's counters: `hit` counts a request or refuses it with RateLimited.

    `storage_uri` "memory://" counts in this process; "async+redis://..." in Redis (keys under `key_prefix`),
    shared by every server that uses it.
    """

    def __init__(self, storage_uri: str = MEMORY, *, enabled: bool = True, key_prefix: str = "LIMITS") -> None:
        self.enabled = enabled
        self.limiter: _Inline | _WithFallback
        self.storage: Storage | AsyncStorage
        if storage_uri == MEMORY:
            self.storage = SweptMemoryStorage()
        else:
            shared: dict[str, str | bool] = {
                "implementation": "redispy",
                "key_prefix": key_prefix,
                "wrap_exceptions": True,
            }
            options = shared if storage_uri.startswith("async+") else {}
            self.storage = storage_from_string(storage_uri, **options)
        if isinstance(self.storage, Storage):
            self.limiter = _Inline(self.storage)
        else:
            self.limiter = _WithFallback(aio_strategies.MovingWindowRateLimiter(self.storage))
        self._blocked: set[tuple[str, str]] = set()

    def active(self, rule: Rule) -> bool:
        """Whether this rule counts at all (the switch lifts the liftable ones)."""
        return self.enabled or not rule.liftable

    async def hit(self, rule: Rule, key: str, *, who: str = "") -> None:
        """Count one request of `key` under every limit of the rule, or raise RateLimited (counting nothing).

        `who` is what the log names for a refusal (default: the key): a client address, never a login.
        """
        wait = await self.count(rule, key)
        if wait > 0:
            self.refuse(rule, key, wait, who=who)

    async def count(self, rule: Rule, key: str) -> float:
        """Count one request of `key` if every limit has room; else count nothing and return the wait."""
        if not self.active(rule):
            return 0.0
        wait = await self._wait(rule, key)
        if wait <= 0:
            for item in rule.limits:
                await self.limiter.hit(item, rule.name, key)
            self._blocked.discard((rule.name, key))
        return wait

    async def wait(self, rule: Rule, key: str) -> float:
        """Seconds until `key` may be counted again under the rule (0: now), counting nothing."""
        if not self.active(rule):
            return 0.0
        return await self._wait(rule, key)

    async def used(self, rule: Rule, key: str) -> bool:
        """Whether `key` has anything counted under the rule's first limit."""
        if not self.active(rule):
            return False
        item = rule.limits[0]
        return (await self.limiter.get_window_stats(item, rule.name, key)).remaining < item.amount

    async def clear(self, rule: Rule, key: str) -> None:
        """Forget what `key` has counted under the rule (a good password clears its failures)."""
        for item in rule.limits:
            await self.limiter.clear(item, rule.name, key)

    def refuse(self, rule: Rule, key: str, wait: float, *, who: str = "") -> None:
        """Raise RateLimited, logging the block once (not once per request of a flood)."""
        if (rule.name, key) not in self._blocked:
            if len(self._blocked) >= MAX_REMEMBERED:
                self._blocked.clear()
            self._blocked.add((rule.name, key))
            log.warning("rate limit %s reached by %s; refused for %.0f s", rule.name, who or key, wait)
        raise RateLimited(wait)

    async def _wait(self, rule: Rule, key: str) -> float:
        now = time.time()
        waits = [
            (await self.limiter.get_window_stats(item, rule.name, key)).reset_time - now
            for item in rule.limits
            if not await self.limiter.test(item, rule.name, key)
        ]
        return max(waits, default=0.0)
