"""The PostgreSQL engine itself: the dialect translation, rows like sqlite3's, errors, a lost connection."""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import Future
from typing import Any

import psycopg
import pytest

from checkin.cli import main
from checkin.errors import AlreadyExists, StorageUnavailable
from checkin.models import Role
from checkin.settings import Settings
from checkin.storage import Engine, opened
from checkin.storage.events import create_event, get_event
from checkin.storage.kiosks import create_kiosk, list_kiosks
from checkin.storage.pg import PgDatabase
from checkin.storage.pgsql import PgConnection, to_postgres
from checkin.storage.scans import scan_with_token
from checkin.storage.sql import Connection
from checkin.web.kiosk import _admit
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register, scan_id
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
    """Storage functions catch one exception class on both engines; its text holds no personal data."""
    with opened(pg_settings) as db:
        db.write_sync(create_event, EVENT, 0.0)
        with pytest.raises(AlreadyExists):
            db.write_sync(create_event, EVENT, 0.0)

        login = "kiri" + "@ex.jp"  # built here, so the traceback's source lines do not hold it

        def insert_twice(conn: Connection) -> None:
            for _ in range(2):
                conn.execute("INSERT INTO users (login, password_hash, created_at) VALUES (?, 'h', 0)", (login,))

        with pytest.raises(sqlite3.IntegrityError) as raised:
            db.write_sync(insert_twice)
        assert login not in "".join(traceback.format_exception(raised.value))  # it would reach the log
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


def test_the_first_command_on_an_empty_database_creates_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`checkin event create --db postgresql://…` on a new database: schema, event, and a clear duplicate error."""
    with fresh_database(empty=True) as url:
        args = ["--db", url, "--title", "t", "--starts", "2023-11-27T13:30", "--ends", "2023-11-27T16:30"]
        assert main(["event", "create", "sympo", *args, "--capacity", "30", "--hall-capacity", "35"]) == 0
        assert main(["event", "create", "sympo", *args, "--capacity", "30"]) == 1
        assert "already exists" in capsys.readouterr().err
        with opened(Settings().with_db(url)) as db:
            event = db.read_sync(get_event, "sympo")
    assert (event.capacity, event.hall_limit) == (30, 35)


def test_text_sorts_by_code_point_as_on_sqlite_in_a_database_of_any_locale(settings: Settings) -> None:
    """Kiosks, reference numbers and readings list in SQLite's order even where the database collates en-US."""
    names = ["b", "B", "a", "A", "受付2", "受付10"]

    def listed(engine_settings: Settings) -> list[str]:
        event = seed_event(engine_settings)
        with opened(engine_settings) as db:
            for name in names:
                db.write_sync(create_kiosk, event.id, name, 0.0)
            return [kiosk.name for kiosk in db.read_sync(list_kiosks, event.id)]

    with fresh_database(icu_locale="en-US") as url:
        assert listed(settings.with_db(url)) == listed(settings) == sorted(names)


def test_writes_leave_no_advisory_lock_behind_whatever_their_outcome(pg_settings: Settings) -> None:
    """A committed write, one whose function raises and one PostgreSQL refuses all release the writers' lock
    (a lock left held would make the next conflicting write wait for ever)."""

    def refused(conn: Connection) -> None:
        conn.execute("SELECT no_such_column FROM events")

    with opened(pg_settings) as db:
        db.write_sync(create_event, EVENT, 0.0)
        with pytest.raises(ZeroDivisionError):
            db.write_sync(lambda conn: 1 / 0)
        with pytest.raises(Exception, match="no_such_column"):
            db.write_sync(refused)
        with admin_connection() as admin:  # this database's locks: other databases on the server may be busy
            held = admin.execute(
                "SELECT COUNT(*) FROM pg_locks JOIN pg_database ON pg_database.oid = pg_locks.database"
                " WHERE locktype = 'advisory' AND datname = %s",
                (pg_settings.db_url.rsplit("/", 1)[1],),
            ).fetchone()
    assert held == (0,)


def _hold(conn: Connection, started: threading.Event, release: threading.Event) -> None:
    started.set()
    release.wait(30)


def _busy(engine: Engine) -> threading.Event:
    """The engine's writer busy on one write until the event returned is set."""
    started, release = threading.Event(), threading.Event()
    engine.submit_write(_hold, started, release)
    assert started.wait(30)
    return release


