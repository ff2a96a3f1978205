"""The hub shared through Redis: changes on one server reach dashboards on another, coalesced per event."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from limits.storage import MemoryStorage

from checkin.hub import Hub
from checkin.services import build
from checkin.settings import Settings
from checkin.shared.hub import SharedHub
from checkin.shared.link import RedisLink
from tests.shared_redis import REDIS_URL, redis_prefix
from tests.test_hub import Source, receive, until_value

__all__ = ["redis_prefix"]


@contextlib.asynccontextmanager
async def hubs(prefix: str, source: Source, count: int = 2, url: str = REDIS_URL) -> AsyncIterator[list[SharedHub]]:
    """`count` servers' hubs on one Redis prefix, all making snapshots from the same source."""
    made = [SharedHub(RedisLink(url, prefix), source, interval=0.2, tick=60) for _ in range(count)]
    for hub in made:
        await hub.link.start()
        await hub.start()
    await asyncio.sleep(0.2)  # the listeners have subscribed
    try:
        yield made
    finally:
        for hub in made:
            hub.close()
            await hub.link.stop()


async def test_a_change_on_one_server_reaches_a_dashboard_on_another(redis_prefix: str) -> None:
    """A dashboard on server B sees what changed on server A, without B being told directly."""
    source = Source()
    async with hubs(redis_prefix, source) as (first, second), second.subscribe("sympo") as subscription:
        assert (await receive(subscription))["value"] == 0
        source.value = 7
        first.changed("sympo")
        assert (await until_value(subscription, 7))["value"] == 7


async def test_a_burst_across_servers_is_coalesced_per_event_and_every_dashboard_sees_the_same(
    redis_prefix: str,
) -> None:
    """A thousand changes spread over three servers with dashboards: a handful of snapshots in all, and the
    dashboards on every server get the same final snapshot (same seq)."""
    source = Source()
    async with hubs(redis_prefix, source, 3) as servers, contextlib.AsyncExitStack() as stack:
        subscriptions = [await stack.enter_async_context(hub.subscribe("sympo")) for hub in servers]
        for subscription in subscriptions:
            await receive(subscription)
        await asyncio.sleep(0.5)
        before = source.made
        for number in range(1000):
            source.value += 1
            servers[number % 3].changed("sympo")
        finals = [await until_value(subscription, 1000) for subscription in subscriptions]
        await asyncio.sleep(0.5)
    assert len({json.dumps(final, sort_keys=True) for final in finals}) == 1
    assert source.made - before <= 3


async def test_snapshot_numbers_are_shared(redis_prefix: str) -> None:
    """Snapshots made on different servers carry one increasing sequence, not one per server."""
    source = Source()
    async with hubs(redis_prefix, source) as (first, second):
        seqs = [json.loads(await hub.snapshot("sympo"))["seq"] for hub in (first, second, first, second)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4


async def test_without_redis_each_server_still_serves_its_own_dashboards() -> None:
    """Redis unreachable: the hub makes its own snapshots, as the in-process one does."""
    source = Source()
    async with hubs("unused:", source, 1, url="redis://127.0.0.1:1/0") as (hub,), hub.subscribe("sympo") as sub:
        assert (await receive(sub))["value"] == 0
        source.value = 3
        hub.changed("sympo")
        assert (await until_value(sub, 3))["value"] == 3


def test_the_redis_url_setting_chooses_the_shared_hub_and_limits(tmp_path: Path, redis_prefix: str) -> None:
    """CHECKIN_REDIS_URL set: the server's hub and limits are the shared ones; unset: the in-process ones."""
    env = {"CHECKIN_DB": str(tmp_path / "checkin.db"), "CHECKIN_REDIS_PREFIX": redis_prefix}
    assert type(build(Settings.from_env(env)).hub) is Hub
    shared = build(Settings.from_env({**env, "CHECKIN_REDIS_URL": REDIS_URL}))
    assert isinstance(shared.hub, SharedHub) and shared.link is not None and shared.link.prefix == redis_prefix
    assert not isinstance(shared.limits.storage, MemoryStorage)
    with pytest.raises(ValueError, match="CHECKIN_REDIS_URL"):
        Settings.from_env({**env, "CHECKIN_REDIS_URL": "http://127.0.0.1:6379"})
