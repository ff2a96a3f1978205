"""Queries and transactions of the organisers' pages: filtered registrant lists, a registrant's record,
settings changes that keep the capacity rule, and edits that keep seats and the waiting list right."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from checkin.eventform import EventSettings, check_capacity
from checkin.models import Event, Mode, Registrant, Status, Ticket
from checkin.registration import Application
from checkin.storage.events import audit, get_event, update_event
from checkin.storage.registrants import (
    Registration,
    contains_pattern,
    current_ticket,
    get_registrant,
    issue_ticket,
    promote_waitlist,
    registrant_from_row,
    seats_taken,
    update_registrant,
)
from checkin.storage.sql import Connection


@dataclass(frozen=True)
class RegistrantFilter:
    """What the registrant list shows: a search and optional filters."""

    query: str = ""
    mode: Mode | None = None
    status: Status | None = None
    checked_in: bool | None = None
    address: str = ""  # the client address the registrations came from (exact)


@dataclass(frozen=True)
class AddressCount:
    """Registrations made over the web from one client address: how many, how many still live, when."""

    address: str
    registrations: int
    live: int
    first_at: float
    last_at: float


@dataclass(frozen=True)
class Listed:
    """One line of the registrant list."""

    registrant: Registrant
    checked_in_at: float | None


@dataclass(frozen=True)
class RegistrantPage:
    """One page of the registrant list: its rows, how many match in all, which page of how many."""

    rows: tuple[Listed, ...]
    total: int
    number: int
    count: int


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    subject: str
    detail: dict[str, object]


@dataclass(frozen=True)
class RegistrantRecord:
    """Everything the registrant's page shows."""

    registrant: Registrant
    ticket: Ticket | None
    checked_in_at: float | None
    checked_in_kiosk: str
    inside: bool
    emails_sent: tuple[float, ...]
    history: tuple[AuditEntry, ...]


@dataclass(frozen=True)
class SettingsChange:
    """The event after a settings change, and the people it moved up from the waiting list."""

    event: Event
    promoted: tuple[Registration, ...]


def _where(event_id: int, filters: RegistrantFilter) -> tuple[str, list[object]]:
    sql = " FROM registrants r LEFT JOIN attendance a ON a.registrant_id = r.id WHERE r.event_id = ?"
    params: list[object] = [event_id]
    pattern = contains_pattern(filters.query)
    if pattern is not None:
        sql += " AND r.search_key LIKE ? ESCAPE '\\'"
        params.append(pattern)
    elif filters.query.strip():  # a search of control characters alone is a search for no one
        sql += " AND 0"
    if filters.mode is not None:
        sql += " AND r.mode = ?"
        params.append(filters.mode.value)
    if filters.status is not None:
        sql += " AND r.status = ?"
        params.append(filters.status.value)
    if filters.checked_in is not None:
        sql += " AND a.registrant_id IS NOT NULL" if filters.checked_in else " AND a.registrant_id IS NULL"
    if filters.address:
        sql += " AND r.client_address = ?"
        params.append(filters.address)
    return sql, params


def address_counts(conn: Connection, event_id: int, limit: int = 200) -> list[AddressCount]:
    """The client addresses of the event's web registrations, most registrations first."""
    rows = conn.execute(
        "SELECT client_address, COUNT(*) AS registrations, COUNT(CASE WHEN status != 'cancelled' THEN 1 END) AS live,"
        " MIN(created_at) AS first_at, MAX(created_at) AS last_at FROM registrants"
        " WHERE event_id = ? AND client_address IS NOT NULL GROUP BY client_address"
        " ORDER BY registrations DESC, last_at DESC LIMIT ?",
        (event_id, limit),
    ).fetchall()
    return [
        AddressCount(row["client_address"], row["registrations"], row["live"], row["first_at"], row["last_at"])
        for row in rows
    ]