def test_a_batch_refused_for_a_conflict_runs_again_whole_and_answers_every_caller_once(pg_settings: Settings) -> None:
    """Two processes' batches read one row and both update it: PostgreSQL refuses one at its update, and that
    batch (the notes before the update too) is rolled back and run again whole: nothing lost, nothing twice."""
    url = pg_settings.db_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tally (n INTEGER NOT NULL); INSERT INTO tally VALUES (0)")
        conn.execute("CREATE TABLE notes (name TEXT PRIMARY KEY)")
    runs: Counter[str] = Counter()
    both_read = threading.Barrier(2, timeout=30)

    def note(conn: Connection, name: str) -> str:
        runs[name] += 1
        conn.execute("INSERT INTO notes (name) VALUES (?)", (name,))
        return name

    def bump(conn: Connection, name: str) -> int:
        runs[name] += 1
        seen = int(conn.execute("SELECT n FROM tally").fetchone()[0])
        if runs[name] == 1:  # both first runs have read before either updates
            both_read.wait()
        conn.execute("UPDATE tally SET n = n + 1")
        return seen

    engines = [PgDatabase(url), PgDatabase(url)]
    futures: dict[str, Future[object]] = {}
    for engine in engines:
        engine.open()
    try:
        releases = [_busy(engine) for engine in engines]  # so what is queued next forms one batch
        for name, engine in zip("ab", engines, strict=True):
            for index in range(3):
                futures[f"{name}{index}"] = engine.submit_write(note, f"{name}{index}")
            futures[f"{name}-bump"] = engine.submit_write(bump, f"{name}-bump")
        for release in releases:
            release.set()
        answers = {name: future.result(60) for name, future in futures.items()}
    finally:
        for engine in engines:
            engine.close()
    assert {answers["a-bump"], answers["b-bump"]} == {0, 1}
    assert all(answers[name] == name for name in futures if "bump" not in name)
    again = {name[0] for name, count in runs.items() if count == 2}
    assert len(again) == 1 and all(runs[name] == (2 if name[0] in again else 1) for name in futures)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM tally").fetchone() == (2,)
        notes = [row[0] for row in conn.execute("SELECT name FROM notes ORDER BY name")]
    assert notes == ["a0", "a1", "a2", "b0", "b1", "b2"]


def test_a_first_scan_at_the_door_is_four_statements_and_no_savepoint(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each statement is a round trip to PostgreSQL on the one writer thread: a kiosk's first scan of a ticket is
    the event with its token, the scan_id's earlier answer and the token's kiosk; the ticket with the counts; and
    two inserts. A batch whose writes all succeed runs without a SAVEPOINT per write."""
    event = seed_event(pg_settings)
    secret = make_token(pg_settings, event, Role.KIOSK, "受付1")
    with opened(pg_settings) as db:
        first, second = (code_of(registration) for registration in register(db, event, 2))

        def scan(code: str) -> dict[str, object]:
            data = {"code": code, "scan_id": scan_id()}
            return db.write_sync(scan_with_token, event.slug, secret, data, time.time(), _admit).body

        assert scan(first)["result"] == "ok"  # the token's first scan makes its kiosk row
        sent: list[str] = []
        execute = PgConnection.execute

        def counted(conn: PgConnection, sql: str, parameters: Any = (), /) -> Any:
            sent.append(sql.split()[0].upper())
            return execute(conn, sql, parameters)

        monkeypatch.setattr(PgConnection, "execute", counted)
        answer = scan(second)
    assert (answer["result"], answer["checked_in"], answer["in_hall"]) == ("ok", 2, 2)
    assert sent == ["SELECT", "SELECT", "INSERT", "INSERT"]


def test_a_write_that_raises_in_a_batch_rolls_back_alone_when_the_batch_runs_again_with_savepoints(
    pg_settings: Settings,
) -> None:
    """A batch runs without savepoints first; a write of it that raises (its insert made, then an error) rolls the
    whole batch back, which runs again with a SAVEPOINT per write: the neighbours commit once, the write that raised
    leaves nothing, and every caller gets its own answer."""
    url = pg_settings.db_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (name TEXT PRIMARY KEY)")
    runs: Counter[str] = Counter()

    def note(conn: Connection, name: str) -> str:
        runs[name] += 1
        conn.execute("INSERT INTO notes (name) VALUES (?)", (name,))
        if name == "refused":
            raise ValueError("refused")
        return name

    with opened(pg_settings) as db:
        release = _busy(db)  # so what is queued next forms one batch
        futures = {name: db.submit_write(note, name) for name in ("a", "refused", "b")}
        release.set()
        with pytest.raises(ValueError, match="refused"):
            futures["refused"].result(60)
        assert (futures["a"].result(60), futures["b"].result(60)) == ("a", "b")
    with psycopg.connect(url) as conn:
        notes = [row[0] for row in conn.execute("SELECT name FROM notes ORDER BY name")]
    assert notes == ["a", "b"]
    assert runs == {"a": 2, "refused": 2, "b": 1}  # the first run ended at the write that raised
