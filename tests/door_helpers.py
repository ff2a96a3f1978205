"""Helpers for the door's tests: registrants with tickets, kiosk tokens, scans."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.registrants import Registration


@contextmanager
def opened(settings: Settings) -> Iterator[Database]:
    """A database of its own on the settings' file (alongside a running server, if any)."""
    database = Database(settings.db_path, settings.sqlite_synchronous)
    database.open()
    try:
        yield database
    finally:
        database.close()


def register(db: Database, event: Event, count: int, mode: Mode = Mode.VENUE, start: int = 0) -> list[Registration]:
    """`count` registrants of one mode, each with a ticket unless waitlisted."""
    return [
        db.write_sync(
            store.register,
            event,
            Application(f"山田 {n}郎", "ヤマダ タロウ", f"p{n}@example.jp", "総務省", mode),
            time.time(),
            enforce_open=False,
        )
        for n in range(start, start + count)
    ]


def code_of(registration: Registration) -> str:
    assert registration.ticket is not None
    return registration.ticket.code


def scan_id() -> str:
    return str(uuid.uuid4())
