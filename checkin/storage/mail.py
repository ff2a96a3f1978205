"""E-mail sends: a claim before a message leaves, its confirmation after, and the tickets still to send.

A claim is a row with `sent_at` NULL. It is confirmed once the SMTP server accepted the message and
released when the server refused it. A claim left open (the process died mid-message) is
"interrupted": nobody knows whether that message left, so it is not sent again unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkin.models import Registrant, Ticket
from checkin.storage.registrants import current_ticket, find_by_email, registrant_from_row, ticket_from_row
from checkin.storage.sql import Connection, Row

TICKET_KINDS = ("ticket", "promoted")  # a ticket goes out once under either kind
RESEND_INTERVAL = 600.0  # seconds between two re-sends to one registrant


@dataclass(frozen=True)
class Outgoing:
    """A registrant and the ticket a message is about."""

    registrant: Registrant
    ticket: Ticket


def claim(conn: Connection, outgoing: Outgoing, kind: str, now: float) -> int | None:
    """Reserve one message; its id, or None when this ticket was already sent (or re-sent too recently)."""
    if kind == "resend":
        recent = conn.execute(
            "SELECT 1 FROM email_sends WHERE registrant_id = ? AND kind = 'resend' AND claimed_at > ?",
            (outgoing.registrant.id, now - RESEND_INTERVAL),
        ).fetchone()
        if recent is not None:
            return None
    cur = conn.execute(
        "INSERT INTO email_sends (ticket_id, registrant_id, kind, claimed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (outgoing.ticket.id, outgoing.registrant.id, kind, now),
    )
    return int(cur.lastrowid or 0) if cur.rowcount else None


def confirm(conn: Connection, send_id: int, now: float) -> None:
    """The server accepted the message."""
    conn.execute("UPDATE email_sends SET sent_at = ? WHERE id = ?", (now, send_id))


def release(conn: Connection, send_id: int) -> None:
    """The message certainly did not leave: it may be sent again."""
    conn.execute("DELETE FROM email_sends WHERE id = ? AND sent_at IS NULL", (send_id,))


def _outgoing(conn: Connection, ticket_rows: list[Row]) -> list[Outgoing]:
    found = []
    for row in ticket_rows:
        registrant = conn.execute("SELECT * FROM registrants WHERE id = ?", (row["registrant_id"],)).fetchone()
        found.append(Outgoing(registrant_from_row(registrant), ticket_from_row(row)))
    return found


def unsent(conn: Connection, event_id: int) -> list[Outgoing]:
    """Registered people whose current ticket has never been claimed for sending, by reference number."""
    rows = conn.execute(
        "SELECT t.* FROM tickets t JOIN registrants r ON r.id = t.registrant_id"
        " WHERE t.event_id = ? AND t.revoked_at IS NULL AND r.status = 'registered'"
        " AND NOT EXISTS (SELECT 1 FROM email_sends s WHERE s.ticket_id = t.id AND s.kind IN ('ticket', 'promoted'))"
        " ORDER BY r.ref_no",
        (event_id,),
    ).fetchall()
    return _outgoing(conn, rows)


def interrupted(conn: Connection, event_id: int, before: float) -> list[Outgoing]:
    """Live tickets whose sending was claimed before `before` and never confirmed nor released."""
    rows = conn.execute(
        "SELECT t.* FROM tickets t JOIN email_sends s ON s.ticket_id = t.id"
        " WHERE t.event_id = ? AND t.revoked_at IS NULL AND s.kind IN ('ticket', 'promoted')"
        " AND s.sent_at IS NULL AND s.claimed_at < ? ORDER BY t.id",
        (event_id, before),
    ).fetchall()
    return _outgoing(conn, rows)


def forget_interrupted(conn: Connection, event_id: int, before: float) -> int:
    """Drop the interrupted claims so those tickets are sent again; how many."""
    cur = conn.execute(
        "DELETE FROM email_sends WHERE sent_at IS NULL AND claimed_at < ? AND kind IN ('ticket', 'promoted')"
        " AND ticket_id IN (SELECT id FROM tickets WHERE event_id = ?)",
        (before, event_id),
    )
    return cur.rowcount


def for_resend(conn: Connection, event_id: int, email_key: str) -> Outgoing | None:
    """The registered person with this e-mail key and their current ticket, or None."""
    registrant = find_by_email(conn, event_id, email_key)
    if registrant is None:
        return None
    ticket = current_ticket(conn, registrant.id)
    return None if ticket is None else Outgoing(registrant, ticket)


def sends_of(conn: Connection, registrant_id: int) -> list[Row]:
    """The messages sent (or being sent) to one registrant, oldest first."""
    return conn.execute("SELECT * FROM email_sends WHERE registrant_id = ? ORDER BY id", (registrant_id,)).fetchall()
