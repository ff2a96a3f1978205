"""The snapshot's counts read back from the database over mixed sequences of what happens on the day."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from checkin.errors import EventNotFound
from checkin.models import Event, Mode, parse_iso
from checkin.scans import Heartbeat
from checkin.settings import Settings
from checkin.stats import LATEST_CHECKINS, KioskCounts, snapshot, total_attended
from checkin.storage import Database, kiosks, schema
from checkin.storage.db import connect
from checkin.storage.events import create_event
from checkin.storage.registrants import cancel
from checkin.storage.schema import migrate
from checkin.storage.stats import OnlineMemo, no_shows, snapshot_counts
from checkin.storage.viewing import end_viewing, online_figures, start_viewing
from tests.attendance_rows import add_kiosk, add_registrant, check_in, leave, scan, undo_check_in

pytestmark = pytest.mark.both_engines

T0 = parse_iso("2023-11-27T13:00:00+09:00")


async def registrants(db: Database, event: Event, count: int, mode: Mode = Mode.VENUE, first: int = 0) -> list[int]:
    return [await db.write(add_registrant, event, first + n, mode, T0) for n in range(count)]


async def test_registered_counts_venue_seats_only(db: Database, event: Event) -> None:
    """venue.registered: registered venue registrants; online, waitlisted and cancelled are not."""
    venue = await registrants(db, event, 3)
    await registrants(db, event, 2, Mode.ONLINE, first=10)
    await db.write(cancel, event, venue[0], T0, "test")
    counts = await db.read(snapshot_counts, event.slug, T0)
    assert (counts.capacity, counts.registered) == (50, 2)


async def test_check_ins_undo_and_exits(db: Database, event: Event) -> None:
    """checked_in counts standing check-ins once each; an undo removes one; in_hall subtracts exits."""
    people = await registrants(db, event, 4)
    for n, person in enumerate(people):
        await db.write(check_in, event, person, T0 + n)
    await db.write(undo_check_in, event, people[0], T0 + 10)
    await db.write(leave, event, people[1], T0 + 60)
    await db.write(leave, event, people[2], T0 + 61)
    await db.write(scan, event, people[2], T0 + 62)  # back in
    counts = await db.read(snapshot_counts, event.slug, T0 + 100)
    assert (counts.checked_in, counts.in_hall) == (3, 2)
    assert total_attended(counts) == 3


async def test_viewers_with_several_tabs_and_the_hall_count_once(db: Database, event: Event) -> None:
    """Three tabs of one person are one viewer; a checked-in person who also watched is one attendee."""
    hall = await registrants(db, event, 2)
    online = await registrants(db, event, 2, Mode.ONLINE, first=10)
    await db.write(check_in, event, hall[0], T0)
    await db.write(check_in, event, hall[1], T0)
    for _tab in range(3):
        await db.write(start_viewing, event.id, f"reg:{online[0]}", online[0], T0 + 5)
    await db.write(start_viewing, event.id, f"reg:{hall[0]}", hall[0], T0 + 10)
    await db.write(start_viewing, event.id, f"reg:{online[1]}", online[1], T0 + 10)
    await db.write(end_viewing, event.id, f"reg:{online[1]}", T0 + 20)
    await db.write(start_viewing, event.id, "anon:a", None, T0 + 10)
    await db.write(start_viewing, event.id, "anon:a", None, T0 + 11)
    await db.write(start_viewing, event.id, "anon:b", None, T0 + 12)
    counts = await db.read(snapshot_counts, event.slug, T0 + 30)
    assert (counts.online.now, counts.online.unique) == (4, 5)
    assert counts.watched_and_checked_in == 1
    # the hall's 2, online[0] and online[1] (hall[0] already counted), and the two anonymous viewers
    assert total_attended(counts) == 2 + 2 + 2


async def test_an_undone_check_in_who_watched_counts_as_online(db: Database, event: Event) -> None:
    """After an undo, someone who watched still attends, once, as an online viewer."""
    [person] = await registrants(db, event, 1)
    await db.write(check_in, event, person, T0)
    await db.write(start_viewing, event.id, f"reg:{person}", person, T0)
    await db.write(undo_check_in, event, person, T0 + 10)
    counts = await db.read(snapshot_counts, event.slug, T0 + 30)
    assert (counts.checked_in, counts.watched_and_checked_in, total_attended(counts)) == (0, 0, 1)


async def test_arrivals_are_counted_per_five_minutes(db: Database, event: Event) -> None:
    """Each check-in falls in the 5-minute bucket of its first entry; undone ones vanish."""
    people = await registrants(db, event, 4)
    for person, offset in zip(people, (0, 299, 300, 900), strict=True):
        await db.write(check_in, event, person, T0 + offset)
    await db.write(undo_check_in, event, people[3], T0 + 1000)
    counts = await db.read(snapshot_counts, event.slug, T0 + 1000)
    assert counts.arrivals == ((T0, 2), (T0 + 300, 1))


async def test_kiosks_with_their_scans_and_heartbeats(db: Database, event: Event) -> None:
    """Each live kiosk with its own scan count (failures too), queue and last scan; revoked kiosks are not shown."""
    people = await registrants(db, event, 2)
    first = await db.write(add_kiosk, event, "受付1", T0 + 50, 3)
    await db.write(add_kiosk, event, "受付2", T0 - 600)
    gone = await db.write(add_kiosk, event, "受付3", T0)
    for n, person in enumerate([people[0], people[0], people[1]]):
        await db.write(scan, event, person, T0 + n, first)
    await db.write(lambda conn: conn.execute("UPDATE kiosks SET revoked_at = ? WHERE name = ?", (T0, gone.name)))
    message = snapshot(await db.read(snapshot_counts, event.slug, T0 + 60), 1)
    assert [(k["name"], k["online"], k["scans"], k["queue_length"]) for k in message["kiosks"]] == [
        ("受付1", True, 3, 3),
        ("受付2", False, 0, 0),
    ]
    assert message["kiosks"][0]["last_scan_at"] == "2023-11-27T13:00:02+09:00"
    assert message["kiosks"][1]["last_scan_at"] is None


async def test_a_kiosks_reported_last_scan_counts_when_later(db: Database, event: Event) -> None:
    """A scan still in the kiosk's offline queue shows as its last scan (the heartbeat reports it)."""
    [person] = await registrants(db, event, 1)
    caller = await db.write(add_kiosk, event, "受付1", T0)
    await db.write(scan, event, person, T0 + 1, caller)
    assert caller.kiosk_token_id is not None
    beat = Heartbeat(queue_length=1, last_scan_at=T0 + 30)
    await db.write(kiosks.heartbeat, event.id, caller.kiosk_token_id, caller.name, beat, T0 + 31)
    [kiosk] = (await db.read(snapshot_counts, event.slug, T0 + 40)).kiosks
    assert (kiosk.scans, kiosk.queue_length, kiosk.last_scan_at) == (1, 1, T0 + 30)


