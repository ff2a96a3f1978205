"""The door's storage: one scan per write, the scan log, exact counts, walk-ins, undo, the kiosk's copy."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from checkin import tickets
from checkin.errors import DuplicateEmail, NotCheckedIn
from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.scans import Direction, Method, ScanRequest, WalkIn
from checkin.storage import Database, schema
from checkin.storage import registrants as store
from checkin.storage.events import audit_entries, create_event, update_event
from checkin.storage.kiosk_sync import kiosk_sync
from checkin.storage.scans import Caller, counts, record_scan, register_walkin, text_hash, undo_checkin
from tests.door_helpers import code_of, register, scan_id
from tests.utils import EVENT

pytestmark = pytest.mark.both_engines

DESK = Caller("事務局")
WALKER = Application("飛込 次郎", "トビコミ ジロウ", "", "", Mode.VENUE)


def _walkin(scan_id: str, app: Application = WALKER, **fields: object) -> WalkIn:
    return WalkIn(app, ScanRequest(scan_id, method=Method.WALKIN, **fields))  # type: ignore[arg-type]


def _scan(db: Database, event: Event, now: float, **fields: object) -> dict[str, object]:
    request = ScanRequest(scan_id=str(fields.pop("scan_id", scan_id())), **fields)  # type: ignore[arg-type]
    return db.write_sync(record_scan, event, request, DESK, now).body


def _rows(conn: sqlite3.Connection, sql: str, *args: object) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def test_every_attempt_is_logged_with_the_code_only_as_a_hash(db: Database, event: Event) -> None:
    """Good and bad scans are all rows of the log; the code appears nowhere, only its SHA-256."""
    code = code_of(register(db, event, 1)[0])
    now = time.time()
    for raw in (code, code, "garbage ＱＲ", code[:-3]):
        _scan(db, event, now, code=raw)
    rows = db.read_sync(_rows, "SELECT * FROM scans ORDER BY id")
    assert [row["result"] for row in rows] == ["ok", "already_checked_in", "invalid", "invalid"]
    assert rows[0]["code_hash"] == tickets.code_hash(code) == text_hash(code.lower())
    assert all(row["kiosk"] == "事務局" and row["method"] == "camera" for row in rows)
    assert all(code not in " ".join(str(value) for value in tuple(row)) for row in rows)


def test_retry_with_the_same_scan_id_returns_the_first_answer(db: Database, event: Event) -> None:
    """A repeated scan_id gets the stored answer and records nothing new."""
    people = register(db, event, 2)
    first = _scan(db, event, time.time(), code=code_of(people[0]), scan_id="same")
    again = db.write_sync(record_scan, event, ScanRequest("same", code=code_of(people[1])), DESK, time.time())
    assert again.body == first and not again.recorded
    assert db.read_sync(counts, event.id).checked_in == 1


def test_counts_stay_exact_through_entry_exit_reentry_and_undo(db: Database, event: Event) -> None:
    """The trigger-kept counts equal a fresh count of attendance after every kind of change."""
    people = register(db, event, 3)
    now = time.time()
    for person in people:
        _scan(db, event, now, code=code_of(person))
    _scan(db, event, now + 1, code=code_of(people[0]), direction=Direction.OUT)
    _scan(db, event, now + 2, code=code_of(people[1]), direction=Direction.OUT)
    _scan(db, event, now + 3, code=code_of(people[1]))
    db.write_sync(undo_checkin, event, people[2].registrant.id, "事務局", now + 4)
    figures = db.read_sync(counts, event.id)
    fresh = db.read_sync(_rows, "SELECT COUNT(*), SUM(inside) FROM attendance WHERE event_id = ?", event.id)[0]
    assert (figures.checked_in, figures.in_hall) == (fresh[0], fresh[1]) == (2, 1)


def test_earlier_offline_scan_takes_the_first_check_in_and_the_later_becomes_duplicate(
    db: Database, event: Event
) -> None:
    """Two kiosks admitted one person offline; the later one synced first: the earlier stands."""
    code = code_of(register(db, event, 1)[0])
    now = time.time()
    later = _scan(db, event, now, code=code, scanned_at=now - 60, offline_decision="ok")
    earlier = _scan(db, event, now + 1, code=code, scanned_at=now - 120, offline_decision="ok")
    assert later["result"] == earlier["result"] == "ok"
    assert "earlier_scan_stands" in earlier["warnings"]  # type: ignore[operator]
    results = [row["result"] for row in db.read_sync(_rows, "SELECT result FROM scans ORDER BY id")]
    assert results == ["duplicate", "ok"]
    attendance = db.read_sync(_rows, "SELECT * FROM attendance")
    assert len(attendance) == 1 and attendance[0]["first_checked_in_at"] == pytest.approx(now - 120)
    assert any(row["action"] == "scan.flagged" for row in db.read_sync(audit_entries, event.id))


def test_ticket_of_another_event_found_in_the_database_is_wrong_event(db: Database, event: Event) -> None:
    """A code whose tag matches ours but whose ticket belongs to another event is wrong_event."""
    other = db.write_sync(create_event, replace(EVENT, slug="other"), time.time())
    app = Application("他 人", "タ ニン", "o@example.jp", "", Mode.VENUE)
    foreign = db.write_sync(store.register, other, app, time.time(), new_code=lambda _slug: tickets.new_code("sympo"))
    assert _scan(db, event, time.time(), code=code_of(foreign))["result"] == "wrong_event"
    assert _scan(db, event, time.time(), registrant_id=foreign.registrant.id)["result"] == "unknown"


def test_walkins_without_email_are_each_registered_and_admitted(db: Database, event: Event) -> None:
    """Two walk-ins without e-mail both get in (distinct keys), with a ticket and source walkin."""
    now = time.time()
    first = db.write_sync(register_walkin, event, _walkin("w1"), DESK, now).body
    second = db.write_sync(register_walkin, event, _walkin("w2"), DESK, now).body
    assert first["result"] == second["result"] == "ok"
    rows = db.read_sync(
        _rows, "SELECT r.source, r.status, t.code FROM registrants r JOIN tickets t ON t.registrant_id = r.id"
    )
    assert [(row["source"], row["status"]) for row in rows] == [("walkin", "registered")] * 2
    scans = db.read_sync(_rows, "SELECT method, result FROM scans")
    assert [(row["method"], row["result"]) for row in scans] == [(Method.WALKIN.value, "ok")] * 2


def test_walkin_into_a_full_hall_registers_nobody(db: Database, event: Event) -> None:
    """With no free seat a walk-in is venue_full and no registrant is made; the attempt is logged."""
    db.write_sync(update_event, event.slug, {"capacity": 0}, "test", time.time())
    body = db.write_sync(register_walkin, event, _walkin("w1"), DESK, time.time()).body
    assert body["result"] == "venue_full" and "registrant" not in body
    refused = _walkin("w2", offline_decision="venue_full", scanned_at=time.time() - 60)
    assert db.write_sync(register_walkin, event, refused, DESK, time.time()).body["result"] == "venue_full"
    assert db.read_sync(_rows, "SELECT COUNT(*) FROM registrants")[0][0] == 0
    assert [row[0] for row in db.read_sync(_rows, "SELECT result FROM scans")] == ["venue_full"] * 2


def test_walkin_admitted_offline_is_registered_even_into_a_full_hall(db: Database, event: Event) -> None:
    """An offline kiosk let a walk-in in: they are registered at the time scanned, flagged over_capacity."""
    db.write_sync(update_event, event.slug, {"capacity": 0}, "test", time.time())
    then = time.time() - 120
    body = db.write_sync(
        register_walkin, event, _walkin("w1", offline_decision="ok", scanned_at=then), DESK, time.time()
    ).body
    assert (body["result"], body["warnings"], body["checked_in"]) == ("ok", ["walkin", "hall_full", "over_capacity"], 1)
    first = db.read_sync(_rows, "SELECT first_checked_in_at FROM attendance")[0][0]
    assert first == pytest.approx(then)


def test_walkin_with_a_registered_email_is_refused(db: Database, event: Event) -> None:
    """A walk-in giving an e-mail that is already registered is 409 duplicate_email: search for them."""
    register(db, event, 1)
    with pytest.raises(DuplicateEmail):
        db.write_sync(register_walkin, event, _walkin("w1", replace(WALKER, email="p0@example.jp")), DESK, time.time())


def test_walkin_is_registered_while_registration_is_closed_and_audited_as_the_kiosk(db: Database, event: Event) -> None:
    """The door registers walk-ins after the form closed; the audit names the kiosk and the source walkin."""
    db.write_sync(update_event, event.slug, {"registration_open": False}, "test", time.time())
    body = db.write_sync(register_walkin, event, _walkin("w1"), DESK, time.time()).body
    assert body["result"] == "ok" and body["registrant"]["ref_no"].startswith("W")
    entry = next(row for row in db.read_sync(audit_entries, event.id) if row["action"] == "registrant.create")
    assert (entry["actor"], json.loads(entry["detail"])) == ("事務局", {"status": "registered", "source": "walkin"})


def test_undo_is_audited_and_a_second_undo_is_not_checked_in(db: Database, event: Event) -> None:
    """Undo removes the check-in, writes checkin.undo to the audit log; again: NotCheckedIn."""
    person = register(db, event, 1)[0]
    _scan(db, event, time.time(), code=code_of(person))
    db.write_sync(undo_checkin, event, person.registrant.id, "受付1", time.time())
    entry = next(row for row in db.read_sync(audit_entries, event.id) if row["action"] == "checkin.undo")
    assert entry["actor"] == "受付1" and json.loads(entry["detail"])["first_kiosk"] == "事務局"
    with pytest.raises(NotCheckedIn):
        db.write_sync(undo_checkin, event, person.registrant.id, "受付1", time.time())


def test_sync_full_then_delta_of_what_changed(db: Database, event: Event) -> None:
    """Full copy first; then only registrants whose ticket, status or attendance changed."""
    people = register(db, event, 3)
    full = db.read_sync(kiosk_sync, event, None, time.time())
    assert full["full"] and len(full["entries"]) == len(full["registrants"]) == 3
    assert {entry["hash"] for entry in full["entries"]} == {tickets.code_hash(code_of(p)) for p in people}
    _scan(db, event, time.time(), code=code_of(people[0]))
    db.write_sync(store.reissue_ticket, event, people[1].registrant.id, time.time(), "test")
    delta = db.read_sync(kiosk_sync, event, full["cursor"], time.time())
    assert not delta["full"]
    assert {r["id"] for r in delta["registrants"]} == {people[0].registrant.id, people[1].registrant.id}
    assert sorted(entry["status"] for entry in delta["entries"]) == ["revoked", "valid", "valid"]
    assert db.read_sync(kiosk_sync, event, delta["cursor"], time.time())["registrants"] == []


def test_sync_shows_cancellations_undos_and_never_codes(db: Database, event: Event) -> None:
    """A cancelled registrant's ticket turns revoked, an undo clears checked_in_at; no code is ever sent."""
    people = register(db, event, 2)
    _scan(db, event, time.time(), code=code_of(people[0]))
    cursor = db.read_sync(kiosk_sync, event, None, time.time())["cursor"]
    db.write_sync(undo_checkin, event, people[0].registrant.id, "事務局", time.time())
    db.write_sync(store.cancel, event, people[1].registrant.id, time.time(), "test")
    delta = db.read_sync(kiosk_sync, event, cursor, time.time())
    by_id = {r["id"]: r for r in delta["registrants"]}
    assert by_id[people[0].registrant.id]["checked_in_at"] is None
    assert by_id[people[1].registrant.id]["status"] == "cancelled"
    assert [e["status"] for e in delta["entries"] if e["registrant"]["id"] == people[1].registrant.id] == ["revoked"]
    text = json.dumps(delta, ensure_ascii=False)
    assert all(code_of(p) not in text for p in people)


