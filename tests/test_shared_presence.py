"""Viewer presence across servers sharing one Redis: a person counts once, whichever servers their tabs are on."""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from checkin.hub import Hub
from checkin.models import Event
from checkin.presence import Identity
from checkin.settings import Settings
from checkin.shared.link import RedisLink
from checkin.shared.presence import SharedViewers
from checkin.storage import Database
from checkin.storage.viewing import Server, heartbeat, online_figures, start_viewing
from checkin.watching import Watching
from checkin.writes import Writes
from tests.shared_redis import REDIS_URL, delete_keys, redis_prefix
from tests.test_watching import T0, Clock

__all__ = ["redis_prefix"]
GRACE = 10.0


@contextlib.asynccontextmanager
async def servers(
    settings: Settings, db: Database, prefix: str, clock: Clock, count: int = 2
) -> AsyncIterator[list[Watching]]:
    """`count` servers on one database and one Redis prefix, each on its own host (so none looks dead to another)."""
    made = []
    for number in range(count):
        link = RedisLink(REDIS_URL, prefix)
        await link.start()
        manager = Watching(replace(settings, watch_grace=GRACE), Writes(db, Hub()), clock, SharedViewers(link))
        manager.server = replace(manager.server, host=f"host-{number}")
        await manager.start()
        made.append(manager)
    try:
        yield made
    finally:
        for manager in made:
            await manager.stop()
            assert manager.shared is not None
            await manager.shared.link.stop()


async def figures(db: Database, event: Event, clock: Clock) -> tuple[int, int, int]:
    """now, peak and unique of the event's online viewers, from the database."""
    online = await db.read(online_figures, event.id, clock.now)
    return online.now, online.peak, online.unique


async def intervals(db: Database) -> list[tuple[float, float | None, str]]:
    sql = "SELECT started_at, ended_at, server_id FROM viewing_intervals ORDER BY id"
    rows = await db.read(lambda conn: conn.execute(sql).fetchall())
    return [tuple(row) for row in rows]


async def flush(*managers: Watching) -> None:
    for manager in managers:
        await manager.flush()


