"""Registrants and their tickets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from checkin import tickets
from checkin.errors import Conflict, DuplicateEmail, NotFound, RegistrantNotFound, RegistrationClosed, TicketRevoked
from checkin.models import Event, Mode, Registrant, Status, Ticket
from checkin.registration import Application, decide_status, search_text
from checkin.storage.events import audit, get_event, get_event_by_id
from checkin.storage.sql import Connection, Row
from checkin.text import search_key

NewCode = Callable[[str], str]
# Longer than any ticket code: such a code is looked up nowhere (`live_ticket`).
MAX_CODE = 64


@dataclass(frozen=True)
class Registration:
    """A registrant with its current ticket (None while waitlisted or cancelled)."""

    registrant: Registrant
    ticket: Ticket | None
    promoted: tuple[Registration, ...] = ()


def registrant_from_row(row: Row) -> Registrant:
    return Registrant(
        id=row["id"],
        event_id=row["event_id"],
        ref_no=row["ref_no"],
        name=row["name"],
        kana=row["kana"],
        email=row["email"],
        organisation=row["organisation"],
        mode=Mode(row["mode"]),
        status=Status(row["status"]),
        created_at=row["created_at"],
        source=row["source"],
    )


def ticket_from_row(row: Row) -> Ticket:
    return Ticket(
        id=row["id"],
        registrant_id=row["registrant_id"],
        code=row["code"],
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
    )


def seats_taken(conn: Connection, event_id: int) -> int:
    """Venue seats held by registered venue registrants."""
    row = conn.execute(
        "SELECT COUNT(*) FROM registrants WHERE event_id = ? AND mode = 'venue' AND status = 'registered'",
        (event_id,),
    ).fetchone()
    return int(row[0])


def find_by_email(conn: Connection, event_id: int, email_key: str) -> Registrant | None:
    row = conn.execute(
        "SELECT * FROM registrants WHERE event_id = ? AND email_key = ? AND status != 'cancelled'",
        (event_id, email_key),
    ).fetchone()
    return None if row is None else registrant_from_row(row)


@dataclass(frozen=True)
class Walkin:
    """A walk-in (当日参加) registered by a kiosk, which has already found room in the hall for them."""

    scan_id: str
    kiosk: str

    def email_key(self, app: Application) -> str:
        """The person's e-mail key; without an e-mail, a key of its own keeps the row unique."""
        return app.email_key or f"walk-in:{self.scan_id}"


def register(
    conn: Connection,
    event: Event,
    app: Application,
    now: float,
    *,
    source: str = "web",
    ref_no: str | None = None,
    waitlist: bool | None = None,
    new_code: NewCode = tickets.new_code,
    enforce_open: bool = True,
    address: str | None = None,
    walkin: Walkin | None = None,
) -> Registration:
    """Register one person within capacity (the writer thread serialises this, so seats never oversell).

    `address`: the client address a web registration came from (kept for organisers only).
    `walkin`: registered at the door, open or not and whatever the capacity, with source `walkin`."""
    current = get_event_by_id(conn, event.id)
    if enforce_open and walkin is None and not current.registration_open:
        raise RegistrationClosed("registration is closed")
    key = app.email_key if walkin is None else walkin.email_key(app)
    if find_by_email(conn, event.id, key) is not None:
        raise DuplicateEmail("this e-mail address is already registered")
    detail: dict[str, object]
    if walkin is None:
        allow_waitlist = current.waitlist_enabled if waitlist is None else waitlist and current.waitlist_enabled
        status = decide_status(app.mode, seats_taken(conn, event.id), current.capacity, allow_waitlist)
        actor, detail = source, {"status": status.value}
    else:
        status, source, actor = Status.REGISTERED, "walkin", walkin.kiosk
        detail = {"status": status.value, "source": source}
    cur = conn.execute(
        "INSERT INTO registrants (event_id, ref_no, name, kana, email, email_key, organisation, mode, status,"
        " source, created_at, updated_at, client_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            ref_no or f"tmp-{now}-{key}",
            app.name,
            app.kana,
            app.email,
            key,
            app.organisation,
            app.mode.value,
            status.value,
            source,
            now,
            now,
            address,
        ),
    )
    registrant_id = int(cur.lastrowid or 0)
    if ref_no is None:
        ref_no = f"W{registrant_id:07d}"
        conn.execute("UPDATE registrants SET ref_no = ? WHERE id = ?", (ref_no, registrant_id))
    conn.execute("UPDATE registrants SET search_key = ? WHERE id = ?", (search_text(app, ref_no), registrant_id))
    ticket = issue_ticket(conn, current, registrant_id, now, new_code) if status is Status.REGISTERED else None
    audit(conn, event.id, now, actor, "registrant.create", ref_no, detail)
    return Registration(get_registrant(conn, event.id, registrant_id), ticket)