def test_sync_cursor_that_cannot_continue_gets_everything(db: Database, event: Event) -> None:
    """Garbage, future and pre-deletion cursors give a full copy."""
    people = register(db, event, 2)
    cursor = db.read_sync(kiosk_sync, event, None, time.time())["cursor"]
    for bad in ("abc", "-1", "99999999", "1" * 40):
        assert db.read_sync(kiosk_sync, event, bad, time.time())["full"]
    db.write_sync(lambda conn: conn.execute("DELETE FROM registrants WHERE id = ?", (people[0].registrant.id,)))
    again = db.read_sync(kiosk_sync, event, cursor, time.time())
    assert again["full"] and len(again["registrants"]) == 1


def test_upgrade_to_v5_backfills_counts_of_existing_attendance(tmp_path: Path) -> None:
    """A database from before the counts table gets exact counts for every event, and new events a row."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    saved = list(schema.MIGRATIONS)
    schema.MIGRATIONS[:] = [entry for entry in saved if entry[0] < 5]
    try:
        schema.migrate(conn)
    finally:
        schema.MIGRATIONS[:] = saved
    conn.execute(
        "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES ('a', 't', 0, 1, 5, 0),"
        " ('b', 't', 0, 1, 5, 0)"
    )
    conn.execute(
        "INSERT INTO registrants (event_id, ref_no, name, email, email_key, mode, status, created_at, updated_at)"
        " VALUES (1, 'R1', 'n', 'e', 'e', 'venue', 'registered', 0, 0),"
        " (1, 'R2', 'n', 'f', 'f', 'venue', 'registered', 0, 0)"
    )
    conn.execute("INSERT INTO attendance VALUES (1, 1, 0, '', 1, 0), (2, 1, 0, '', 0, 0)")
    assert schema.migrate(conn) >= 5
    conn.execute(
        "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES ('c', 't', 0, 1, 5, 0)"
    )
    assert conn.execute("SELECT * FROM attendance_counts ORDER BY event_id").fetchall() == [
        (1, 2, 1),
        (2, 0, 0),
        (3, 0, 0),
    ]


def _full_with_waiting_list(db: Database, event: Event, seats: int, hall: int | None) -> tuple[list[int], int]:
    """`seats` registered venue registrants and one waitlisted; the hall capacity set to `hall`."""
    db.write_sync(update_event, event.slug, {"capacity": seats, "hall_capacity": hall}, "test", time.time())
    seated = [person.registrant.id for person in register(db, event, seats)]
    waiting = register(db, event, 1, start=seats)[0].registrant
    assert waiting.status.value == "waitlisted"
    return seated, waiting.id


def test_waitlisted_scan_is_logged_but_admits_nobody(db: Database, event: Event) -> None:
    """A waitlisted person's scan answers waitlisted: no check-in, one row in the scan log."""
    _, waiting = _full_with_waiting_list(db, event, 2, 5)
    body = _scan(db, event, time.time(), registrant_id=waiting)
    assert (body["result"], body["in_hall"], body["hall_capacity"]) == ("waitlisted", 0, 5)
    assert db.read_sync(counts, event.id).checked_in == 0
    assert [tuple(row) for row in db.read_sync(_rows, "SELECT registrant_id, result FROM scans")] == [
        (waiting, "waitlisted")
    ]


