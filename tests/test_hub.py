"""The hub: coalescing bursts, latest-wins slots, slow subscribers, ticks, shutdown."""

from __future__ import annotations

import asyncio
import json

import pytest

from checkin.hub import Hub, Subscription


class Source:
    """A snapshot source over a plain counter; records how many snapshots were made."""

    def __init__(self) -> None:
        self.value = 0
        self.made = 0
        self.fail_next = False

    async def __call__(self, slug: str, seq: int) -> str:
        await asyncio.sleep(0)  # a real source awaits a database read
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database went away")
        self.made += 1
        return json.dumps({"event": slug, "seq": seq, "value": self.value})


async def receive(subscription: Subscription) -> dict[str, int]:
    return json.loads(await asyncio.wait_for(anext(subscription), 10))  # type: ignore[no-any-return]


async def until_value(subscription: Subscription, value: int) -> dict[str, int]:
    while (message := await receive(subscription))["value"] != value:
        pass
    return message


async def test_burst_of_changes_makes_few_snapshots_and_the_last_is_right() -> None:
    """A thousand changes in one go cost one more snapshot, which shows the final state."""
    source = Source()
    hub = Hub(source, interval=0.2, tick=60)
    async with hub.subscribe("sympo") as subscription:
        assert (await receive(subscription))["value"] == 0
        for _ in range(1000):
            source.value += 1
            hub.changed("sympo")
        assert (await receive(subscription))["value"] == 1000
    assert source.made == 2


async def test_changes_spread_over_time_are_coalesced() -> None:
    """Changes arriving faster than the interval are folded: far fewer snapshots than changes."""
    source = Source()
    hub = Hub(source, interval=0.2, tick=60)
    async with hub.subscribe("sympo") as subscription:
        for _ in range(1000):
            source.value += 1
            hub.changed("sympo")
            await asyncio.sleep(0)
        await until_value(subscription, 1000)
    assert source.made < 100


async def test_seq_increases_with_every_snapshot() -> None:
    """Each snapshot carries the next seq."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("sympo") as subscription:
        first = await receive(subscription)
        source.value = 1
        hub.changed("sympo")
        second = await until_value(subscription, 1)
    assert second["seq"] > first["seq"] >= 1


async def test_a_subscriber_that_never_reads_holds_back_nobody() -> None:
    """A stuck subscriber keeps only the newest message; the others and `changed` go on."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("sympo") as stuck, hub.subscribe("sympo") as reader:
        for value in range(1, 51):
            source.value = value
            hub.changed("sympo")
            await until_value(reader, value)
        assert (await receive(stuck))["value"] == 50  # the slot held the latest, not the first


async def test_a_new_subscriber_gets_the_current_snapshot_at_once() -> None:
    """Joining a followed event hands over the latest snapshot without computing another."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("sympo") as first:
        await receive(first)
        async with hub.subscribe("sympo") as second:
            assert (await receive(second))["value"] == 0
            assert hub.subscribers("sympo") == 2
    assert source.made == 1


async def test_unsubscribe_in_finally_stops_the_task() -> None:
    """Leaving (even by an error) unregisters; the last one out stops the event's task."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    with pytest.raises(ValueError):
        async with hub.subscribe("sympo") as subscription:
            await receive(subscription)
            raise ValueError("the socket broke")
    assert hub.subscribers("sympo") == 0
    hub.changed("sympo")  # nobody follows: nothing is computed
    await asyncio.sleep(0.05)
    assert source.made == 1


async def test_the_tick_refreshes_without_changes() -> None:
    """Without any change, a snapshot still comes every tick (kiosks going offline show)."""
    source = Source()
    hub = Hub(source, interval=0, tick=0.05)
    async with hub.subscribe("sympo") as subscription:
        first = await receive(subscription)
        assert (await receive(subscription))["seq"] > first["seq"]


async def test_a_failed_snapshot_does_not_end_the_live_view() -> None:
    """A snapshot that fails to compute is skipped; the next change is delivered."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("sympo") as subscription:
        await receive(subscription)
        source.fail_next = True
        hub.changed("sympo")
        await asyncio.sleep(0.05)
        source.value = 7
        hub.changed("sympo")
        assert (await receive(subscription))["value"] == 7


async def test_events_are_apart() -> None:
    """A change of one event wakes only its own subscribers."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("a") as a, hub.subscribe("b") as b:
        await receive(a)
        await receive(b)
        source.value = 3
        hub.changed("a")
        assert (await receive(a))["value"] == 3
        assert source.made == 3


async def test_close_ends_every_subscription() -> None:
    """Shutting down ends the subscribers' iteration so their sockets close; new subscriptions are refused."""
    source = Source()
    hub = Hub(source, interval=0, tick=60)
    async with hub.subscribe("sympo") as subscription:
        await receive(subscription)
        hub.close()
        assert [message async for message in subscription] == []
    with pytest.raises(RuntimeError):
        async with hub.subscribe("sympo"):
            pass


async def test_snapshot_without_a_source_is_an_error() -> None:
    """A hub that was never bound cannot make snapshots."""
    with pytest.raises(RuntimeError):
        await Hub().snapshot("sympo")