def update_registrant(
    conn: Connection, event: Event, registrant_id: int, app: Application, now: float, actor: str
) -> Registrant:
    """Change a registrant's details (import, admin); the mode change keeps capacity rules."""
    old = get_registrant(conn, event.id, registrant_id)
    other = find_by_email(conn, event.id, app.email_key)
    if other is not None and other.id != registrant_id:
        raise DuplicateEmail("this e-mail address is already registered")
    if old.mode is Mode.ONLINE and app.mode is Mode.VENUE and old.status is Status.REGISTERED:
        current = get_event_by_id(conn, event.id)
        if seats_taken(conn, event.id) >= current.capacity:
            raise Conflict("no seat left to move this registrant to the venue")
    conn.execute(
        "UPDATE registrants SET name = ?, kana = ?, email = ?, email_key = ?, organisation = ?, mode = ?,"
        " search_key = ?, updated_at = ? WHERE id = ?",
        (
            app.name,
            app.kana,
            app.email,
            app.email_key,
            app.organisation,
            app.mode.value,
            search_text(app, old.ref_no),
            now,
            registrant_id,
        ),
    )
    audit(conn, event.id, now, actor, "registrant.update", old.ref_no)
    return get_registrant(conn, event.id, registrant_id)


def issue_ticket(
    conn: Connection,
    event: Event,
    registrant_id: int,
    now: float,
    new_code: NewCode = tickets.new_code,
) -> Ticket:
    """A new ticket code for a registrant; any previous code is revoked."""
    revoke_tickets(conn, registrant_id, now, "reissued")
    code = new_code(event.slug)
    cur = conn.execute(
        "INSERT INTO tickets (registrant_id, event_id, code, code_hash, issued_at) VALUES (?, ?, ?, ?, ?)",
        (registrant_id, event.id, code, tickets.code_hash(code), now),
    )
    return Ticket(id=int(cur.lastrowid or 0), registrant_id=registrant_id, code=code, issued_at=now)


def revoke_tickets(conn: Connection, registrant_id: int, now: float, reason: str) -> None:
    """Revoke every live ticket of a registrant."""
    conn.execute(
        "UPDATE tickets SET revoked_at = ?, revoked_reason = ? WHERE registrant_id = ? AND revoked_at IS NULL",
        (now, reason, registrant_id),
    )


def reissue_ticket(conn: Connection, event: Event, registrant_id: int, now: float, actor: str) -> Ticket:
    """Re-issue: revoke the old code, make a new one (only for registered people)."""
    registrant = get_registrant(conn, event.id, registrant_id)
    if registrant.status is not Status.REGISTERED:
        raise Conflict("only registered people have a ticket")
    ticket = issue_ticket(conn, event, registrant_id, now)
    audit(conn, event.id, now, actor, "ticket.reissue", registrant.ref_no)
    return ticket


def get_registrant(conn: Connection, event_id: int, registrant_id: int) -> Registrant:
    row = conn.execute("SELECT * FROM registrants WHERE id = ? AND event_id = ?", (registrant_id, event_id)).fetchone()
    if row is None:
        raise RegistrantNotFound("no such registrant in this event")
    return registrant_from_row(row)


def current_ticket(conn: Connection, registrant_id: int) -> Ticket | None:
    row = conn.execute(
        "SELECT * FROM tickets WHERE registrant_id = ? AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
        (registrant_id,),
    ).fetchone()
    return None if row is None else ticket_from_row(row)


def registration(conn: Connection, event_id: int, registrant_id: int) -> Registration:
    return Registration(get_registrant(conn, event_id, registrant_id), current_ticket(conn, registrant_id))


@dataclass(frozen=True)
class TicketLookup:
    """What a ticket code points at: the ticket, its registrant and event."""

    ticket: Ticket
    registrant: Registrant
    event: Event


