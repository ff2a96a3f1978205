"""One registrant's attendance as the organisers' API shows it: ticket, check-ins and online viewing."""

from __future__ import annotations

from dataclasses import dataclass

from checkin.models import Registrant, Ticket
from checkin.storage.registrants import current_ticket, get_registrant
from checkin.storage.sql import Connection
from checkin.storage.viewing import WatchSummary, watch_summary

# The scan results that changed attendance: an entry (first or again) and an exit.
CHANGED_ATTENDANCE = ("ok", "exited")


@dataclass(frozen=True)
class CheckinEntry:
    """One scan that let the registrant in or out, and whether an undo later took it back."""

    at: float
    direction: str
    kiosk: str
    method: str
    undone: bool


@dataclass(frozen=True)
class RegistrantAttendance:
    """A registrant, their valid ticket, their check-ins (oldest first) and their online viewing."""

    registrant: Registrant
    ticket: Ticket | None
    checked_in_at: float | None
    inside: bool
    checkins: tuple[CheckinEntry, ...]
    viewing: WatchSummary | None


def registrant_attendance(conn: Connection, event_id: int, registrant_id: int) -> RegistrantAttendance:
    """Everything about one registrant's attendance; RegistrantNotFound if not of this event."""
    registrant = get_registrant(conn, event_id, registrant_id)
    attendance = conn.execute(
        "SELECT first_checked_in_at, inside FROM attendance WHERE registrant_id = ?", (registrant_id,)
    ).fetchone()
    # An undo removes the standing check-in: every scan received before it is taken back.
    last_undo = conn.execute(
        "SELECT MAX(at) FROM audit_log WHERE event_id = ? AND action = 'checkin.undo' AND subject = ?",
        (event_id, registrant.ref_no),
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT scanned_at, received_at, direction, kiosk, method FROM scans"
        f" WHERE registrant_id = ? AND event_id = ? AND result IN {CHANGED_ATTENDANCE!r} ORDER BY scanned_at, id",
        (registrant_id, event_id),
    ).fetchall()
    checkins = tuple(
        CheckinEntry(
            at=row["scanned_at"],
            direction=row["direction"],
            kiosk=row["kiosk"],
            method=row["method"],
            undone=last_undo is not None and row["received_at"] <= last_undo,
        )
        for row in rows
    )
    return RegistrantAttendance(
        registrant=registrant,
        ticket=current_ticket(conn, registrant_id),
        checked_in_at=None if attendance is None else attendance["first_checked_in_at"],
        inside=attendance is not None and bool(attendance["inside"]),
        checkins=checkins,
        viewing=watch_summary(conn, event_id).get(registrant_id),
    )