async def test_latest_check_ins_newest_first(db: Database, event: Event) -> None:
    """The organisers' list: the newest check-ins first, at most LATEST_CHECKINS."""
    people = await registrants(db, event, LATEST_CHECKINS + 2)
    for n, person in enumerate(people):
        await db.write(check_in, event, person, T0 + n, "受付2")
    latest = (await db.read(snapshot_counts, event.slug, T0 + 100)).latest
    assert len(latest) == LATEST_CHECKINS
    assert latest[0].at == T0 + len(people) - 1
    assert (latest[0].name, latest[0].kiosk) == (f"参加 {len(people) - 1}", "受付2")


async def test_another_events_rows_never_show(db: Database, event: Event) -> None:
    """Check-ins, kiosks and viewers of one event stay out of another's snapshot."""
    other = await db.write(create_event, replace(event, slug="other"), T0)
    [person] = await registrants(db, other, 1)
    await db.write(check_in, other, person, T0)
    await db.write(add_kiosk, other, "受付1", T0)
    await db.write(start_viewing, other.id, "anon:x", None, T0)
    counts = await db.read(snapshot_counts, event.slug, T0 + 1)
    assert (counts.registered, counts.checked_in, counts.kiosks, counts.online.unique) == (0, 0, (), 0)


async def test_unknown_event_is_refused(db: Database) -> None:
    """A snapshot of an event that does not exist raises EventNotFound."""
    with pytest.raises(EventNotFound):
        await db.read(snapshot_counts, "nope", T0)


async def test_no_shows_are_registered_venue_people_never_checked_in(db: Database, event: Event) -> None:
    """No-shows: venue registrants without a check-in (online and cancelled ones are not), flagged if they watched."""
    venue = await registrants(db, event, 4)
    await registrants(db, event, 1, Mode.ONLINE, first=10)
    await db.write(check_in, event, venue[0], T0)
    await db.write(cancel, event, venue[1], T0, "test")
    await db.write(start_viewing, event.id, f"reg:{venue[3]}", venue[3], T0)
    rows = await db.read(no_shows, event.id)
    assert [(row.name, row.watched_online) for row in rows] == [("参加 2", False), ("参加 3", True)]


