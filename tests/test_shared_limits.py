"""Limits shared through Redis: request counts and connection caps hold across servers."""

from __future__ import annotations

import pytest

from checkin.errors import RateLimited
from checkin.ratelimit import RateLimits, storage_uri
from tests.shared_redis import REDIS_URL, keys_under, redis_prefix
from tests.test_ratelimit import BURST, FakeTime

__all__ = ["redis_prefix"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("limits.aio.storage.redis.redispy.time", fake)
    monkeypatch.setattr("limits.aio.strategies.time", fake)
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
