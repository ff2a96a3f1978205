"""Registrants in and out of files: the import (one transaction) and the rows of the attendance report."""

from __future__ import annotations

from dataclasses import replace

from checkin.csvio import BadRow, ExportRow, ImportReport, ImportRow, KeptRow, ParsedFile, Problem, keep_lost_characters
from checkin.errors import CheckinError, EventPurged, ImportRejected, RefConflict
from checkin.models import Event, Registrant, Status
from checkin.storage.events import audit, get_event_by_id
from checkin.storage.registrants import (
    find_by_email,
    promote_waitlist,
    register,
    registrant_from_row,
    update_registrant,
)
from checkin.storage.sql import Connection
from checkin.storage.viewing import watch_summary


def purged_at(conn: Connection, event_id: int) -> float | None:
    """When the event's personal data was purged, or None."""
    row = conn.execute("SELECT purged_at FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else row["purged_at"]


def find_by_ref(conn: Connection, event_id: int, ref_no: str) -> Registrant | None:
    row = conn.execute("SELECT * FROM registrants WHERE event_id = ? AND ref_no = ?", (event_id, ref_no)).fetchone()
    return None if row is None else registrant_from_row(row)


def _unchanged(registrant: Registrant, row: ImportRow) -> bool:
    app = row.app
    return (registrant.name, registrant.kana, registrant.email, registrant.organisation, registrant.mode) == (
        app.name,
        app.kana,
        app.email,
        app.organisation,
        app.mode,
    )


def _apply_row(
    conn: Connection, event: Event, row: ImportRow, now: float, actor: str
) -> tuple[str, str, tuple[str, ...]]:
    """Create or update one registrant: (created, waitlisted, updated or unchanged; its reference number;
    the fields whose stored values were kept because the file's encoding had lost characters of them)."""
    by_ref = find_by_ref(conn, event.id, row.ref_no) if row.ref_no else None
    by_email = find_by_email(conn, event.id, row.app.email_key)
    if by_ref is not None and by_email is not None and by_ref.id != by_email.id:
        raise RefConflict("the reference number and the e-mail address belong to two registrants")
    existing = by_ref or by_email
    if existing is None:
        created = register(conn, event, row.app, now, source="import", ref_no=row.ref_no or None, enforce_open=False)
        waiting = created.registrant.status is Status.WAITLISTED
        return "waitlisted" if waiting else "created", created.registrant.ref_no, ()
    app, kept = keep_lost_characters(existing, row.app)
    row = replace(row, app=app)
    if _unchanged(existing, row):
        return "unchanged", existing.ref_no, kept
    update_registrant(conn, event, existing.id, row.app, now, actor)
    return "updated", existing.ref_no, kept


def apply_import(
    conn: Connection, event: Event, parsed: ParsedFile, now: float, *, skip_bad_rows: bool, actor: str
) -> ImportReport:
    """Import every good row in this one transaction; ImportRejected (all rolled back) on a bad one unless skipping."""
    if purged_at(conn, event.id) is not None:
        raise EventPurged("このイベントの個人情報は削除済みです / this event's personal data has been purged")
    current = get_event_by_id(conn, event.id)
    tally = {"created": 0, "waitlisted": 0, "updated": 0, "unchanged": 0}
    waitlisted: list[str] = []
    bad: list[BadRow] = list(parsed.bad)
    kept: list[KeptRow] = []
    for row in parsed.rows:
        conn.execute("SAVEPOINT import_row")
        try:
            outcome, ref_no, kept_fields = _apply_row(conn, current, row, now, actor)
        except CheckinError as exc:  # a plain Conflict is update_registrant's "no seat left"
            conn.execute("ROLLBACK TO import_row")
            conn.execute("RELEASE import_row")
            bad.append(BadRow(row.line, (Problem("row", "seat" if exc.code == "conflict" else exc.code),)))
            continue
        conn.execute("RELEASE import_row")
        tally[outcome] += 1
        if kept_fields:
            kept.append(KeptRow(row.line, kept_fields))
        if outcome == "waitlisted":
            waitlisted.append(ref_no)
    report = ImportReport(
        encoding=parsed.encoding,
        written=True,
        created=tally["created"] + tally["waitlisted"],
        updated=tally["updated"],
        unchanged=tally["unchanged"],
        waitlisted=tuple(waitlisted),
        bad=tuple(sorted(bad, key=lambda b: b.line)),
        ignored_columns=parsed.ignored_columns,
        kept=tuple(kept),
    )
    if report.bad and not skip_bad_rows:
        rejected = replace(report, written=False, created=0, updated=0, unchanged=0, waitlisted=(), kept=())
        raise ImportRejected(rejected)
    promoted = promote_waitlist(conn, current, now)
    audit(
        conn, event.id, now, actor, "registrants.import", "", dict(tally, bad=len(report.bad), promoted=len(promoted))
    )
    return replace(report, promoted=tuple(p.registrant.ref_no for p in promoted))


def export_rows(conn: Connection, event_id: int) -> list[ExportRow]:
    """Every registrant with their current ticket code, first check-in and online watch time, by reference number."""
    watched = watch_summary(conn, event_id)
    rows = conn.execute(
        "SELECT r.*, t.code AS ticket_code, a.first_checked_in_at FROM registrants r"
        " LEFT JOIN tickets t ON t.registrant_id = r.id AND t.revoked_at IS NULL"
        " LEFT JOIN attendance a ON a.registrant_id = r.id"
        " WHERE r.event_id = ? ORDER BY r.ref_no, r.id",
        (event_id,),
    ).fetchall()
    return [
        ExportRow(
            registrant=registrant_from_row(row),
            ticket_code=row["ticket_code"],
            first_checked_in_at=row["first_checked_in_at"],
            watched_seconds=watched[row["id"]].seconds if row["id"] in watched else 0.0,
        )
        for row in rows
    ]
