"""Events and the audit log."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields

from checkin.errors import AlreadyExists, EventNotFound
from checkin.models import Event
from checkin.storage.sql import Connection, Row

# The flyer's texts (checkin.eventform validates them): plain columns, one per field.
FLYER_TEXTS = (
    "title_en",
    "summary",
    "summary_en",
    "fee",
    "fee_en",
    "organisers",
    "organisers_en",
    "programme",
    "programme_en",
    "deadline",
    "deadline_en",
    "access",
    "access_en",
    "contact",
    "contact_en",
)

_EVENT_COLUMNS = [f.name for f in fields(Event)]
_BOOLS = {"registration_open", "waitlist_enabled", "anonymous_watch", "projector_names"}
EDITABLE = (
    "title",
    "starts_at",
    "ends_at",
    "capacity",
    "venue_name",
    "venue_address",
    "map_url",
    "stream_url",
    "registration_open",
    "waitlist_enabled",
    "anonymous_watch",
    "projector_names",
    *FLYER_TEXTS,
    "doors_open_at",
    "base_url",
    "hall_capacity",
)


def event_from_row(row: Row) -> Event:
    values = {name: row[name] for name in _EVENT_COLUMNS}
    for name in _BOOLS:
        values[name] = bool(values[name])
    return Event(**values)


def create_event(conn: Connection, event: Event, now: float, actor: str = "system") -> Event:
    """Insert an event (its id is ignored); AlreadyExists when the slug is taken."""
    columns = [name for name in _EVENT_COLUMNS if name != "id"]
    values = [getattr(event, name) for name in columns]
    try:
        cur = conn.execute(
            f"INSERT INTO events ({', '.join(columns)}, created_at) VALUES ({', '.join('?' * len(columns))}, ?)",
            [*values, now],
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"event {event.slug} already exists") from exc
    audit(conn, int(cur.lastrowid or 0), now, actor, "event.create", event.slug)
    return get_event(conn, event.slug)


def get_event(conn: Connection, slug: str) -> Event:
    """The event with this slug, or EventNotFound."""
    return event_of_slug(conn.execute("SELECT * FROM events WHERE slug = ?", (slug,)).fetchone(), slug)


def event_of_slug(row: Row | None, slug: str) -> Event:
    """The event a query by slug found (its columns first, by their names), or EventNotFound."""
    if row is None:
        raise EventNotFound(f"no event {slug!r}")
    return event_from_row(row)


def get_event_by_id(conn: Connection, event_id: int) -> Event:
    row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise EventNotFound(f"no event #{event_id}")
    return event_from_row(row)


def list_events(conn: Connection) -> list[Event]:
    return [event_from_row(row) for row in conn.execute("SELECT * FROM events ORDER BY starts_at DESC")]


def update_event(conn: Connection, slug: str, changes: dict[str, object], actor: str, now: float) -> Event:
    """Change the editable settings of an event."""
    event = get_event(conn, slug)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        conn.execute(f"UPDATE events SET {assignments} WHERE id = ?", [*changes.values(), event.id])
        audit(conn, event.id, now, actor, "event.update", slug, {k: str(v) for k, v in changes.items()})
    return get_event(conn, slug)


def audit(
    conn: Connection,
    event_id: int | None,
    now: float,
    actor: str,
    action: str,
    subject: str = "",
    detail: dict[str, object] | None = None,
) -> None:
    """Append one line to the audit log (never personal data in `detail`)."""
    conn.execute(
        "INSERT INTO audit_log (event_id, at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, now, actor, action, subject, json.dumps(detail or {}, ensure_ascii=False)),
    )


def audit_entries(conn: Connection, event_id: int, limit: int = 200) -> list[Row]:
    return conn.execute(
        "SELECT * FROM audit_log WHERE event_id = ? ORDER BY id DESC LIMIT ?", (event_id, limit)
    ).fetchall()