def registrant_page(
    conn: Connection, event_id: int, filters: RegistrantFilter, number: int, per_page: int = 50
) -> RegistrantPage:
    """One page of matching registrants in reference-number order (the last page when asked past it)."""
    where, params = _where(event_id, filters)
    total = int(conn.execute("SELECT COUNT(*)" + where, params).fetchone()[0])
    count = max(1, -(-total // per_page))
    number = min(max(number, 1), count)
    rows = conn.execute(
        "SELECT r.*, a.first_checked_in_at" + where + " ORDER BY r.ref_no, r.id LIMIT ? OFFSET ?",
        [*params, per_page, (number - 1) * per_page],
    ).fetchall()
    listed = tuple(Listed(registrant_from_row(row), row["first_checked_in_at"]) for row in rows)
    return RegistrantPage(listed, total, number, count)


def audit_log(conn: Connection, event_id: int, subject: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """The latest audit entries of an event (about one subject, when given), newest first."""
    sql = "SELECT * FROM audit_log WHERE event_id = ?" + (" AND subject = ?" if subject is not None else "")
    params: list[object] = [event_id] if subject is None else [event_id, subject]
    rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
    return [
        AuditEntry(row["at"], row["actor"], row["action"], row["subject"], json.loads(row["detail"])) for row in rows
    ]


def registrant_record(conn: Connection, event_id: int, registrant_id: int) -> RegistrantRecord:
    """A registrant with ticket, check-in, e-mails sent and history; NotFound if not of this event."""
    registrant = get_registrant(conn, event_id, registrant_id)
    attendance = conn.execute("SELECT * FROM attendance WHERE registrant_id = ?", (registrant_id,)).fetchone()
    sends = conn.execute(
        "SELECT sent_at FROM email_sends WHERE registrant_id = ? AND sent_at IS NOT NULL ORDER BY sent_at",
        (registrant_id,),
    ).fetchall()
    return RegistrantRecord(
        registrant=registrant,
        ticket=current_ticket(conn, registrant_id),
        checked_in_at=None if attendance is None else attendance["first_checked_in_at"],
        checked_in_kiosk="" if attendance is None else attendance["first_kiosk"],
        inside=attendance is not None and bool(attendance["inside"]),
        emails_sent=tuple(row["sent_at"] for row in sends),
        history=tuple(audit_log(conn, event_id, registrant.ref_no, 50)),
    )


def change_settings(conn: Connection, slug: str, settings: EventSettings, actor: str, now: float) -> SettingsChange:
    """Apply the settings that changed; a lower capacity may not drop below the seats taken, and a
    higher one moves waiting people up, first come first served."""
    event = get_event(conn, slug)
    changes = {name: value for name, value in settings.changes().items() if getattr(event, name) != value}
    if "capacity" in changes:
        check_capacity(settings.capacity, seats_taken(conn, event.id))
    updated = update_event(conn, slug, changes, actor, now)
    promoted = promote_waitlist(conn, updated, now) if updated.capacity > event.capacity else ()
    return SettingsChange(updated, promoted)


def edit_registrant(
    conn: Connection, event: Event, registrant_id: int, app: Application, now: float, actor: str
) -> Registration:
    """Change a registrant's details. Moving to online gives a waiting person a ticket at once (online
    has no seat limit); a seat freed by it goes to the waiting list."""
    registrant = update_registrant(conn, event, registrant_id, app, now, actor)
    if registrant.mode is Mode.ONLINE and registrant.status is Status.WAITLISTED:
        conn.execute("UPDATE registrants SET status = 'registered', updated_at = ? WHERE id = ?", (now, registrant_id))
        issue_ticket(conn, event, registrant_id, now)
        audit(conn, event.id, now, actor, "registrant.register_online", registrant.ref_no)
    promoted = promote_waitlist(conn, event, now)
    return Registration(get_registrant(conn, event.id, registrant_id), current_ticket(conn, registrant_id), promoted)


@dataclass(frozen=True)
class Counts:
    """An event's registrants by state, and how many came in."""

    venue: int = 0
    online: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    checked_in: int = 0


def event_counts(conn: Connection, event_id: int | None = None) -> dict[int, Counts]:
    """Counts per event id, of one event or all (events without registrants are missing: use Counts())."""
    where, params = ("WHERE event_id = ?", (event_id,)) if event_id is not None else ("", ())
    arrived = dict(
        conn.execute(f"SELECT event_id, COUNT(*) FROM attendance {where} GROUP BY event_id", params).fetchall()
    )
    rows = conn.execute(
        "SELECT event_id, COUNT(CASE WHEN mode = 'venue' AND status = 'registered' THEN 1 END),"
        " COUNT(CASE WHEN mode = 'online' AND status = 'registered' THEN 1 END),"
        " COUNT(CASE WHEN status = 'waitlisted' THEN 1 END), COUNT(CASE WHEN status = 'cancelled' THEN 1 END)"
        f" FROM registrants {where} GROUP BY event_id",
        params,
    ).fetchall()
    return {row[0]: Counts(row[1], row[2], row[3], row[4], arrived.get(row[0], 0)) for row in rows}


def registrations_by_ref(conn: Connection, event_id: int, ref_nos: Sequence[str]) -> list[Registration]:
    """The registrants with these reference numbers, each with their current ticket."""
    found = []
    for ref_no in ref_nos:
        row = conn.execute("SELECT * FROM registrants WHERE event_id = ? AND ref_no = ?", (event_id, ref_no)).fetchone()
        if row is not None:
            found.append(Registration(registrant_from_row(row), current_ticket(conn, row["id"])))
    return found
