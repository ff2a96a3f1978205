"""Stored viewing intervals: figures and per-registrant summaries read back from the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.storage import Database, schema
from checkin.storage.registrants import register
from checkin.storage.viewing import end_viewing, online_figures, start_viewing, watch_summary

pytestmark = pytest.mark.both_engines

T0 = 1_700_000_000.0


async def test_online_figures_read_open_and_closed_intervals(db: Database, event: Event) -> None:
    """Open intervals count now and last until `now`; closed ones end at their last sign of life."""
    await db.write(start_viewing, event.id, "reg:1", None, T0)
    await db.write(start_viewing, event.id, "anon:abc", None, T0 + 10)
    await db.write(end_viewing, event.id, "anon:abc", T0 + 40)
    result = await db.read(online_figures, event.id, T0 + 100)
    assert (result.now, result.peak, result.peak_at, result.unique) == (1, 2, T0 + 10, 2)


async def test_figures_of_another_event_are_apart(db: Database, event: Event) -> None:
    """Intervals of one event never show in another's figures."""
    await db.write(start_viewing, event.id, "anon:abc", None, T0)
    assert (await db.read(online_figures, event.id + 1, T0 + 5)).unique == 0


async def test_end_viewing_never_ends_before_the_start(db: Database, event: Event) -> None:
    """An end given before the start (a clock step) leaves a zero-length interval, never a negative one."""
    await db.write(start_viewing, event.id, "anon:abc", None, T0)
    await db.write(end_viewing, event.id, "anon:abc", T0 - 30)
    result = await db.read(online_figures, event.id, T0 + 5)
    assert (result.now, result.unique) == (0, 1)


async def test_watch_summary_per_registrant(db: Database, event: Event) -> None:
    """A registrant's seconds, first join and last leave; an open interval counts to its last sign of life."""
    person = Application("視聴 太郎", "シチョウ タロウ", "taro@example.jp", "", Mode.ONLINE)
    registrant = (await db.write(register, event, person, T0)).registrant.id
    await db.write(start_viewing, event.id, f"reg:{registrant}", registrant, T0)
    await db.write(end_viewing, event.id, f"reg:{registrant}", T0 + 60)
    await db.write(start_viewing, event.id, f"reg:{registrant}", registrant, T0 + 120)
    await db.write(start_viewing, event.id, "anon:abc", None, T0)
    summary = await db.read(watch_summary, event.id)
    assert list(summary) == [registrant]
    assert summary[registrant].seconds == 60
    assert (summary[registrant].first_join, summary[registrant].last_leave) == (T0, T0 + 120)


async def test_a_viewer_has_at_most_one_open_interval(db: Database, event: Event) -> None:
    """Starting a viewer that is already open changes nothing (a repeated start is a no-op)."""
    await db.write(start_viewing, event.id, "anon:abc", None, T0)
    await db.write(start_viewing, event.id, "anon:abc", None, T0 + 5)
    rows = await db.read(lambda conn: conn.execute("SELECT started_at FROM viewing_intervals").fetchall())
    assert [row[0] for row in rows] == [T0]


def test_migration_closes_duplicate_open_intervals(tmp_path: Path) -> None:
    """Upgrading a database with two open intervals of one viewer keeps the newest open, closes the other."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for statement in schema._statements(schema.V1):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES ('s', 't', 0, 1, 1, 0)"
    )
    for started in (T0, T0 + 60):
        conn.execute(
            "INSERT INTO viewing_intervals (event_id, viewer_key, started_at, last_seen_at) VALUES (1, 'anon:a', ?, ?)",
            (started, started + 10),
        )
    assert schema.migrate(conn) >= 6
    rows = conn.execute("SELECT started_at, ended_at FROM viewing_intervals ORDER BY id").fetchall()
    assert rows == [(T0, T0 + 10), (T0 + 60, None)]