def test_admit_of_a_waitlisted_person_with_room_checks_them_in_and_a_retry_changes_nothing(
    db: Database, event: Event
) -> None:
    """Staff admit (admit: true) while the hall has room: ok + waitlisted; the same scan_id again repeats it."""
    _, waiting = _full_with_waiting_list(db, event, 2, 3)
    now = time.time()
    body = _scan(db, event, now, registrant_id=waiting, admit=True, scan_id="admit-1")
    assert (body["result"], body["warnings"], body["in_hall"]) == ("ok", ["waitlisted"], 1)
    again = db.write_sync(record_scan, event, ScanRequest("admit-1", registrant_id=waiting, admit=True), DESK, now)
    assert again.body == body and not again.recorded
    assert db.read_sync(counts, event.id).in_hall == 1


def test_admit_without_room_is_venue_full_and_registered_people_still_get_in(db: Database, event: Event) -> None:
    """Hall full: an admit is venue_full (nothing recorded); a registered person is admitted with hall_full."""
    seated, waiting = _full_with_waiting_list(db, event, 2, 1)
    now = time.time()
    first = _scan(db, event, now, registrant_id=seated[0])
    assert (first["result"], first["warnings"]) == ("ok", ["hall_full"])
    refused = _scan(db, event, now, registrant_id=waiting, admit=True)
    assert (refused["result"], refused["in_hall"]) == ("venue_full", 1)
    second = _scan(db, event, now, registrant_id=seated[1])
    assert (second["result"], second["warnings"], second["in_hall"]) == ("ok", ["hall_full", "over_capacity"], 2)
    flagged = db.read_sync(audit_entries, event.id)
    assert [entry["action"] for entry in flagged if entry["action"] == "scan.flagged"] == ["scan.flagged"]


