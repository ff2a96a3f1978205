"""Purging an event's personal data: what it will touch, and the anonymisation itself (one transaction)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from checkin.storage.events import audit
from checkin.storage.sql import Connection

PURGED_NAME = "（削除済み）"
_PERSONAL_KEYS = {"name", "kana", "email", "organisation"}
_MARK = "\x01"


@dataclass(frozen=True)
class PurgeCounts:
    """How many records of each kind an event holds (those anonymised, those kept as they are)."""

    registrants: int
    tickets: int
    scans: int
    attendance: int
    viewing_intervals: int
    email_sends: int
    purged_at: float | None


def counts(conn: Connection, event_id: int) -> PurgeCounts:
    def count(table: str, where: str = "event_id = ?") -> int:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", (event_id,)).fetchone()[0])

    row = conn.execute("SELECT purged_at FROM events WHERE id = ?", (event_id,)).fetchone()
    return PurgeCounts(
        registrants=count("registrants"),
        tickets=count("tickets"),
        scans=count("scans"),
        attendance=count("attendance"),
        viewing_intervals=count("viewing_intervals"),
        email_sends=count("email_sends", "registrant_id IN (SELECT id FROM registrants WHERE event_id = ?)"),
        purged_at=row["purged_at"],
    )


def _scrub(value: object) -> object:
    """A stored JSON answer with every personal field emptied, whatever its nesting."""
    if isinstance(value, dict):
        return {key: "" if key in _PERSONAL_KEYS else _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _scrub_scans(conn: Connection, event_id: int) -> None:
    rows = conn.execute("SELECT id, response FROM scans WHERE event_id = ?", (event_id,)).fetchall()
    for row in rows:
        try:
            cleaned = json.dumps(_scrub(json.loads(row["response"])), ensure_ascii=False)
        except ValueError:
            cleaned = "{}"
        if cleaned != row["response"]:
            conn.execute("UPDATE scans SET response = ? WHERE id = ?", (cleaned, row["id"]))


def purge(conn: Connection, event_id: int, now: float, actor: str) -> PurgeCounts:
    """Replace names, readings, e-mails, organisations, reference numbers and ticket codes, and forget the
    addresses registrations came from; keep every count.

    Attendance, scans (codes only as hashes), viewing intervals and e-mail sends stay, so the
    figures of the event survive; reference numbers in the audit log follow their registrant.
    """
    before = counts(conn, event_id)
    # New reference numbers (P0000012 from the id) are made here rather than in SQL: zero-padding is
    # spelled differently by each engine. Renaming goes through a value no file can hold (control
    # characters never survive an import), so that a registrant already numbered like P0000012 cannot
    # collide with another's renaming halfway, in the registrants and in the audit log alike.
    renamed = [
        (row[0], row[1], f"P{row[0]:07d}")
        for row in conn.execute("SELECT id, ref_no FROM registrants WHERE event_id = ?", (event_id,))
    ]
    conn.executemany(
        "UPDATE audit_log SET subject = ? WHERE event_id = ? AND subject = ?",
        [(_MARK + new, event_id, old) for _, old, new in renamed],
    )
    conn.execute(
        "UPDATE audit_log SET subject = substr(subject, 2) WHERE event_id = ? AND subject LIKE ?",
        (event_id, _MARK + "%"),
    )
    conn.execute("UPDATE registrants SET ref_no = ? || id WHERE event_id = ?", (_MARK, event_id))
    conn.executemany("UPDATE registrants SET ref_no = ? WHERE id = ?", [(new, id_) for id_, _, new in renamed])
    conn.execute(
        "UPDATE registrants SET name = ?, kana = '', organisation = '',"
        " email = 'purged-' || id || '@invalid', email_key = 'purged-' || id || '@invalid', search_key = '',"
        " client_address = NULL, updated_at = ? WHERE event_id = ?",
        (PURGED_NAME, now, event_id),
    )
    conn.execute(
        "UPDATE tickets SET code = 'PURGED-' || id, revoked_at = COALESCE(revoked_at, ?),"
        " revoked_reason = COALESCE(revoked_reason, 'purged') WHERE event_id = ?",
        (now, event_id),
    )
    _scrub_scans(conn, event_id)
    conn.execute("UPDATE events SET purged_at = ?, registration_open = 0 WHERE id = ?", (now, event_id))
    detail: dict[str, object] = {k: v for k, v in asdict(before).items() if k != "purged_at"}
    audit(conn, event_id, now, actor, "event.purge", "", detail)
    return counts(conn, event_id)
