"""The presence manager: identifying viewers, batched recording, restarts with open viewings."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from checkin import tickets
from checkin.errors import NotAViewer, Refusal, Refused
from checkin.hub import Hub
from checkin.models import Event, Mode
from checkin.presence import Identity
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage.pgsql import PgConnection, configure
from checkin.storage.registrants import cancel, register
from checkin.storage.viewing import (
    Owners,
    Server,
    dead_servers,
    gone_servers,
    heartbeat,
    online_figures,
    start_viewing,
    take_over,
    watch_summary,
)
from checkin.watching import MAX_CHANGES_PER_WRITE, Watching, identify
from checkin.writes import Writes
from tests.pg import fresh_database

pytestmark = pytest.mark.both_engines

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def registrant(db: Database, event: Event, email: str = "view@example.jp") -> tuple[int, str]:
    """A registered online registrant and their ticket code."""
    person = Application("視聴 花子", "シチョウ ハナコ", email, "", Mode.ONLINE)
    result = await db.write(register, event, person, T0)
    assert result.ticket is not None
    return result.registrant.id, result.ticket.code


@pytest.fixture
async def watching(settings: Settings, db: Database) -> AsyncIterator[tuple[Watching, Clock]]:
    clock = Clock()
    manager = Watching(replace(settings, watch_grace=10.0, watch_heartbeat=5.0), Writes(db, Hub()), clock)
    await manager.start()
    yield manager, clock
    await manager.stop()


async def refused(db: Database, event: Event, ticket: str | None = None, anon: str | None = None) -> str:
    with pytest.raises(NotAViewer) as exc:
        await identify(db, event, ticket, anon)
    return exc.value.code


async def test_identify_a_registrant_by_ticket(db: Database, event: Event) -> None:
    """A valid ticket of this event names its registrant."""
    registrant_id, code = await registrant(db, event)
    identity = await identify(db, event, code.lower(), None)
    assert identity == Identity.registrant(event.id, event.slug, registrant_id)


async def test_identify_refuses_bad_tickets_with_a_reason(db: Database, event: Event) -> None:
    """Garbage, a foreign event's code and an unknown code are refused, each with its reason."""
    assert await refused(db, event, ticket="hello") == "invalid"
    assert await refused(db, event, ticket=tickets.new_code("other")) == "wrong_event"
    assert await refused(db, event, ticket=tickets.new_code(event.slug)) == "unknown"


async def test_identify_refuses_a_cancelled_registrants_ticket(db: Database, event: Event) -> None:
    """A ticket revoked by cancellation no longer opens the stream."""
    registrant_id, code = await registrant(db, event)
    await db.write(cancel, event, registrant_id, T0, "test")
    assert await refused(db, event, ticket=code) == "revoked"


async def test_identify_anonymous_viewers_only_where_allowed(db: Database, event: Event) -> None:
    """Anonymous ids need an event that allows them and a sane id; no identity at all is refused."""
    assert (await identify(db, event, None, "a" * 32)).viewer_key == "anon:" + "a" * 32
    assert await refused(db, replace(event, anonymous_watch=False), anon="a" * 32) == "anonymous_not_allowed"
    assert await refused(db, event, anon="short") == "invalid"
    assert await refused(db, event, anon="x" * 65) == "invalid"
    assert await refused(db, event, anon="<script>alert(1)</script>....") == "invalid"
    assert await refused(db, event) == "no_viewer"


async def test_start_and_end_are_recorded_and_announced(
    watching: tuple[Watching, Clock], db: Database, event: Event
) -> None:
    """A viewing is written when it starts and when its grace is over; the hub's subscribers hear of both."""
    manager, clock = watching
    assert manager.writes.hub is not None
    hub = manager.writes.hub
    hub.bind(lambda slug, seq: db.read(lambda conn: f"{seq}:{online_figures(conn, event.id, clock.now).now}"))
    hub.tick = 3600.0  # every snapshot after the first is woken by a change
    viewer = Identity.anonymous(event.id, event.slug, "b" * 20)
    async with hub.subscribe(event.slug) as snapshots, asyncio.timeout(30):  # the timeout only guards a hang
        assert await anext(snapshots) == "1:0"
        connection = manager.connect(viewer)
        manager.state(connection, True)
        await manager.flush()
        assert await anext(snapshots) == "2:1"
        clock.now += 5
        manager.disconnect(connection)
        clock.now += 10
        await manager.flush()
        assert await anext(snapshots) == "3:0"
    figures = await db.read(online_figures, event.id, clock.now)
    assert (figures.now, figures.peak, figures.unique) == (0, 1, 1)