def lookup_code(conn: Connection, code: str) -> TicketLookup | None:
    """The ticket with this exact code (valid or revoked), or None."""
    row = conn.execute("SELECT * FROM tickets WHERE code = ?", (tickets.normalise(code),)).fetchone()
    if row is None:
        return None
    ticket = ticket_from_row(row)
    registrant = registrant_from_row(
        conn.execute("SELECT * FROM registrants WHERE id = ?", (ticket.registrant_id,)).fetchone()
    )
    return TicketLookup(ticket, registrant, get_event_by_id(conn, registrant.event_id))


def cancel(conn: Connection, event: Event, registrant_id: int, now: float, actor: str) -> Registration:
    """Cancel a registration, revoke its ticket, and move the first waiting person up if a seat freed."""
    registrant = get_registrant(conn, event.id, registrant_id)
    if registrant.status is Status.CANCELLED:
        return Registration(registrant, None)
    conn.execute(
        "UPDATE registrants SET status = 'cancelled', cancelled_at = ?, updated_at = ? WHERE id = ?",
        (now, now, registrant_id),
    )
    revoke_tickets(conn, registrant_id, now, "cancelled")
    audit(conn, event.id, now, actor, "registrant.cancel", registrant.ref_no)
    promoted = promote_waitlist(conn, event, now)
    return Registration(get_registrant(conn, event.id, registrant_id), None, promoted)


def promote_waitlist(conn: Connection, event: Event, now: float) -> tuple[Registration, ...]:
    """Give free seats to waiting people, first come first served."""
    current = get_event_by_id(conn, event.id)
    free = current.capacity - seats_taken(conn, event.id)
    if free <= 0:
        return ()
    rows = conn.execute(
        "SELECT id FROM registrants WHERE event_id = ? AND status = 'waitlisted' ORDER BY created_at, id LIMIT ?",
        (event.id, free),
    ).fetchall()
    promoted = []
    for row in rows:
        conn.execute("UPDATE registrants SET status = 'registered', updated_at = ? WHERE id = ?", (now, row["id"]))
        ticket = issue_ticket(conn, current, row["id"], now)
        registrant = get_registrant(conn, event.id, row["id"])
        audit(conn, event.id, now, "system", "registrant.promote", registrant.ref_no)
        promoted.append(Registration(registrant, ticket))
    return tuple(promoted)


def contains_pattern(query: str) -> str | None:
    """A LIKE pattern (ESCAPE '\\') for search keys containing the folded query; None when it folds to nothing."""
    key = search_key(query)
    if not key:
        return None
    return "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(conn: Connection, event_id: int, query: str, limit: int = 50) -> list[Registrant]:
    """Registrants whose name, reading, e-mail or reference number contains the folded query."""
    pattern = contains_pattern(query)
    if pattern is None:
        return []
    rows = conn.execute(
        "SELECT * FROM registrants WHERE event_id = ? AND search_key LIKE ? ESCAPE '\\' ORDER BY kana, id LIMIT ?",
        (event_id, pattern, limit),
    ).fetchall()
    return [registrant_from_row(row) for row in rows]


def list_registrants(
    conn: Connection, event_id: int, *, status: str | None = None, mode: str | None = None
) -> list[Registrant]:
    """Registrants of an event in reference-number order, optionally filtered."""
    sql = "SELECT * FROM registrants WHERE event_id = ?"
    params: list[object] = [event_id]
    if status:
        sql += " AND status = ?"
        params.append(status)
    if mode:
        sql += " AND mode = ?"
        params.append(mode)
    rows = conn.execute(sql + " ORDER BY ref_no", params).fetchall()
    return [registrant_from_row(row) for row in rows]


def event_and_seats(conn: Connection, slug: str) -> tuple[Event, int]:
    """An event and how many venue seats are still free."""
    event = get_event(conn, slug)
    return event, max(0, event.capacity - seats_taken(conn, event.id))


def live_ticket(conn: Connection, code: str) -> TicketLookup:
    """The ticket with this code and its holder; NotFound, or TicketRevoked once re-issued or cancelled."""
    found = lookup_code(conn, code) if len(code) <= MAX_CODE else None
    if found is None:
        raise NotFound("no such ticket")
    if not found.ticket.valid:
        raise TicketRevoked("this ticket was re-issued or cancelled")
    return found


def cancel_by_code(conn: Connection, code: str, now: float) -> tuple[Event, Registration]:
    """Cancel the registration a live ticket belongs to (and move the first waiting person up)."""
    found = live_ticket(conn, code)
    return found.event, cancel(conn, found.event, found.registrant.id, now, "registrant")
