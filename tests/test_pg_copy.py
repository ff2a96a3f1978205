"""`checkin copy-db`: a whole SQLite database into an empty PostgreSQL one, verified, and served the same."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.cli import main
from checkin.models import Event, Role
from checkin.scans import ScanRequest
from checkin.settings import Settings
from checkin.storage import copy as copy_module
from checkin.storage import mail, opened, users
from checkin.storage.copy import ORDER
from checkin.storage.scans import Caller, record_scan
from checkin.storage.staff import create_token
from checkin.storage.viewing import Server, beat
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register, scan_id
from tests.pg import fresh_database
from tests.report_seed import seed_day


def _fill(settings: Settings, event: Event) -> None:
    """A day with something in every table: registrations, a kiosk's scans, viewings, mail, a login, a server."""
    now = time.time()
    with opened(settings) as db:
        seed_day(db, event)
        token, _ = db.write_sync(create_token, event.id, Role.KIOSK, "受付2", now)
        person = register(db, event, 1, start=50)[0]
        db.write_sync(record_scan, event, ScanRequest(scan_id(), code=code_of(person)), Caller("受付2", token.id), now)
        assert person.ticket is not None
        outgoing = mail.Outgoing(person.registrant, person.ticket)
        db.write_sync(mail.claim, outgoing, "ticket", now)
        user = db.write_sync(users.create_user, "jimu", "hash", Role.ORGANISER, now)
        db.write_sync(users.create_session, user, "session-hash", "csrf", now, now + 3600)
        db.write_sync(beat, Server("server-1", "host", 1, now), now)


def _snapshot(settings: Settings, event: Event) -> dict[str, object]:
    token = make_token(settings, event, Role.ORGANISER, "copy check")
    with TestClient(create_app(settings)) as client:
        body = client.get(f"/api/v1/events/{event.slug}/stats", headers={"authorization": f"Bearer {token}"}).json()
    for moving in ("at", "seq"):
        body.pop(moving)
    return dict(body)


def test_copy_db_moves_every_table_with_equal_counts_and_checksums(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every table arrives; the printed table says the counts and checksums agree; a server on the copy agrees."""
    event = seed_event(settings)
    _fill(settings, event)
    with fresh_database(empty=True) as url:
        assert main(["copy-db", "--db", str(settings.db_path), "--to", url]) == 0
        out = capsys.readouterr().out
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.split()[0] in ORDER}
        assert set(rows) == set(ORDER)
        assert all(count == copied and verdict == "same" for count, copied, verdict in rows.values())
        assert all(int(rows[table][0]) > 0 for table in ORDER), rows
        copy = settings.with_db(url)
        assert _snapshot(copy, event) == _snapshot(settings, event)
        with opened(settings) as db:
            highest = db.read_sync(lambda conn: conn.execute("SELECT MAX(id) FROM registrants").fetchone()[0])
        with opened(copy) as db:  # the identity sequences continue after the copied ids
            assert register(db, event, 1, start=90)[0].registrant.id == highest + 1


def test_copy_db_refuses_a_target_that_is_not_empty(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second copy into the same database is refused with a clear message, and changes nothing."""
    event = seed_event(settings)
    with fresh_database(empty=True) as url:
        assert main(["copy-db", "--db", str(settings.db_path), "--to", url]) == 0
        with opened(replace(settings, db_url=url)) as db:
            register(db, event, 2)
        capsys.readouterr()
        assert main(["copy-db", "--db", str(settings.db_path), "--to", url]) == 1
        assert "not empty" in capsys.readouterr().err
        with opened(replace(settings, db_url=url)) as db:
            assert db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM registrants").fetchone()[0]) == 2


def test_copy_db_wants_an_sqlite_source_and_a_postgresql_target(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file as target, or PostgreSQL as source, is a clear error."""
    assert main(["copy-db", "--db", str(settings.db_path), "--to", "/tmp/other.db"]) == 1
    assert "postgresql://" in capsys.readouterr().err
    assert main(["copy-db", "--db", "postgresql://postgres@127.0.0.1:5432/x", "--to", "postgresql://h/y"]) == 1
    assert "SQLite" in capsys.readouterr().err


def test_a_copy_that_differs_is_rolled_back_whole(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One table whose checksum disagrees: the command fails, names it, and the target stays empty."""
    event = seed_event(settings)
    with opened(settings) as db:
        register(db, event, 3)
    real = copy_module._copy_table

    def tampered(source: Any, target: Any, table: str) -> copy_module.TableCopy:
        copied = real(source, target, table)
        return replace(copied, target_sum="0" * 64) if table == "tickets" else copied

    monkeypatch.setattr(copy_module, "_copy_table", tampered)
    with fresh_database(empty=True) as url:
        assert main(["copy-db", "--db", str(settings.db_path), "--to", url]) == 1
        captured = capsys.readouterr()
        assert "tickets" in captured.out and "DIFFERENT" in captured.out and "nothing was committed" in captured.err
        with opened(settings.with_db(url)) as db:
            assert db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]) == 0