async def test_a_heartbeat_is_one_row_and_a_crash_closes_viewings_at_the_last_one(
    watching: tuple[Watching, Clock], settings: Settings, db: Database, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every heartbeat period: one write of one row, not one per viewer; after a crash the viewings end there."""
    manager, clock = watching
    for number in range(50):
        manager.state(manager.connect(Identity.anonymous(event.id, event.slug, f"{number:020d}")), True)
    await manager.flush()
    writes: list[Any] = []
    original = db.write

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        writes.append(fn)
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(db, "write", counting)
    clock.now += 6
    await manager.flush()
    clock.now += 1
    await manager.flush()
    assert len(writes) == 1
    beats = await db.read(
        lambda conn: conn.execute("SELECT COUNT(*), MAX(last_seen_at) FROM server_heartbeats").fetchone()
    )
    assert tuple(beats) == (1, T0 + 6)
    own = await db.read(lambda conn: conn.execute("SELECT MAX(last_seen_at) FROM viewing_intervals").fetchone())
    assert own[0] == T0  # no viewer's row was written
    # The server dies here (no stop); the next one starts ten minutes later.
    later = Clock()
    later.now = T0 + 600
    second = Watching(replace(settings, watch_grace=10.0), Writes(db, Hub()), later)
    await second.start()
    await second.stop()
    figures = await db.read(online_figures, event.id, later.now)
    assert (figures.now, figures.peak, figures.peak_at, figures.unique) == (0, 50, T0, 50)
    ended = await db.read(lambda conn: conn.execute("SELECT DISTINCT ended_at FROM viewing_intervals").fetchall())
    assert [row[0] for row in ended] == [T0 + 6]


async def test_server_full_refuses_new_connections(settings: Settings, db: Database, event: Event) -> None:
    """Past the server's cap on watch connections, a new one is refused."""
    manager = Watching(replace(settings, watch_max_connections=1), Writes(db, Hub()), Clock())
    manager.connect(Identity.anonymous(event.id, event.slug, "c" * 20))
    with pytest.raises(Refused) as exc:
        manager.connect(Identity.anonymous(event.id, event.slug, "d" * 20))
    assert exc.value.reason is Refusal.SERVER_FULL


async def test_restart_closes_stale_viewings_at_their_last_sign_of_life(
    settings: Settings, db: Database, event: Event
) -> None:
    """Viewings a crash left open are closed at their last_seen_at; the peak they made survives."""
    registrant_id, _code = await registrant(db, event)
    await db.write(start_viewing, event.id, f"reg:{registrant_id}", registrant_id, T0)
    await db.write(start_viewing, event.id, "anon:" + "e" * 20, None, T0 + 10)
    await db.write(_set_last_seen, T0 + 40)
    clock = Clock()
    clock.now = T0 + 600
    manager = Watching(replace(settings, watch_grace=10.0), Writes(db, Hub()), clock)
    await manager.start()
    await manager.stop()
    figures = await db.read(online_figures, event.id, clock.now)
    assert (figures.now, figures.peak, figures.peak_at, figures.unique) == (0, 2, T0 + 10, 2)
    assert (await db.read(watch_summary, event.id))[registrant_id].seconds == 40


async def test_quick_restart_continues_the_viewing_of_a_returning_viewer(
    settings: Settings, db: Database, event: Event
) -> None:
    """After a clean stop, a viewer back within the grace keeps one interval; one who stays away is closed."""
    clock = Clock()
    config = replace(settings, watch_grace=10.0)
    first = Watching(config, Writes(db, Hub()), clock)
    await first.start()
    staying = Identity.anonymous(event.id, event.slug, "f" * 20)
    leaving = Identity.anonymous(event.id, event.slug, "g" * 20)
    connections = [first.connect(staying), first.connect(leaving)]
    for connection in connections:
        first.state(connection, True)
    clock.now += 100
    for connection in connections:
        first.disconnect(connection)
    await first.stop()
    clock.now += 3
    second = Watching(config, Writes(db, Hub()), clock)
    await second.start()
    second.state(second.connect(staying), True)
    clock.now += 20
    await second.flush()
    rows = await db.read(lambda conn: conn.execute("SELECT viewer_key, ended_at FROM viewing_intervals").fetchall())
    await second.stop()
    assert sorted((row[0], row[1]) for row in rows) == [(staying.viewer_key, None), (leaving.viewer_key, T0 + 100)]


async def test_failed_write_keeps_the_changes_for_the_next_sweep(
    watching: tuple[Watching, Clock], db: Database, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database refuses a write, the viewing changes are written by the next sweep, in order."""
    manager, clock = watching
    original = db.write
    disk = {"full": True}

    async def flaky(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if disk["full"]:
            raise OSError("disk full")
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(db, "write", flaky)
    manager.state(manager.connect(Identity.anonymous(event.id, event.slug, "h" * 20)), True)
    await manager.flush()
    assert (await db.read(online_figures, event.id, clock.now)).now == 0
    disk["full"] = False
    await manager.flush()
    assert (await db.read(online_figures, event.id, clock.now)).now == 1


def _set_last_seen(conn: Any, at: float) -> None:
    conn.execute("UPDATE viewing_intervals SET last_seen_at = ?", (at,))


def test_dead_servers_are_silent_ones_or_gone_processes_of_this_host() -> None:
    """Another host's server is dead once its heartbeat is stale; one of this host as soon as its pid is gone."""
    me = Server("me", "here", os.getpid(), T0)
    child = subprocess.Popen(["true"])
    child.wait()
    rows = [
        me,
        Server("fresh-elsewhere", "there", 1, T0, T0 + 99),
        Server("stale-elsewhere", "there", 1, T0, T0 + 84),
        Server("alive-here", "here", os.getppid(), T0, T0 + 99),
        Server("gone-here", "here", child.pid, T0, T0 + 99),
    ]
    assert dead_servers(rows, me, T0 + 100, stale=15.0) == {"stale-elsewhere", "gone-here"}
    # With Redis: a silent server that still renews its liveness there is busy, not dead; a gone process is gone.
    alive = {"stale-elsewhere", "gone-here"}
    assert dead_servers(rows, me, T0 + 100, stale=15.0, alive=alive) == {"gone-here"}
    assert dead_servers(rows, me, T0 + 100, stale=15.0, alive=set()) == {"stale-elsewhere", "gone-here"}


def test_heartless_owners_are_gone_unless_redis_knows_them_alive() -> None:
    """Open viewings whose server has no heartbeat row are taken over, except a server alive in Redis (taken for
    dead by mistake, it writes its row again at its next beat) and this server itself."""
    me = Server("me", "here", os.getpid(), T0, T0 + 99)
    found = Owners([me], frozenset({"me", "gone", "busy"}))
    assert gone_servers(found, me, T0 + 100, 15.0) == {"gone", "busy"}
    assert gone_servers(found, me, T0 + 100, 15.0, alive={"me", "busy"}) == {"gone"}


async def test_a_server_taken_for_dead_counts_its_viewers_again(
    watching: tuple[Watching, Clock], db: Database, event: Event
) -> None:
    """Another server found this one's heartbeat late and closed its viewings: at its next beat this server finds
    its row gone and records every viewer it still counts again."""
    manager, clock = watching
    for number in range(3):
        manager.state(manager.connect(Identity.anonymous(event.id, event.slug, f"{number:020d}")), True)
    await manager.flush()
    assert (await db.read(online_figures, event.id, clock.now)).now == 3
    mine = {manager.server.server_id}
    await db.write(take_over, "another", mine, clock.now + 30, 10.0, ownerless=False)  # late by 30 s: closed
    assert (await db.read(online_figures, event.id, clock.now)).now == 0
    clock.now += 5  # this server's next beat
    await manager.flush()
    await manager.flush()
    assert (await db.read(online_figures, event.id, clock.now)).now == 3
    beats = await db.read(lambda conn: conn.execute("SELECT server_id FROM server_heartbeats").fetchall())
    assert [row[0] for row in beats] == [manager.server.server_id]


def test_heartbeats_of_several_servers_never_conflict() -> None:
    """Two servers beat in overlapping SERIALIZABLE transactions, as their writers do: both commit. A beat reads
    no other server's row (who is gone was read before, on its own), so PostgreSQL sees no write skew to refuse."""
    with fresh_database() as url:
        connections = [psycopg.connect(url, autocommit=True) for _ in range(2)]
        try:
            me = [Server(name, "here", 1, T0, T0) for name in ("one", "two")]
            for conn, server in zip(connections, me, strict=True):
                configure(conn)
                heartbeat(PgConnection(conn), server, T0, 10.0, (), starting=True)
            for conn in connections:
                conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            beats = [
                heartbeat(PgConnection(conn), server, T0 + 5, 10.0, ())
                for conn, server in zip(connections, me, strict=True)
            ]
            for conn in connections:
                conn.execute("COMMIT")
            assert [beat.revived for beat in beats] == [False, False]
        finally:
            for conn in connections:
                conn.close()


async def test_a_running_server_takes_over_the_viewings_of_one_that_went_silent(
    settings: Settings, db: Database, event: Event
) -> None:
    """Two servers on one database: when one stops beating, the other closes its viewings at its last beat."""
    clock = Clock()
    config = replace(settings, watch_grace=10.0)
    first, second = Watching(config, Writes(db, Hub()), clock), Watching(config, Writes(db, Hub()), clock)
    first.server = replace(first.server, host="elsewhere")
    await first.start()
    await second.start()
    first.state(first.connect(Identity.anonymous(event.id, event.slug, "m" * 20)), True)
    await first.flush()
    clock.now += 6
    await first.flush()
    assert first._task is not None
    first._task.cancel()  # the first server dies: it never beats again
    for _ in range(6):
        clock.now += 5
        await second.flush()
    await second.stop()
    rows = await db.read(lambda conn: conn.execute("SELECT ended_at FROM viewing_intervals").fetchall())
    assert [row[0] for row in rows] == [T0 + 6]
    beats = await db.read(lambda conn: conn.execute("SELECT server_id FROM server_heartbeats").fetchall())
    assert [row[0] for row in beats] == []


async def test_a_backlog_of_changes_is_written_in_bounded_steps_in_order(
    watching: tuple[Watching, Clock], db: Database, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A join storm's backlog goes to the database (and Redis) a bounded batch at a time, every change once."""
    manager, clock = watching
    sizes = count_writes(manager, monkeypatch)
    viewers = 2 * MAX_CHANGES_PER_WRITE + 7
    for number in range(viewers):
        manager.state(manager.connect(Identity.anonymous(event.id, event.slug, f"{number:020d}")), True)
    await written(manager)
    assert max(sizes) == MAX_CHANGES_PER_WRITE and sum(sizes) == viewers
    assert (await db.read(online_figures, event.id, clock.now)).now == viewers


async def written(manager: Watching) -> None:
    """Flush until nothing is pending, and until a write the manager's own task may have begun is done."""
    while manager._pending:
        await manager.flush()
    async with manager._writing:
        pass


def count_writes(manager: Watching, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of viewer changes in each write the manager makes from now on."""
    sizes: list[int] = []
    change = manager.writes.change

    async def counted(slugs: Any, fn: Any, steps: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(steps))
        return await change(slugs, fn, steps, *args, **kwargs)

    monkeypatch.setattr(manager.writes, "change", counted)
    return sizes


async def test_viewers_whose_grace_ends_at_once_leave_in_bounded_steps(
    watching: tuple[Watching, Clock], db: Database, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of viewers gone together (their server died, a network cut) end in bounded writes, all of them."""
    manager, clock = watching
    viewers = 2 * MAX_CHANGES_PER_WRITE + 3
    connections = [
        manager.connect(Identity.anonymous(event.id, event.slug, f"{number:020d}")) for number in range(viewers)
    ]
    for connection in connections:
        manager.state(connection, True)
    await written(manager)
    for connection in connections:
        manager.disconnect(connection)
    await manager.flush()  # nothing ends yet: all inside their grace
    assert (await db.read(online_figures, event.id, clock.now)).now == viewers
    sizes = count_writes(manager, monkeypatch)
    clock.now += 11
    await manager.flush()
    await written(manager)
    assert sizes and max(sizes) == MAX_CHANGES_PER_WRITE and sum(sizes) == viewers
    assert (await db.read(online_figures, event.id, clock.now)).now == 0


async def test_a_stopping_server_writes_its_whole_backlog(
    settings: Settings, db: Database, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean stop in the middle of a join storm records every viewing that began, in bounded writes."""
    clock = Clock()
    manager = Watching(replace(settings, watch_grace=10.0, watch_heartbeat=5.0), Writes(db, Hub()), clock)
    await manager.start()
    sizes = count_writes(manager, monkeypatch)
    viewers = 2 * MAX_CHANGES_PER_WRITE + 5
    for number in range(viewers):
        manager.state(manager.connect(Identity.anonymous(event.id, event.slug, f"{number:020d}")), True)
    await manager.stop()
    assert max(sizes) == MAX_CHANGES_PER_WRITE and sum(sizes) == viewers
    row = await db.read(
        lambda conn: conn.execute("SELECT COUNT(*), MIN(last_seen_at) FROM viewing_intervals").fetchone()
    )
    assert tuple(row) == (viewers, T0)
