"""Request limits: counting, refusing with a wait, the switch, address keys, parallel login guesses."""

from __future__ import annotations

import asyncio

import pytest
from limits import RateLimitItemPerHour, RateLimitItemPerMinute

from checkin import ratelimit
from checkin.errors import RateLimited
from checkin.ratelimit import RateLimits, Rule, address_key
from checkin.web import login

BURST = Rule("burst", (RateLimitItemPerMinute(2), RateLimitItemPerHour(3)))


class FakeTime:
    """Stands in for the `time` module of the limits storage and ours: a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("limits.storage.memory.time", fake)
    monkeypatch.setattr("checkin.ratelimit.time", fake)
    return fake


async def _hits(limits: RateLimits, rule: Rule, key: str, count: int) -> list[int]:
    """Try `count` requests; 0 for each let through, else the Retry-After it was refused with."""
    waits = []
    for _ in range(count):
        try:
            await limits.hit(rule, key)
            waits.append(0)
        except RateLimited as exc:
            waits.append(exc.retry_after)
    return waits


async def test_past_the_limit_a_request_is_refused_until_the_window_moves(clock: FakeTime) -> None:
    """2 a minute: the third waits for the first to leave the window; a minute later there is room again."""
    limits = RateLimits()
    assert await _hits(limits, BURST, "198.51.100.1", 2) == [0, 0]
    clock.now += 20
    assert await _hits(limits, BURST, "198.51.100.1", 1) == [40]
    assert await _hits(limits, BURST, "198.51.100.2", 1) == [0]  # another address has its own count
    clock.now += 41
    assert await _hits(limits, BURST, "198.51.100.1", 1) == [0]


async def test_a_refused_request_counts_against_no_limit(clock: FakeTime) -> None:
    """Refusals by the minute limit do not eat the hour's: a waiting client gets its full hour later."""
    limits = RateLimits()
    assert await _hits(limits, BURST, "a", 12) == [0, 0] + [60] * 10
    clock.now += 61
    assert await _hits(limits, BURST, "a", 2) == [0, 3600 - 61]


async def test_the_switch_lifts_every_limit_but_the_logins() -> None:
    """CHECKIN_RATE_LIMITS=off: per-address limits count nothing; login limits still hold."""
    limits = RateLimits(enabled=False)
    assert await _hits(limits, ratelimit.REGISTER, "a", 40) == [0] * 40
    assert sum(1 for wait in await _hits(limits, ratelimit.LOGIN_FAILURES, "a", 6) if wait) == 1


def test_a_refusal_is_logged_once_per_block_with_the_address_only(caplog: pytest.LogCaptureFixture) -> None:
    """A flood of refused requests leaves one log line, naming the rule and the address."""

    async def flood() -> None:
        limits = RateLimits()
        await _hits(limits, BURST, "203.0.113.9", 50)

    with caplog.at_level("WARNING", logger="checkin.limits"):
        asyncio.run(flood())
    assert [record.getMessage().split(";")[0] for record in caplog.records] == [
        "rate limit burst reached by 203.0.113.9"
    ]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::2", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_count_by_their_64(address: str, key: str) -> None:
    """One IPv6 household or office holds a whole /64: counting per address would let it rotate freely."""
    assert address_key(address) == key


async def test_parallel_login_guesses_cannot_pass_the_limit() -> None:
    """20 simultaneous tries of one login from one address: exactly 5 reach the password check."""
    limits = RateLimits()

    async def attempt() -> bool:
        try:
            await login.throttle(limits, "jimu", "203.0.113.9")
        except RateLimited:
            return False
        return True

    passed = await asyncio.gather(*(attempt() for _ in range(20)))
    assert sum(passed) == 5


def test_memory_counts_are_swept_rarely_by_the_librarys_own_scheduler(clock: FakeTime) -> None:
    """The library still calls the scheduler we replace, so a hit starts one slow sweep, not one per hit;
    the sweep frees expired counts and their keys."""
    import limits.storage.memory

    assert hasattr(limits.storage.memory.MemoryStorage, "_MemoryStorage__schedule_expiry")

    async def counted() -> RateLimits:
        limits_ = RateLimits()
        await _hits(limits_, BURST, "203.0.113.1", 2)
        return limits_

    limits_ = asyncio.run(counted())
    storage = limits_.storage
    assert isinstance(storage, ratelimit.SweptMemoryStorage) and storage.timer.daemon and storage.timer.is_alive()
    storage.timer.cancel()
    clock.now += 3601
    storage.sweep()
    assert storage.events == {} and not storage.locks
