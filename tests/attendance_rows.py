"""Rows for dashboard tests: registrants, check-ins, exits, kiosks and their scans, written as the door does."""

from __future__ import annotations

import sqlite3
import uuid

from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.storage.registrants import register


def add_registrant(conn: sqlite3.Connection, event: Event, number: int, mode: Mode, now: float) -> int:
    """A registrant (venue or online, registered or waitlisted as capacity decides); returns the id."""
    person = Application(f"参加 {number}", "サンカ", f"p{number}@example.jp", "総務省", mode)
    return register(conn, event, person, now).registrant.id


def check_in(conn: sqlite3.Connection, event: Event, registrant_id: int, at: float, kiosk: str = "受付1") -> None:
    """A first entry: the standing check-in."""
    conn.execute(
        "INSERT INTO attendance (registrant_id, event_id, first_checked_in_at, first_kiosk, inside, last_moved_at)"
        " VALUES (?, ?, ?, ?, 1, ?)",
        (registrant_id, event.id, at, kiosk, at),
    )


def undo_check_in(conn: sqlite3.Connection, registrant_id: int) -> None:
    """A mistaken check-in taken back."""
    conn.execute("DELETE FROM attendance WHERE registrant_id = ?", (registrant_id,))


def move(conn: sqlite3.Connection, registrant_id: int, inside: bool, at: float) -> None:
    """An exit (or a return) scan."""
    conn.execute(
        "UPDATE attendance SET inside = ?, last_moved_at = ? WHERE registrant_id = ?", (int(inside), at, registrant_id)
    )


def add_kiosk(conn: sqlite3.Connection, event: Event, name: str, last_seen_at: float | None, queue: int = 0) -> int:
    """A kiosk with its last heartbeat."""
    cur = conn.execute(
        "INSERT INTO kiosks (event_id, name, last_seen_at, queue_length, created_at) VALUES (?, ?, ?, ?, ?)",
        (event.id, name, last_seen_at, queue, last_seen_at or 0.0),
    )
    return int(cur.lastrowid or 0)


def record_scan(conn: sqlite3.Connection, event: Event, kiosk_id: int, at: float, result: str = "ok") -> None:
    """One scan attempt logged for a kiosk."""
    conn.execute(
        "INSERT INTO scans (event_id, scan_id, kiosk_id, result, scanned_at, received_at, response)"
        " VALUES (?, ?, ?, ?, ?, ?, '{}')",
        (event.id, str(uuid.uuid4()), kiosk_id, result, at, at),
    )
    conn.execute("UPDATE kiosks SET last_scan_at = ? WHERE id = ?", (at, kiosk_id))
