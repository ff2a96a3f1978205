"""The PostgreSQL schema is the SQLite schema: tables, columns, NOT NULL, defaults, unique keys, triggers' effects."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from checkin.models import Event, Role
from checkin.scans import Direction, ScanRequest
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.pg_schema import MIGRATIONS_PG
from checkin.storage.pgsql import to_postgres
from checkin.storage.registrants import cancel
from checkin.storage.scans import Caller, record_scan, undo_checkin
from checkin.storage.schema import MIGRATIONS
from checkin.storage.staff import create_token
from tests.conftest import seed_event
from tests.door_helpers import code_of, register
from tests.pg import fresh_database

TYPES = {"integer": "int", "bigint": "int", "real": "float", "double precision": "float", "text": "text"}
Table = dict[str, Any]


def _default(text: str | None) -> str | None:
    return None if text is None else re.sub(r"::[a-z ]+$", "", text)


def sqlite_schema(path: Path) -> dict[str, Table]:
    conn = sqlite3.connect(path)
    tables: dict[str, Table] = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        info = conn.execute(f"PRAGMA table_info({name})").fetchall()
        columns = {
            row[1]: (TYPES[row[2].lower()], bool(row[3] or row[5]), None if row[5] else _default(row[4]))
            for row in info
        }
        unique = {(tuple(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]), False)}
        for _, index, is_unique, _, partial in conn.execute(f"PRAGMA index_list({name})"):
            if is_unique:
                cols = tuple(row[2] for row in conn.execute(f"PRAGMA index_info({index})"))
                unique.add((cols, bool(partial)))
        tables[name] = {"columns": columns, "unique": unique}
    conn.close()
    return tables


def postgres_schema(url: str) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity, collation_name"
            " FROM information_schema.columns WHERE table_schema = 'public' AND table_name != 'schema_version'"
        ).fetchall()
        for table, column, data_type, nullable, default, identity, collation in rows:
            # SQLite compares text by bytes (BINARY): "C" in PostgreSQL, whatever the database's locale.
            assert data_type != "text" or collation == "C", (table, column, collation)
            entry = tables.setdefault(table, {"columns": {}, "unique": set()})
            entry["columns"][column] = (
                TYPES[data_type],
                nullable == "NO",
                None if identity == "YES" else _default(default),
            )
        indexes = conn.execute(
            "SELECT t.relname, i.indpred IS NOT NULL,"
            " ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o)"
            " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace"
            " WHERE i.indisunique AND s.nspname = 'public' AND t.relname != 'schema_version'"
        ).fetchall()
        for table, partial, columns in indexes:
            tables[table]["unique"].add((tuple(columns), partial))
    return tables


def test_both_engines_reach_the_same_schema_version() -> None:
    """A new version adds its SQLite and its PostgreSQL form together."""
    assert max(version for version, _ in MIGRATIONS_PG) == max(version for version, _ in MIGRATIONS)


def test_postgresql_tables_match_sqlite_column_by_column(settings: Settings) -> None:
    """Same tables; per column the same type family, NOT NULL and default; the same unique keys."""
    with opened(settings):
        pass
    with fresh_database(empty=True) as url:
        with opened(settings.with_db(url)):
            pass
        lite, pg = sqlite_schema(settings.db_path), postgres_schema(url)
    assert set(lite) == set(pg)
    for table in lite:
        assert lite[table]["columns"] == pg[table]["columns"], table
        assert lite[table]["unique"] == pg[table]["unique"], table


def _day(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The same changes on one engine; what the triggers keep, as rows."""
    event: Event = seed_event(settings)
    with opened(settings) as db:
        token, _ = db.write_sync(create_token, event.id, Role.KIOSK, "受付1", 1000.0)
        people = register(db, event, 4)
        kiosk = Caller("受付1", token.id)
        for n, person in enumerate(people[:3]):
            db.write_sync(record_scan, event, ScanRequest(f"in{n}", code=code_of(person)), kiosk, 2000.0 + n)
        scan = ScanRequest("out0", code=code_of(people[0]), direction=Direction.OUT)
        db.write_sync(record_scan, event, scan, kiosk, 3000.0)
        db.write_sync(undo_checkin, event, people[1].registrant.id, "admin", 3100.0)
        db.write_sync(cancel, event, people[3].registrant.id, 3200.0, "admin")
        db.write_sync(
            lambda conn: conn.execute("DELETE FROM tickets WHERE registrant_id = ?", (people[3].registrant.id,))
        )

        def state(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
            queries = {
                "attendance_counts": "SELECT event_id, checked_in, in_hall FROM attendance_counts",
                "sync_state": "SELECT seq, reset_seq FROM sync_state",
                "sync_seq": "SELECT id, sync_seq FROM registrants ORDER BY id",
                "kiosk_scan_totals": "SELECT kiosk_id, scans, last_scan_at FROM kiosk_scan_totals",
            }
            return {name: [tuple(row) for row in conn.execute(sql).fetchall()] for name, sql in queries.items()}

        return db.read_sync(state)


def test_postgresql_triggers_keep_the_same_counts_and_sequences(settings: Settings) -> None:
    """Check-ins, an exit, an undo, a cancellation and a deletion leave the same counters on both engines."""
    lite = _day(settings)
    with fresh_database() as url:
        pg = _day(replace(settings, db_url=url))
    assert lite["attendance_counts"] == [(1, 2, 1)]
    assert lite == pg


def test_one_viewers_open_viewing_is_found_by_its_own_index_entry_before_any_statistics() -> None:
    """A viewer's start, end and hand-over find its open viewing through (event, viewer), even in a database no
    ANALYZE has seen yet (the first minutes of a day): not by walking every open viewing of the event."""
    statement, _ = to_postgres(
        "UPDATE viewing_intervals SET ended_at = ? WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL"
        " AND server_id = ?"
    )
    with fresh_database() as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES ('e', 'e', 1, 2, 1, 1)"
        )
        conn.execute(
            "INSERT INTO viewing_intervals (event_id, viewer_key, started_at, last_seen_at, server_id)"
            " SELECT (SELECT id FROM events), 'anon:' || n, 1, 1, 's' FROM generate_series(1, 5000) n"
        )
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {statement}", (2.0, 1, "anon:7", "s"), prepare=True))
    # viewing_one_open, or viewing_viewer (all of one viewer's viewings: a few rows)
    assert re.search(r"Index Scan using viewing_(one_open|viewer)", plan), plan
    assert re.search(r"Index Cond: .*viewer_key", plan), plan


def test_sqlite_finds_one_viewers_open_viewing_by_its_own_index_entry(tmp_path: Path) -> None:
    """The same on SQLite."""
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        for _, script in sorted(MIGRATIONS):
            conn.executescript(script)
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN UPDATE viewing_intervals SET ended_at = 2 WHERE event_id = 1"
                " AND viewer_key = 'anon:7' AND ended_at IS NULL AND server_id = 's'"
            )
        )
    assert "viewing_one_open (event_id=? AND viewer_key=?)" in plan, plan
