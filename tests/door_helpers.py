"""Helpers for the door's tests: registrants with tickets, kiosk tokens, scans."""

from __future__ import annotations

import time
import uuid

from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.storage import Engine
from checkin.storage import registrants as store
from checkin.storage.registrants import Registration


def register(db: Engine, event: Event, count: int, mode: Mode = Mode.VENUE, start: int = 0) -> list[Registration]:
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