async def test_tabs_on_two_servers_count_once_and_closing_one_changes_nothing(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """One person watching on servers A and B is one viewer; closing B's tab leaves the viewing open; closing
    A's too ends it after the grace, at A's last moment — one interval in all."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "p" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        tab_a, tab_b = first.connect(person), second.connect(person)
        first.state(tab_a, True)
        second.state(tab_b, True)
        await flush(first, second)
        assert await figures(db, event, clock) == (1, 1, 1)
        clock.now += 5
        second.disconnect(tab_b)
        clock.now += GRACE + 1
        await flush(first, second)
        assert await figures(db, event, clock) == (1, 1, 1)
        clock.now += 5
        first.disconnect(tab_a)
        left = clock.now
        clock.now += GRACE + 1
        await flush(first, second)
        assert await figures(db, event, clock) == (0, 1, 1)
    assert [(start, end) for start, end, _ in await intervals(db)] == [(T0, left)]


async def test_moving_from_one_server_to_another_within_the_grace_continues_the_viewing(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A tab closed on A and reopened on B a moment later: one viewing, which ends only when B's does."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "q" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        tab_a = first.connect(person)
        first.state(tab_a, True)
        await flush(first)
        clock.now += 5
        first.disconnect(tab_a)
        clock.now += 2
        second.state(second.connect(person), True)
        await flush(first, second)
        clock.now += GRACE + 1
        await flush(first, second)  # A's grace is over; B still counts the person
        assert await figures(db, event, clock) == (1, 1, 1)
    rows = await intervals(db)
    assert len(rows) == 1 and rows[0][1] is None and rows[0][2] == second.server.server_id


async def test_a_dead_servers_viewer_that_another_server_counts_stays_counted(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A dies while B still shows the person: B takes the viewing over instead of closing it at A's last beat."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "r" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        first.state(first.connect(person), True)
        await flush(first)
        second.state(second.connect(person), True)
        await flush(second)
        assert (await intervals(db))[0][2] == first.server.server_id
        assert first.shared is not None and first._task is not None
        first._task.cancel()  # A dies: no more beats, in the database or in Redis
        await first.shared.link.client.delete(first.shared.link.alive_key)
        for _ in range(6):
            clock.now += 5
            await flush(second)
        assert await figures(db, event, clock) == (1, 1, 1)
        rows = await intervals(db)
        assert len(rows) == 1 and rows[0][1] is None and rows[0][2] == second.server.server_id


async def test_a_viewer_whose_joined_viewing_a_take_over_closed_is_counted_again(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A is killed while the person watches there; they come back on B, which joins A's viewing (Redis still
    names A). A third server finds A dead and, having asked Redis just before B's join reached it, closes the
    viewing at A's last sign of life: B's next beat finds the person it counts without a viewing and opens one."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "j" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        first.state(first.connect(person), True)
        await flush(first)
        assert first._task is not None
        first._task.cancel()  # A is killed: no more beats; its key in Redis stays for now
        second.state(second.connect(person), True)
        await flush(second)
        assert [(end, owner) for _, end, owner in await intervals(db)] == [(None, first.server.server_id)]
        third = Server("third", "host-3", 1, T0)
        clock.now += GRACE + 1
        await db.write(heartbeat, third, clock.now, GRACE, {first.server.server_id})  # no hand-over: closed
        assert (await figures(db, event, clock))[0] == 0
        clock.now += 5
        await flush(second)  # its beat
        assert await figures(db, event, clock) == (1, 1, 1)
        rows = await intervals(db)
        assert len(rows) == 2 and rows[1][1] is None and rows[1][2] == second.server.server_id


async def test_a_killed_servers_viewers_are_never_handed_back_to_it(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A is killed (its process gone, its Redis liveness key not yet expired): B adopts A's viewer and, when the
    grace ends, closes the viewing; it is not handed back to A for as long as A's key would have lived."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "k" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        first.state(first.connect(person), True)
        await flush(first)
        clock.now += 5
        await flush(first, second)  # both beat
        assert first._task is not None
        first._task.cancel()  # A is killed: no more beats; its key in Redis stays for now
        child = subprocess.Popen(["true"])
        child.wait()
        await db.write(
            lambda conn: conn.execute(
                "UPDATE server_heartbeats SET host = ?, pid = ? WHERE server_id = ?",
                (second.server.host, child.pid, first.server.server_id),
            )
        )
        for _ in range(2 + int(GRACE) // 5):
            clock.now += 5
            await flush(second)
        assert await figures(db, event, clock) == (0, 1, 1)
        rows = await intervals(db)
        assert len(rows) == 1 and rows[0][1] is not None


async def test_the_anonymous_cap_per_address_counts_every_server(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """Cap 2 per address: two anonymous viewers on A fill it for B as well; one of them may still join B."""
    clock = Clock()

    def viewer(letter: str) -> Identity:
        return replace(Identity.anonymous(event.id, event.slug, letter * 20), address="198.51.100.7")

    async with servers(settings, db, redis_prefix, clock) as (first, second):
        for letter in "ab":
            assert await first.admits_anonymous(viewer(letter), 2)
            first.state(first.connect(viewer(letter)), True)
        await flush(first)
        assert not await second.admits_anonymous(viewer("c"), 2)
        assert await second.admits_anonymous(viewer("a"), 2)
        assert await second.admits_anonymous(replace(viewer("c"), address="198.51.100.8"), 2)
        assert not await first.admits_anonymous(viewer("d"), 2)
        assert await first.refused_anonymous(event.id) == await second.refused_anonymous(event.id) == 2


async def test_after_redis_lost_everything_the_servers_put_their_viewers_back(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """Redis flushed while a person watches on A and B: the next beat puts both back, so A leaving later
    hands the viewing to B instead of ending it."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "s" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        tab_a = first.connect(person)
        first.state(tab_a, True)
        await flush(first)
        second.state(second.connect(person), True)
        await flush(second)
        delete_keys(redis_prefix)  # FLUSHALL, or a restart without persistence
        for manager in (first, second):
            assert manager.shared is not None
            assert not await manager.shared.link.beat_once()
        first.disconnect(tab_a)
        clock.now += GRACE + 1
        await flush(first, second)
        assert await figures(db, event, clock) == (1, 1, 1)


async def test_a_viewing_a_server_owns_without_counting_its_viewer_is_handed_on_or_ended(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A hand-over that crossed another server's end leaves B owning a viewing it does not count: B's next beat
    hands it to the server that counts the viewer, or ends it when none does."""
    clock = Clock()
    counted = Identity.anonymous(event.id, event.slug, "t" * 20)
    nobody = Identity.anonymous(event.id, event.slug, "u" * 20)
    async with servers(settings, db, redis_prefix, clock) as (first, second):
        first.state(first.connect(counted), True)
        await flush(first)
        for identity in (counted, nobody):
            await db.write(start_viewing, identity.event_id, identity.viewer_key, None, T0, second.server.server_id)
        clock.now += 6
        await flush(second)
        expected = [(None, first.server.server_id), (clock.now, second.server.server_id)]
        assert [(end, owner) for _, end, owner in await intervals(db)] == expected


async def test_a_server_stopped_cleanly_leaves_its_viewings_to_the_server_that_counts_them(
    settings: Settings, db: Database, event: Event, redis_prefix: str
) -> None:
    """A opened the viewing, B shows it too; A stops: B's next beat takes the viewing, and B ends it later."""
    clock = Clock()
    person = Identity.anonymous(event.id, event.slug, "v" * 20)
    async with servers(settings, db, redis_prefix, clock, count=3) as (first, second, _third):
        first.state(first.connect(person), True)
        await flush(first)
        tab = second.connect(person)
        second.state(tab, True)
        await flush(second)
        await first.stop()
        assert first.shared is not None
        await first.shared.link.client.delete(first.shared.link.alive_key)
        clock.now += 6
        await flush(second)
        assert [(end, owner) for _, end, owner in await intervals(db)] == [(None, second.server.server_id)]
        second.disconnect(tab)
        left = clock.now
        clock.now += GRACE + 1
        await flush(second)
        assert [end for _, end, _ in await intervals(db)] == [left]


async def test_while_redis_is_away_changes_wait_the_heartbeat_goes_on_and_the_outage_is_logged_once(
    settings: Settings,
    db: Database,
    event: Event,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis refuses twice: the start waits (nothing is written that Redis has not settled), the server's
    heartbeat is still written, one warning is logged; once Redis answers, the start is recorded."""
    clock = Clock()
    async with servers(settings, db, redis_prefix, clock, count=1) as (manager,):
        assert manager.shared is not None and manager._task is not None
        manager._task.cancel()  # this test flushes by itself
        settle = manager.shared.settle
        failures = 2

        async def flaky(changes: Any) -> Any:
            nonlocal failures
            if failures:
                failures -= 1
                raise redis.exceptions.ConnectionError("connection refused")
            return await settle(changes)

        monkeypatch.setattr(manager.shared, "settle", flaky)
        manager.state(manager.connect(Identity.anonymous(event.id, event.slug, "x" * 20)), True)
        with caplog.at_level(logging.WARNING, logger="checkin.shared"):
            clock.now += 6  # a heartbeat is due
            await flush(manager)
            beats = await db.read(
                lambda conn: conn.execute("SELECT MAX(last_seen_at) FROM server_heartbeats").fetchone()
            )
            assert beats[0] == clock.now
            assert await figures(db, event, clock) == (0, 0, 0)
            await flush(manager)
            assert await figures(db, event, clock) == (0, 0, 0)
            await flush(manager)
            assert await figures(db, event, clock) == (1, 1, 1)
        assert [record.message.split(":")[0] for record in caplog.records] == [
            "redis unreachable (viewer presence)",
            "redis reachable again (viewer presence)",
        ]
