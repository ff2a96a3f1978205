"""The PostgreSQL engine itself: the dialect translation, rows like sqlite3's, errors, a lost connection."""

from __future__ import annotations

import sqlite3

import pytest

from checkin.errors import AlreadyExists, StorageUnavailable
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import create_event
from checkin.storage.pg import PgDatabase
from checkin.storage.pgsql import to_postgres
from checkin.storage.sql import Connection
from tests.pg import admin_connection, fresh_database
from tests.utils import EVENT


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT a FROM t WHERE b = ? AND c LIKE '5%'", "SELECT a FROM t WHERE b = %s AND c LIKE '5%%'"),
        ("SELECT '?' || ?", "SELECT '?' || %s"),
        ("SELECT MAX(a, COALESCE(b, a)), MAX(c) FROM t", "SELECT GREATEST(a, COALESCE(b, a)), MAX(c) FROM t"),
        ("SELECT MIN(MAX(a, ?), b)", "SELECT LEAST(GREATEST(a, %s), b)"),
        ("SELECT CAST(x / ? AS INTEGER), CAST(y AS BIGINT)", "SELECT CAST(TRUNC(x / %s) AS BIGINT), CAST(y AS BIGINT)"),
        (
            "WHERE a IS ? AND b IS NOT ? AND c IS NULL",
            "WHERE a IS NOT DISTINCT FROM %s AND b IS DISTINCT FROM %s AND c IS NULL",
        ),
        ("x IN (SELECT value FROM json_each(?))", "x IN (SELECT value FROM json_array_elements_text(%s::json))"),
    ],
)
def test_the_few_dialect_differences_are_translated(sqlite: str, postgres: str) -> None:
    """Placeholders, percent signs, scalar MAX/MIN, truncating casts, NULL-safe IS and json_each."""
    assert to_postgres(sqlite) == (postgres, False)


def test_inserts_into_identity_tables_return_their_id() -> None:
    """lastrowid comes from RETURNING id, only where PostgreSQL makes the id."""
    assert to_postgres("INSERT INTO events (slug) VALUES (?)")[1] is True
    assert to_postgres("INSERT INTO attendance (registrant_id) VALUES (?)")[1] is False
    assert to_postgres("INSERT INTO scans (a) VALUES (?) RETURNING id")[1] is False


@pytest.fixture
def pg_settings(settings: Settings) -> object:
    with fresh_database() as url:
        yield settings.with_db(url)


def test_rows_answer_by_name_and_index_and_ids_come_back(pg_settings: Settings) -> None:
    """A row reads like sqlite3.Row (names case-insensitive, the first of a repeated name); lastrowid is set."""

    def work(conn: Connection) -> tuple[object, ...]:
        cur = conn.execute(
            "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES (?, 't', 0, 1, 1, 0)",
            ("x",),
        )
        row = conn.execute("SELECT id, slug AS Name, 'other' AS name, 1.5 FROM events").fetchone()
        total = conn.execute("SELECT SUM(id), SUM(capacity) FROM events").fetchone()
        return cur.lastrowid, row["ID"], row["name"], row[1], row[3], tuple(total), row.keys()

    with opened(pg_settings) as db:
        lastrowid, row_id, name, first, number, total, keys = db.write_sync(work)
    assert lastrowid == row_id == 1
    assert (name, first, number) == ("x", "x", 1.5)
    assert total == (1, 1) and all(type(value) is int for value in total)
    assert keys == ["id", "name", "?column?"]


def test_a_unique_violation_is_sqlites_integrity_error(pg_settings: Settings) -> None:
    """Storage functions catch one exception class on both engines (a second event of one slug)."""
    with opened(pg_settings) as db:
        db.write_sync(create_event, EVENT, 0.0)
        with pytest.raises(AlreadyExists):
            db.write_sync(create_event, EVENT, 0.0)

        def insert_twice(conn: Connection) -> None:
            conn.execute("INSERT INTO users (login, password_hash, created_at) VALUES ('a', 'h', 0)")
            conn.execute("INSERT INTO users (login, password_hash, created_at) VALUES ('a', 'h', 0)")

        with pytest.raises(sqlite3.IntegrityError):
            db.write_sync(insert_twice)
        assert db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]) == 0


def test_a_lost_connection_is_storage_unavailable_and_the_next_write_works(pg_settings: Settings) -> None:
    """The server ends our connections: that write is a 503 (nothing of it committed), the pool recovers."""
    with opened(pg_settings) as db:
        db.write_sync(create_event, EVENT, 0.0)
        name = pg_settings.db_url.rsplit("/", 1)[1]

        def cut_off(conn: Connection) -> None:
            conn.execute("UPDATE events SET title = 'half'")
            with admin_connection() as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute("SELECT 1")

        with pytest.raises(StorageUnavailable):
            db.write_sync(cut_off)
        titles = db.read_sync(lambda conn: [row[0] for row in conn.execute("SELECT title FROM events")])
        assert titles == [EVENT.title]


def test_an_unreachable_server_is_storage_unavailable(settings: Settings) -> None:
    """Opening a database nobody serves says so (StorageUnavailable), without a password in the message."""
    engine = PgDatabase("postgresql://someone:secret@127.0.0.1:1/nothing")
    with pytest.raises(StorageUnavailable) as raised:
        engine.open()
    assert "secret" not in str(raised.value)