def test_walkin_needs_room_in_the_hall_not_a_registration_seat(db: Database, event: Event) -> None:
    """Walk-ins go in while in_hall < hall capacity (even past the registration capacity), then venue_full."""
    _full_with_waiting_list(db, event, 1, 2)
    now = time.time()
    assert db.write_sync(register_walkin, event, _walkin("w1"), DESK, now).body["warnings"] == ["walkin"]
    filled = db.write_sync(register_walkin, event, _walkin("w2", replace(WALKER, name="飛込 三郎")), DESK, now).body
    assert (filled["result"], filled["warnings"], filled["in_hall"]) == ("ok", ["walkin", "hall_full"], 2)
    refused = db.write_sync(register_walkin, event, _walkin("w3"), DESK, now).body
    assert (refused["result"], refused["in_hall"], refused["hall_capacity"]) == ("venue_full", 2, 2)


def test_offline_copy_carries_the_registrants_status(db: Database, event: Event) -> None:
    """The kiosk's copy gives each ticket's registrant status, so an offline kiosk can answer waitlisted."""
    register(db, event, 1)
    copy = db.read_sync(kiosk_sync, event, None, time.time())
    assert copy["entries"][0]["registrant"]["status"] == "registered"
    assert copy["event"]["hall_capacity"] == event.capacity