class Ticking:
    """A monotonic clock for the memo that moves only when told: first through `times`, then stays at `now`."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)
        self.now = times[-1] if times else 0.0

    def __call__(self) -> float:
        return self.times.pop(0) if self.times else self.now


async def test_online_figures_are_computed_in_full_while_cheap(db: Database, event: Event) -> None:
    """A small event's figures are computed in full every time: the same as from every viewing."""
    memo = OnlineMemo()
    await db.write(start_viewing, event.id, "anon:a", None, T0)
    await db.write(start_viewing, event.id, "anon:b", None, T0 + 2)
    await db.write(end_viewing, event.id, "anon:b", T0 + 3)
    for at in (T0 + 5, T0 + 5, T0 + 70):
        assert (await db.read(snapshot_counts, event.slug, at, memo)).online == await db.read(
            online_figures, event.id, at
        )


async def test_costly_online_figures_are_raised_between_full_computations(db: Database, event: Event) -> None:
    """While a full computation is too costly to redo, each snapshot still has `now` and the unique viewers exact
    (a returning viewer counts once), the peak and this minute raised to `now`; once the time it cost has passed
    ten times over (or the minute turns), the figures are computed in full again."""
    ticking = Ticking(0.0, 1.0)  # the first full computation costs a second
    memo = OnlineMemo(ticking)
    memo.CHEAP = 0.0
    await db.write(start_viewing, event.id, "anon:a", None, T0)
    await db.write(end_viewing, event.id, "anon:a", T0 + 1)
    await db.read(snapshot_counts, event.slug, T0 + 2, memo)
    await db.write(start_viewing, event.id, "anon:a", None, T0 + 3)  # back: not a new viewer
    for n in range(3):
        await db.write(start_viewing, event.id, f"reg:{n}", None, T0 + 4)
    await db.write(start_viewing, event.id, "anon:x", None, T0 + 4)
    await db.write(end_viewing, event.id, "anon:x", T0 + 4.5)  # came and went: not in the peak until recomputed
    online = (await db.read(snapshot_counts, event.slug, T0 + 5, memo)).online
    exact = await db.read(online_figures, event.id, T0 + 5)
    assert (online.now, online.unique, online.unique_anonymous) == (exact.now, exact.unique, exact.unique_anonymous)
    assert (online.now, online.unique, online.peak, exact.peak) == (4, 5, 4, 5)
    assert online.series == ((T0, 4),) and exact.series == ((T0, 5),)
    assert (await db.read(snapshot_counts, event.slug, T0 + 61, memo)).online == await db.read(
        online_figures, event.id, T0 + 61
    )


async def test_costly_online_figures_are_redone_after_ten_times_their_cost(db: Database, event: Event) -> None:
    """A full computation that took a while is redone once ten times that has passed."""
    ticking = Ticking(0.0, 1.0)  # the first full computation starts at 0 and ends at 1: it cost a second
    memo = OnlineMemo(ticking)
    memo.CHEAP = 0.0
    await db.read(snapshot_counts, event.slug, T0, memo)
    await db.write(start_viewing, event.id, "anon:x", None, T0 + 1)
    await db.write(end_viewing, event.id, "anon:x", T0 + 2)
    ticking.now = 10.9
    assert (await db.read(snapshot_counts, event.slug, T0 + 3, memo)).online.peak == 0
    ticking.now = 11.0
    assert (await db.read(snapshot_counts, event.slug, T0 + 3, memo)).online.peak == 1


@pytest.mark.sqlite_only
def test_kiosk_totals_count_the_scans_logged_before_and_after(
    settings: Settings, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema v7 counts each kiosk's scans already logged, then its trigger counts every new one."""
    monkeypatch.setattr(schema, "MIGRATIONS", [entry for entry in schema.MIGRATIONS if entry[0] <= 7])
    conn = connect(settings.db_path)
    try:
        kiosk = conn.execute("INSERT INTO kiosks (event_id, name, created_at) VALUES (?, '受付1', 0)", (event.id,))

        def log(at: float) -> None:
            conn.execute(
                "INSERT INTO scans (event_id, scan_id, kiosk_id, result, scanned_at, received_at, response)"
                " VALUES (?, ?, ?, 'ok', ?, ?, '{}')",
                (event.id, f"s{at}", kiosk.lastrowid, at, at),
            )

        conn.execute("DROP TRIGGER kiosk_scan_totals_insert")
        conn.execute("DROP TABLE kiosk_scan_totals")
        # Back to version 6 for v7 only (the migrations after it are left out above, their objects stay).
        conn.execute("PRAGMA user_version = 6")
        log(T0 + 2)
        log(T0 + 1)
        migrate(conn)
        log(T0)
        [kiosk_counts] = _kiosks_of(conn, event)
    finally:
        conn.close()
    assert (kiosk_counts.scans, kiosk_counts.last_scan_at) == (3, T0 + 2)


def _kiosks_of(conn: sqlite3.Connection, event: Event) -> tuple[KioskCounts, ...]:
    return snapshot_counts(conn, event.slug, T0).kiosks
