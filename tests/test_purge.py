"""`checkin purge`: anonymises personal data after the event, keeps the figures, asks first."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from checkin.cli import main
from checkin.models import Event, Mode, parse_iso
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.events import audit_entries
from checkin.storage.purge import PURGED_NAME
from tests.conftest import seed_event
from tests.utils import EVENT

pytestmark = pytest.mark.both_engines


@pytest.fixture
def past(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Event:
    """An event that has ended, with the commands pointed at its database."""
    monkeypatch.setenv("CHECKIN_DB", settings.db)
    monkeypatch.setenv("CHECKIN_OUTBOX", str(settings.smtp.outbox))
    return seed_event(settings, replace(EVENT, slug="past"))


def fill(db: Database, event: Event) -> list[store.Registration]:
    """Two registrants, one checked in with a scan whose stored answer names them, one watching online."""
    now = time.time()
    people = [
        db.write_sync(
            store.register,
            event,
            Application("髙橋 﨑子", "タカハシ", f"{mode}@example.jp", "総務省", mode),
            now,
            address="203.0.113.5",
        )
        for mode in (Mode.VENUE, Mode.ONLINE)
    ]
    venue, online = (p.registrant for p in people)
    answer = {"result": "ok", "registrant": {"id": venue.id, "name": venue.name, "kana": venue.kana}}

    def records(conn: object) -> None:
        execute = conn.execute  # type: ignore[attr-defined]
        execute(
            "INSERT INTO attendance (registrant_id, event_id, first_checked_in_at, last_moved_at) VALUES (?, ?, ?, ?)",
            (venue.id, event.id, now, now),
        )
        execute(
            "INSERT INTO scans (event_id, scan_id, registrant_id, code_hash, result, scanned_at, received_at, response)"
            " VALUES (?, 's1', ?, 'hash', 'ok', ?, ?, ?)",
            (event.id, venue.id, now, now, json.dumps(answer, ensure_ascii=False)),
        )
        execute(
            "INSERT INTO viewing_intervals (event_id, viewer_key, registrant_id, started_at, last_seen_at)"
            " VALUES (?, 'r', ?, ?, ?)",
            (event.id, online.id, now, now),
        )

    db.write_sync(records)
    return people


def test_purge_anonymises_and_keeps_the_figures(
    db: Database, past: Event, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Names, e-mails, organisations, reference numbers and codes are replaced, the addresses registrations
    came from forgotten; counts and records stay."""
    people = fill(db, past)
    settings.smtp.outbox.mkdir()
    (settings.smtp.outbox / "past-0000001-ticket.eml").write_text("To: saki@example.jp")
    (settings.smtp.outbox / "other-0000001-ticket.eml").write_text("kept")
    assert main(["purge", past.slug, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "申込者 2 名" in out and "2 registrants" in out and "1 scans" in out
    rows = db.read_sync(lambda c: c.execute("SELECT * FROM registrants ORDER BY id").fetchall())
    assert [r["name"] for r in rows] == [PURGED_NAME, PURGED_NAME]
    assert all(r["kana"] == r["organisation"] == r["search_key"] == "" for r in rows)
    assert [r["client_address"] for r in rows] == [None, None]
    assert all(r["email"].endswith("@invalid") and r["ref_no"].startswith("P") for r in rows)
    assert [r["mode"] for r in rows] == ["venue", "online"]
    codes = db.read_sync(lambda c: c.execute("SELECT code, revoked_at FROM tickets").fetchall())
    assert all(row["code"].startswith("PURGED-") and row["revoked_at"] for row in codes)
    assert people[0].ticket is not None and db.read_sync(store.lookup_code, people[0].ticket.code) is None
    scan = db.read_sync(lambda c: c.execute("SELECT * FROM scans").fetchone())
    assert "髙橋" not in scan["response"] and scan["code_hash"] == "hash"
    counts = db.read_sync(
        lambda c: [c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("attendance", "viewing_intervals")]
    )
    assert counts == [1, 1]
    assert not (settings.smtp.outbox / "past-0000001-ticket.eml").exists()
    assert (settings.smtp.outbox / "other-0000001-ticket.eml").exists()
    entries = db.read_sync(audit_entries, past.id)
    assert entries[0]["action"] == "event.purge" and json.loads(entries[0]["detail"])["registrants"] == 2
    assert all(entry["subject"] != people[0].registrant.ref_no for entry in entries)
    assert db.read_sync(lambda c: c.execute("SELECT purged_at FROM events").fetchone()[0]) is not None
    assert main(["purge", past.slug, "--yes"]) == 0
    assert "already purged" in capsys.readouterr().out


def test_purge_asks_before_it_acts(
    db: Database, past: Event, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --yes it shows the plan and does nothing unless the answer is yes."""
    fill(db, past)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["purge", past.slug]) == 1
    assert "元に戻せません" in capsys.readouterr().out
    assert db.read_sync(store.list_registrants, past.id)[0].name == "髙橋 﨑子"
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["purge", past.slug]) == 0
    assert db.read_sync(store.list_registrants, past.id)[0].name == PURGED_NAME


def test_purge_refuses_before_the_event_has_ended(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An event still to come is not purged, unless --force."""
    monkeypatch.setenv("CHECKIN_DB", settings.db)
    soon = seed_event(settings, replace(EVENT, slug="soon", ends_at=parse_iso("2999-01-01T00:00:00+09:00")))
    fill(db, soon)
    assert main(["purge", soon.slug, "--yes"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["purge", soon.slug, "--yes", "--force"]) == 0
