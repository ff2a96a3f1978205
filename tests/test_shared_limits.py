"""Limits shared through Redis: request counts and connection caps hold across servers."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from checkin.errors import RateLimited
from checkin.ratelimit import RateLimits, storage_uri
from checkin.shared import connections as shared_connections
from checkin.shared.connections import SharedAddressCounts, SharedConnectionRate, Syncing
from tests.shared_redis import REDIS_URL, keys_under, redis_prefix
from tests.test_ratelimit import BURST, FakeTime

__all__ = ["redis_prefix"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("limits.aio.storage.redis.redispy.time", fake)
    monkeypatch.setattr("limits.aio.strategies.time", fake)
    monkeypatch.setattr("limits.storage.memory.time", fake)
    monkeypatch.setattr("checkin.ratelimit.time", fake)
    return fake


def server_limits(prefix: str) -> RateLimits:
    return RateLimits(storage_uri(REDIS_URL), key_prefix=prefix + "limits")


async def test_requests_to_two_servers_share_one_count(redis_prefix: str, clock: FakeTime) -> None:
    """2 a minute: two requests on one server, the third on the other is refused until the window moves."""
    first, second = server_limits(redis_prefix), server_limits(redis_prefix)
    await first.hit(BURST, "198.51.100.1")
    await first.hit(BURST, "198.51.100.1")
    clock.now += 20
    with pytest.raises(RateLimited) as refused:
        await second.hit(BURST, "198.51.100.1")
    assert 39 <= refused.value.retry_after <= 41
    await second.hit(BURST, "198.51.100.2")  # another address has its own count
    clock.now += 41
    await second.hit(BURST, "198.51.100.1")
    assert keys_under(redis_prefix)  # counted under this deployment's prefix


async def test_a_cleared_count_is_cleared_for_every_server(redis_prefix: str, clock: FakeTime) -> None:
    """A good password clears its failures on every server, not only on the one that saw it."""
    first, second = server_limits(redis_prefix), server_limits(redis_prefix)
    await first.hit(BURST, "login")
    assert await second.used(BURST, "login")
    await second.clear(BURST, "login")
    assert not await first.used(BURST, "login")


async def synced(*counts: Syncing) -> None:
    """Every count writes what it holds and reads what the others hold (as its background task does)."""
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        for count in counts:
            await count.sync(client)
    finally:
        await client.aclose()


async def test_open_connections_per_address_are_capped_across_servers(redis_prefix: str) -> None:
    """Cap 3: two connections on A and one on B fill it on both; one closing on A frees a place on B."""
    first, second = (SharedAddressCounts(3, REDIS_URL, redis_prefix, "ws") for _ in range(2))
    assert first.take("192.0.2.1") and first.take("192.0.2.1")
    await synced(first, second)
    assert second.take("192.0.2.1")
    await synced(second, first)
    assert not first.take("192.0.2.1") and not second.take("192.0.2.1")
    assert second.take("192.0.2.2")  # another address has its own count
    first.release("192.0.2.1")
    await synced(first, second)
    assert second.take("192.0.2.1")


async def test_a_killed_servers_connections_stop_counting_when_its_hash_expires(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that dies holding the cap stops syncing: its hash expires after TTL seconds and the place is free."""
    monkeypatch.setattr(shared_connections, "TTL", 1)
    first, second = (SharedAddressCounts(2, REDIS_URL, redis_prefix, "http") for _ in range(2))
    assert first.take("192.0.2.1") and first.take("192.0.2.1")
    await synced(first, second)
    assert not second.take("192.0.2.1")
    for _ in range(50):  # the first server is gone: nothing renews its hash
        await asyncio.sleep(0.1)
        await synced(second)
        if second.take("192.0.2.1"):
            break
    else:
        pytest.fail("the dead server's connections still count")


async def test_new_connections_per_address_are_counted_across_servers(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 a second (a burst of 10; 20 in a 10 s window): 10 on A and 11 on B use up the window on B and on A."""
    clock = FakeTime()
    monkeypatch.setattr(shared_connections, "time", clock)
    first, second = (SharedConnectionRate(1.0, REDIS_URL, redis_prefix) for _ in range(2))
    assert all(first.allow("192.0.2.1", 0.0) for _ in range(10))
    assert all(second.allow("192.0.2.1", 0.0) for _ in range(10))
    await synced(first, second)
    assert second.allow("192.0.2.1", 1.0)
    await synced(second)
    assert not second.allow("192.0.2.1", 100.0)  # a full bucket of its own, but the window is used up
    assert first.allow("192.0.2.1", 100.0)
    await synced(first)
    assert not first.allow("192.0.2.1", 200.0)
    clock.now += shared_connections.WINDOW
    await synced(first)
    assert first.allow("192.0.2.1", 300.0)


async def test_while_redis_is_away_limits_count_in_the_process(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable: requests are neither failed nor let through uncounted; each server counts alone, and
    says so once."""
    limits = RateLimits(storage_uri("redis://127.0.0.1:1/0"), key_prefix="unused:")
    with caplog.at_level(logging.WARNING, logger="checkin.shared"):
        await limits.hit(BURST, "198.51.100.1")
        await limits.hit(BURST, "198.51.100.1")
        with pytest.raises(RateLimited):
            await limits.hit(BURST, "198.51.100.1")
    said = [record.message.split(":")[0] for record in caplog.records if record.name == "checkin.shared"]
    assert said == ["redis unreachable (request limits)"]
