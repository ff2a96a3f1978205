"""Rows for dashboard tests, written through the door's own storage functions: registrants, scans, kiosks."""

from __future__ import annotations

import sqlite3
import uuid

from checkin.models import Event, Mode, Role
from checkin.registration import Application
from checkin.scans import Direction, Heartbeat, Method, ScanRequest
from checkin.storage import kiosks
from checkin.storage.registrants import register
from checkin.storage.scans import Caller, record_scan, undo_checkin
from checkin.storage.staff import create_token


def add_registrant(conn: sqlite3.Connection, event: Event, number: int, mode: Mode, now: float) -> int:
    """A registrant (venue or online, registered or waitlisted as capacity decides); returns the id."""
    person = Application(f"参加 {number}", "サンカ", f"p{number}@example.jp", "総務省", mode)
    return register(conn, event, person, now).registrant.id


def scan(
    conn: sqlite3.Connection,
    event: Event,
    registrant_id: int,
    at: float,
    caller: Caller | None = None,
    direction: Direction = Direction.IN,
) -> str:
    """A search-and-admit scan (or an exit) at `at`, as a kiosk or the organisers; returns the result."""
    request = ScanRequest(str(uuid.uuid4()), registrant_id=registrant_id, direction=direction, method=Method.SEARCH)
    outcome = record_scan(conn, event, request, caller or Caller("事務局"), at)
    return str(outcome.body["result"])


def check_in(conn: sqlite3.Connection, event: Event, registrant_id: int, at: float, kiosk: str = "事務局") -> None:
    """A first entry: the standing check-in."""
    assert scan(conn, event, registrant_id, at, Caller(kiosk)) == "ok"


def undo_check_in(conn: sqlite3.Connection, event: Event, registrant_id: int, at: float) -> None:
    """A mistaken check-in taken back."""
    undo_checkin(conn, event, registrant_id, "test", at)


def leave(conn: sqlite3.Connection, event: Event, registrant_id: int, at: float) -> None:
    """An exit scan."""
    scan(conn, event, registrant_id, at, direction=Direction.OUT)


def add_kiosk(conn: sqlite3.Connection, event: Event, name: str, now: float, queue: int = 0) -> Caller:
    """A kiosk token whose kiosk has beaten once at `now`; returns the caller to scan as."""
    token, _secret = create_token(conn, event.id, Role.KIOSK, name, now)
    kiosks.heartbeat(conn, event.id, token.id, name, Heartbeat(queue_length=queue), now)
    return Caller(name, token.id)
